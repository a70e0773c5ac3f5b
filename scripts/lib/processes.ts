// What the benchmark's own processes (this one and every process it started: wrangler's workerd, PostgreSQL and
// its backends…) cost, from /proc (Linux): resident memory, and CPU time grouped by program. Only our processes are
// counted, so the figures hold however loaded the machine is by others.
import { readFileSync } from 'node:fs';
import pidtree from 'pidtree';

/** CPU milliseconds per group: `bench` (this Node process: load generator and Neon proxy), `workerd`, `postgres`, `other`. */
export type CpuSnapshot = Record<string, number>;

/** The processes this one started, directly or not (pidtree walks the parent links). */
const ownPids = () => pidtree(process.pid).catch(() => [] as number[]);

/** The workerd processes this one started (through wrangler). */
export async function ownWorkerdPids(): Promise<number[]> {
  return (await ownPids()).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('workerd');
    } catch {
      return false; // ended meanwhile
    }
  });
}

/** The resident memory of `pids` together, in MB (MiB). */
export function rssMb(pids: number[]): number {
  return pids.reduce((sum, pid) => {
    try {
      return sum + Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    } catch {
      return sum; // ended meanwhile
    }
  }, 0);
}

/** Linux reports process times in clock ticks of 1/100 s (USER_HZ). */
const TICK_MS = 10;

const group = (program: string) => (program.startsWith('workerd') ? 'workerd' : program.startsWith('postgres') ? 'postgres' : 'other');

/** The CPU time of this process and of each process it started, at one moment (`cpuSnapshot`). */
export interface ProcessTimes {
  bench: number;
  /** Per process id: its group and CPU milliseconds; undefined when the processes could not be listed. */
  processes: Map<number, { group: string; ms: number }> | undefined;
}

/**
 * Counts user + system time, plus that of the children each process has reaped (cutime, cstime), so a
 * PostgreSQL backend that ended between two snapshots is still counted, in its postmaster's.
 */
export async function cpuSnapshot(): Promise<ProcessTimes> {
  const usage = process.cpuUsage();
  const pids = await pidtree(process.pid).catch(() => undefined);
  const processes = pids && new Map<number, { group: string; ms: number }>();
  for (const pid of pids ?? []) {
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
    processes?.set(pid, { group: group(stat.slice(stat.indexOf('(') + 1, close)), ms: ticks * TICK_MS });
  }
  return { bench: (usage.user + usage.system) / 1_000, processes };
}

/**
 * The CPU each group spent from `before` to `after`: per process, so one that ended or started meanwhile cannot
 * make a group's figure negative (an ended one's time is in its parent's reaped children). NaN for every group but
 * `bench` when either snapshot could not list the processes.
 */
export function cpuSpent(before: ProcessTimes, after: ProcessTimes): CpuSnapshot {
  const spent: CpuSnapshot = { bench: after.bench - before.bench, workerd: 0, postgres: 0, other: 0 };
  if (!before.processes || !after.processes) return { ...spent, workerd: NaN, postgres: NaN, other: NaN };
  for (const [pid, { group: name, ms }] of after.processes) spent[name] = (spent[name] ?? 0) + ms - (before.processes.get(pid)?.ms ?? 0);
  return spent;
}
