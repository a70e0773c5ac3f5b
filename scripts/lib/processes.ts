// What the benchmark's own processes (this one and every process it started: wrangler's workerd, PostgreSQL and
// its backends…) cost, from /proc (Linux): resident memory, and CPU time grouped by program. Only our processes are
// counted, so the figures hold however loaded the machine is by others.
import { readFileSync } from 'node:fs';
import pidtree from 'pidtree';

/** CPU milliseconds per group: `bench` (this Node process: load generator and Neon proxy), `workerd`, `postgres`, `other`. */
export type CpuSnapshot = Record<string, number>;

/** The processes this one started, directly or not (pidtree walks the parent links); undefined when they cannot be listed. */
const ownPids = () => pidtree(process.pid).catch(() => undefined);

/** The workerd processes this one started (through wrangler). */
export async function ownWorkerdPids(): Promise<number[]> {
  return ((await ownPids()) ?? []).filter((pid) => {
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

/** The CPU time of this process and of the processes it started, at one moment (`cpuSnapshot`). */
export interface ProcessTimes {
  /** Per group (`bench` included), in ms. */
  groups: CpuSnapshot;
  /** false when the processes could not be listed: then only `bench` is known. */
  listed: boolean;
}

/**
 * Counts user + system time, plus that of the children each process has reaped (cutime, cstime), so a
 * PostgreSQL backend that ended between two snapshots is still counted, in its postmaster's.
 */
export async function cpuSnapshot(): Promise<ProcessTimes> {
  const usage = process.cpuUsage();
  const groups: CpuSnapshot = { bench: (usage.user + usage.system) / 1_000, workerd: 0, postgres: 0, other: 0 };
  const pids = await ownPids();
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
    const name = group(stat.slice(stat.indexOf('(') + 1, close));
    groups[name] = (groups[name] ?? 0) + ticks * TICK_MS;
  }
  return { groups, listed: pids !== undefined };
}

/**
 * `after` − `before`, per group. NaN for every group but `bench` when either snapshot could not list the
 * processes (a listing that failed once made the workerd figure negative).
 */
export function cpuSpent(before: ProcessTimes, after: ProcessTimes): CpuSnapshot {
  const known = before.listed && after.listed;
  return Object.fromEntries(Object.entries(after.groups).map(([name, ms]) => [name, name === 'bench' || known ? ms - (before.groups[name] ?? 0) : NaN]));
}
