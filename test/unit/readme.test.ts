import { describe, expect, it } from 'vitest';
import readme from '../../README.md?raw';
import { ORG_ROUTE_CLASSES, QUOTA_RESOURCES, QUOTAS, RATE_LIMITS, ROOM_LIMITS, TIERS } from '../../src/lib/limits.ts';
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

/** The README's limits table (tiers × route classes and quotas) is src/lib/limits.ts, figure for figure. */
describe('README limits table', () => {
  it('matches RATE_LIMITS and QUOTAS row for row', () => {
    const table = readme.split('<!-- limits-table:start -->')[1]?.split('<!-- limits-table:end -->')[0] ?? '';
    const cells = (line: string) => line.split('|').slice(1, -1).map((cell) => cell.trim());
    const [header, , ...rows] = table.split('\n').filter((line) => line.startsWith('|'));
    expect(cells(header ?? '')).toEqual(['tier', ...ORG_ROUTE_CLASSES.map((routeClass) => `${routeClass} /min`), ...QUOTA_RESOURCES]);
    const figure = (n: number) => n.toLocaleString('en-US');
    const expected = TIERS.map((tier) => [`\`${tier}\``, ...ORG_ROUTE_CLASSES.map((c) => figure(RATE_LIMITS[tier][c])), ...QUOTA_RESOURCES.map((r) => figure(QUOTAS[tier][r]))]);
    expect(rows.map(cells)).toEqual(expected);
  });
});

/** The README's realtime rooms limits table is ROOM_LIMITS, figure for figure. */
describe('README room limits table', () => {
  it('matches ROOM_LIMITS', () => {
    const table = readme.split('<!-- room-limits:start -->')[1]?.split('<!-- room-limits:end -->')[0] ?? '';
    const figures = table
      .split('\n')
      .filter((line) => line.startsWith('| ') && !line.startsWith('| limit'))
      .map((line) => line.split('|')[2]?.trim());
    const figure = (n: number) => n.toLocaleString('en-US');
    expect(figures).toEqual(
      [ROOM_LIMITS.connectionsPerRoom, ROOM_LIMITS.messageBytes, ROOM_LIMITS.messagesPerSecond, ROOM_LIMITS.historyMessages, ROOM_LIMITS.helloBytes, ROOM_LIMITS.historyIdleMs / 86_400_000, ROOM_LIMITS.ticketTtlMs, ROOM_LIMITS.roomDeliveriesPerSecond, ROOM_LIMITS.presenceImmediateMax, ROOM_LIMITS.presenceFlushMs, ROOM_LIMITS.presencePage].map(figure),
    );
  });
});
