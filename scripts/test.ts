/**
 * `npm test`: the vitest projects as separate `vitest run` processes, three at a time, each running its files one
 * at a time on a PostgreSQL of its own (test/global-setup.ts).
 *
 * Why processes, not vitest's own file parallelism: with several files at once in one process,
 * @cloudflare/vitest-plugin sometimes stops starting files and the run waits forever with no error
 * (cloudflare/workers-sdk#15498). It happens one file at a time too, more rarely, so each run has a watchdog: a run
 * that prints nothing for TEST_STALL_SECONDS (default 300; the longest file takes about 150 s in CI), or that starts
 * no file for BETWEEN_FILES_SECONDS after one finished (the stall's own signature; a file starts within seconds of the last), is
 * stopped with its whole process tree, and the files it had not finished run once more in a new process. Which files
 * started and finished, and how, comes from scripts/lib/test-progress-reporter.ts, not from the output. A failing
 * test is never run again.
 *
 * Arguments are vitest options passed to every run (e.g. `npm test -- --bail=1`); for some files, run vitest itself.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onShutdownSignal, stopProcessGroup, stopProcessTree } from './lib/platform.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VITEST = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
const REPORTER = fileURLToPath(new URL('./lib/test-progress-reporter.ts', import.meta.url));
const STALL_SECONDS = Number(process.env.TEST_STALL_SECONDS ?? 300);
if (!Number.isFinite(STALL_SECONDS) || STALL_SECONDS <= 0) throw new Error(`TEST_STALL_SECONDS must be a number of seconds, not ${process.env.TEST_STALL_SECONDS}`);
/** How long a run may sit between two files (one finished, none started) before it counts as stalled. */
const BETWEEN_FILES_SECONDS = 90;
const AT_ONCE = 3;
const PROJECTS = ['e2e', 'workers', 'workers-clock'];

interface Run {
  label: string;
  project: string;
  files: string[];
}
/** What one `vitest run` process reported, file by file (scripts/lib/test-progress-reporter.ts). */
interface Attempt {
  stalled: boolean;
  exitCode: number | null;
  finished: Set<string>;
  failed: Set<string>;
  /** `file > test: first line of its error`, for the summary. */
  failedTests: string[];
  unhandledErrors: number;
}
type Outcome = 'passed' | 'failed' | 'interrupted';

const extraArgs = process.argv.slice(2);
const started = Date.now();
const results = new Map<string, { outcome: Outcome; seconds: number; attempts: number; failedTests: string[]; unhandledErrors: number }>();
const running = new Set<ChildProcess>();
/** Runs being stopped with their whole process tree (a stall, or Ctrl-C), until every process of it is gone. */
const stops = new Map<ChildProcess, Promise<void>>();
let stopping = false;

// The runs have process groups of their own, so a terminal's Ctrl-C reaches only us: start nothing more, stop them.
onShutdownSignal(() => {
  stopping = true;
  void Promise.allSettled([...running].map(stop)).then(() => {
    process.exitCode = 130;
  });
});

function stop(child: ChildProcess): Promise<void> {
  const stopped = stops.get(child) ?? (child.pid ? stopProcessTree(child.pid) : Promise.resolve()).catch((error: unknown) => console.error(String(error)));
  stops.set(child, stopped);
  return stopped;
}

/** e2e, workers in two halves, workers-clock: the longest first, so they start at once. */
function plannedRuns(): Run[] {
  const listed = JSON.parse(execFileSync(process.execPath, [VITEST, 'list', '--filesOnly', '--json'], { cwd: ROOT, encoding: 'utf8' })) as Array<{ file: string; projectName: string }>;
  const unplanned = [...new Set(listed.map((entry) => entry.projectName))].filter((project) => !PROJECTS.includes(project));
  if (unplanned.length > 0) throw new Error(`vitest.config.ts has projects scripts/test.ts does not run: ${unplanned.join(', ')}`);
  const filesOf = (project: string) => listed.filter((entry) => entry.projectName === project).map((entry) => relative(ROOT, entry.file));
  const [first, second] = halves(filesOf('workers'));
  return [
    { label: 'e2e', project: 'e2e', files: filesOf('e2e') },
    { label: 'workers 1/2', project: 'workers', files: first },
    { label: 'workers 2/2', project: 'workers', files: second },
    { label: 'workers-clock', project: 'workers-clock', files: filesOf('workers-clock') },
  ];
}

/** Two halves of about equal size in bytes (vitest's own stand-in for duration when it has none). */
function halves(files: string[]): [string[], string[]] {
  const parts: [{ files: string[]; bytes: number }, { files: string[]; bytes: number }] = [{ files: [], bytes: 0 }, { files: [], bytes: 0 }];
  for (const file of [...files].sort((a, b) => statSync(b).size - statSync(a).size)) {
    const lighter = parts[0].bytes <= parts[1].bytes ? parts[0] : parts[1];
    lighter.files.push(file);
    lighter.bytes += statSync(file).size;
  }
  return [parts[0].files, parts[1].files];
}

async function runWithRetry(run: Run): Promise<void> {
  const runStarted = Date.now();
  const attempts = [await runOnce(run, run.files)];
  const first = attempts[0];
  const left = run.files.filter((file) => !first?.finished.has(file));
  if (first?.stalled && !stopping) {
    log(run.label, `vitest stalled (cloudflare/workers-sdk#15498); the ${left.length} files it had not finished run once more`);
    if (left.length > 0) attempts.push(await runOnce(run, left));
  }
  const last = attempts.at(-1);
  const passed = attempts.every((attempt) => attempt.failed.size === 0 && attempt.unhandledErrors === 0) && run.files.every((file) => attempts.some((attempt) => attempt.finished.has(file))) && (last?.stalled ? last === first && left.length === 0 : last?.exitCode === 0);
  results.set(run.label, {
    outcome: stopping ? 'interrupted' : passed ? 'passed' : 'failed',
    seconds: Math.round((Date.now() - runStarted) / 1000),
    attempts: attempts.length,
    failedTests: attempts.flatMap((attempt) => attempt.failedTests),
    unhandledErrors: attempts.reduce((sum, attempt) => sum + attempt.unhandledErrors, 0),
  });
}

async function runOnce(run: Run, files: string[]): Promise<Attempt> {
  // Its own temporary folder, removed afterwards: a stopped run leaves its PostgreSQL data and dev servers' folders.
  const temporary = mkdtempSync(join(tmpdir(), 'edge-saas-run-'));
  // PostgreSQL runs as its own user when we are root; it must be able to enter this folder.
  chmodSync(temporary, 0o755);
  const progress = join(temporary, 'progress.jsonl');
  const child = spawn(process.execPath, [VITEST, 'run', '--project', run.project, '--reporter=default', `--reporter=${REPORTER}`, ...extraArgs, ...files], {
    cwd: ROOT,
    // Its own process group: a terminal's Ctrl-C reaches only us, and we stop each run's whole tree.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: temporary, TEST_PROGRESS_FILE: progress, ...(process.stdout.isTTY ? { FORCE_COLOR: '1' } : {}) },
  });
  running.add(child);
  let lastOutput = Date.now();
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      lastOutput = Date.now();
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) log(run.label, line);
    });
    stream.on('end', () => pending && log(run.label, pending));
  }
  let stalled = false;
  const watchdog = setInterval(() => {
    if (stalled) return;
    const idle = idleSince(progress, files.length);
    const silent = Date.now() - lastOutput >= STALL_SECONDS * 1000;
    if (!silent && (idle === undefined || Date.now() - idle < BETWEEN_FILES_SECONDS * 1000)) return;
    stalled = true;
    log(run.label, silent ? `no output for ${STALL_SECONDS} s` : `no file started for ${BETWEEN_FILES_SECONDS} s after the last one finished`);
    void stop(child);
  }, 5_000);
  const exitCode = await new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
  clearInterval(watchdog);
  // A stopped run's tree (a dev server's wrangler in a group of its own) is gone before its folder goes.
  await stops.get(child);
  // Whatever the run left behind in its group (a workerd, a PostgreSQL) goes with it.
  await stopProcessGroup(child).catch((error: unknown) => log(run.label, String(error)));
  running.delete(child);
  const attempt = readProgress(progress, { stalled, exitCode });
  rmSync(temporary, { recursive: true, force: true, maxRetries: 5 });
  return attempt;
}

function readProgress(path: string, attempt: Pick<Attempt, 'stalled' | 'exitCode'>): Attempt {
  const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
  const entries = lines.map((line) => JSON.parse(line) as { file?: string; state?: string; failedTests?: string[]; unhandledErrors?: number });
  const files = (states: string[]) => new Set(entries.flatMap((entry) => (entry.file && entry.state && states.includes(entry.state) ? [entry.file] : [])));
  return {
    ...attempt,
    finished: files(['passed', 'failed', 'skipped']),
    failed: files(['failed']),
    failedTests: entries.flatMap((entry) => (entry.file ? (entry.failedTests ?? []).map((test) => `${entry.file} > ${test}`) : [])),
    unhandledErrors: entries.reduce((sum, entry) => sum + (entry.unhandledErrors ?? 0), 0),
  };
}

/** When the run's last file finished, if none has started since and files are left; else undefined. */
function idleSince(path: string, files: number): number | undefined {
  const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
  const events = lines.flatMap((line) => {
    // A line the reporter is still writing is read again at the next tick.
    try {
      return [JSON.parse(line) as { file?: string; state?: string; at?: number }];
    } catch {
      return [];
    }
  }).filter((event) => event.file && event.at);
  const last = events.at(-1);
  const finished = new Set(events.filter((event) => event.state !== 'started').map((event) => event.file));
  return last && last.state !== 'started' && finished.size < files ? last.at : undefined;
}

function log(label: string, line: string): void {
  process.stdout.write(`[${label}] ${line}\n`);
}

const runs = plannedRuns();
const queue = [...runs];
await Promise.all(
  Array.from({ length: AT_ONCE }, async () => {
    for (let run = queue.shift(); run && !stopping; run = queue.shift()) await runWithRetry(run);
  }),
);

console.log(`\nnpm test: ${Math.round((Date.now() - started) / 1000)} s`);
for (const run of runs) {
  const result = results.get(run.label);
  const attempts = result && result.attempts > 1 ? `, ${result.attempts} attempts` : '';
  console.log(`  ${result?.outcome ?? 'not run'}  ${run.label}: ${run.files.length} files (${result?.seconds ?? 0} s${attempts})`);
  // Named here, at the end, because a CI log may keep only its tail.
  for (const test of result?.failedTests ?? []) console.log(`    failed: ${test}`);
  if (result?.unhandledErrors) console.log(`    ${result.unhandledErrors} unhandled errors (see the run's output above)`);
}
if (process.exitCode === undefined) process.exitCode = runs.every((run) => results.get(run.label)?.outcome === 'passed') ? 0 : 1;
