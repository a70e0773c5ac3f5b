// CPU time of this process and every process it started (wrangler's workerd, PostgreSQL and its backends…),
// grouped by program, from /proc (Linux). A benchmark takes one snapshot before and one after a stretch of load,
// so it can say which process spent the time, however loaded the machine is by others (their time is not counted).
import { readFileSync } from 'node:fs';
import pidtree from 'pidtree';

/** CPU milliseconds per group: `bench` (this Node process: load generator and Neon proxy), `workerd`, `postgres`, `other`. */
export type CpuSnapshot = Record<string, number>;

/** Linux reports process times in clock ticks of 1/100 s (USER_HZ). */
const TICK_MS = 10;

const group = (program: string) => (program.startsWith('workerd') ? 'workerd' : program.startsWith('postgres') ? 'postgres' : 'other');

/**
 * Counts user + system time, plus that of the children each process has reaped (cutime, cstime), so a
 * PostgreSQL backend that ended between two snapshots is still counted, in its postmaster's.
 */
export async function cpuSnapshot(): Promise<CpuSnapshot> {
  const usage = process.cpuUsage();
  const totals: CpuSnapshot = { bench: (usage.user + usage.system) / 1_000, workerd: 0, postgres: 0, other: 0 };
  for (const pid of await pidtree(process.pid).catch(() => [])) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    // After the name: state is field 0, utime 11, stime 12, cutime 13, cstime 14.
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
    const name = group(stat.slice(stat.indexOf('(') + 1, close));
    totals[name] = (totals[name] ?? 0) + ticks * TICK_MS;
  }
  return totals;
}

/** `after` − `before`, per group. */
export function cpuSpent(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  return Object.fromEntries(Object.entries(after).map(([name, ms]) => [name, ms - (before[name] ?? 0)]));
}
