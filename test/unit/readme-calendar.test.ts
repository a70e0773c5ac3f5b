import { describe, expect, it } from 'vitest';
import readme from '../../README.md?raw';
import { schedule } from '../../workers/scheduled.ts';

/** README's maintenance calendar is `schedule` (workers/scheduled.ts), task by task, in order. */
describe('README maintenance calendar', () => {
  it('lists every task of every cron, and nothing else', () => {
    const section = readme.split('### The maintenance calendar')[1]?.split('\n### ')[0] ?? '';
    const rows = section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.split('|').slice(1, 3).map((cell) => cell.trim().replaceAll('`', '')));
    const tasks = Object.entries(schedule).flatMap(([cron, due]) => due.map((task) => [cron, task.name]));
    expect(tasks.length).toBeGreaterThan(10);
    expect(rows).toEqual(tasks);
  });
});
