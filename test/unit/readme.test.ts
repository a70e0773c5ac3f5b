import { describe, expect, it } from 'vitest';
import readme from '../../README.md?raw';
import { ORG_ROLES, PERMISSIONS, orgRolesFor, projectRolesFor } from '../../src/lib/permissions.ts';

/** The README documents the permission matrix; this keeps the document and the code in step. */
describe('README permission matrix', () => {
  it('matches src/lib/permissions.ts row for row', () => {
    const table = readme.split('<!-- permission-matrix:start -->')[1]?.split('<!-- permission-matrix:end -->')[0] ?? '';
    const rows = table
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
    const expected = PERMISSIONS.map((permission) => [
      `\`${permission}\``,
      ...ORG_ROLES.map((role) => (orgRolesFor(permission).includes(role) ? '✓' : '')),
      projectRolesFor(permission).join(', '),
    ]);
    expect(rows).toEqual(expected);
  });
});
