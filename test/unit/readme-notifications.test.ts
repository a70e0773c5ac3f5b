import { describe, expect, it } from 'vitest';
import readme from '../../README.md?raw';
import { DEFAULT_CHANNELS, NOTIFICATION_CATEGORIES, REQUIRED_CATEGORIES } from '../../src/lib/notification-categories.ts';

/** The README's notification categories table is src/lib/notification-categories.ts, category by category. */
describe('README notification categories', () => {
  it('lists every category with its default channel', () => {
    const table = readme.split('<!-- notification-categories:start -->')[1]?.split('<!-- notification-categories:end -->')[0] ?? '';
    const rows = table
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.split('|').slice(1, 3).map((cell) => cell.trim()));
    expect(rows).toEqual(NOTIFICATION_CATEGORIES.map((category) => [`\`${category}\``, `\`${DEFAULT_CHANNELS[category]}\``]));
  });

  it('says which categories cannot be turned off', () => {
    expect([...REQUIRED_CATEGORIES]).toEqual(['security']);
    expect(readme).toContain('Security cannot be turned off: `none` for it is a 422 `NOTIFICATION_REQUIRED`');
  });
});
