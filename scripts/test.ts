/**
 * `npm test`: the vitest projects as separate `vitest run` processes, three at a time, each running its files one
 * at a time on a PostgreSQL of its own (test/global-setup.ts).
 *
 * Why processes, not vitest's own file parallelism: with several files at once in one process,
 * @cloudflare/vitest-plugin sometimes stops starting files and the run waits forever with no error
 * (cloudflare/workers-sdk#15498). It happens one file at a time too, more rarely, so each run has a watchdog: a run
 * that prints nothing for TEST_STALL_SECONDS (default 300; the longest file takes about 150 s in CI) is stopped with its
 * whole process group, and the files it had not finished run once more in a new process. A failing test is never
 * run again.
 *
 * Arguments are passed to every run (e.g. `npm test -- --reporter=dot`).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onShutdownSignal, stopProcessGroup, stopProcessTree } from './lib/platform.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VITEST = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
const STALL_MS = Number(process.env.TEST_STALL_SECONDS ?? 300) * 1000;
const AT_ONCE = 3;
/** A file vitest reports as done, with its mark: ` ✓  workers  test/integration/auth.test.ts (12 tests | 1 skipped) 900ms`. */
const FILE_DONE = /^\s*(\S+)\s.*?\s(test\/\S+\.test\.ts) \(\d+ tests?([^)]*)\)/;

interface Run {
  label: string;
  project: string;
  files: string[];
}
type Outcome = 'passed' | 'failed' | 'stalled';

const extraArgs = process.argv.slice(2);
const started = Date.now();
const results = new Map<string, { outcome: Outcome; seconds: number; attempts: number }>();
const running = new Set<ChildProcess>();

// The runs have process groups of their own, so a terminal's Ctrl-C reaches only us: pass it on.
onShutdownSignal(() => {
  void Promise.allSettled([...running].map((child) => child.pid && stopProcessTree(child.pid))).then(() => process.exit(130));
});

/** e2e, workers in two halves, workers-clock: the longest first, so they start at once. */
function plannedRuns(): Run[] {
  const listed = JSON.parse(execFileSync(process.execPath, [VITEST, 'list', '--filesOnly', '--json'], { cwd: ROOT, encoding: 'utf8' })) as Array<{ file: string; projectName: string }>;
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
  const files = { done: new Set<string>(), failed: new Set<string>() };
  let outcome = await runOnce(run, run.files, files);
  let attempts = 1;
  if (outcome === 'stalled') {
    const left = run.files.filter((file) => !files.done.has(file));
    log(run.label, `no output for ${STALL_MS / 1000} s: vitest stalled (cloudflare/workers-sdk#15498); ${left.length} files left to run once more`);
    // Nothing left: it stalled after its last file, before its summary.
    outcome = left.length > 0 ? await runOnce(run, left, files) : 'passed';
    attempts = 2;
  }
  if (files.failed.size > 0) outcome = 'failed';
  results.set(run.label, { outcome, seconds: Math.round((Date.now() - runStarted) / 1000), attempts });
}

function runOnce(run: Run, files: string[], seen: { done: Set<string>; failed: Set<string> }): Promise<Outcome> {
  // Its own temporary folder, removed afterwards: a stopped run leaves its PostgreSQL data and dev servers' folders.
  const temporary = mkdtempSync(join(tmpdir(), 'edge-saas-run-'));
  // PostgreSQL runs as its own user when we are root; it must be able to enter this folder.
  chmodSync(temporary, 0o755);
  const child = spawn(process.execPath, [VITEST, 'run', '--project', run.project, ...extraArgs, ...files], {
    cwd: ROOT,
    // Its own process group: a terminal's Ctrl-C reaches only us, and we stop each run's whole tree.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TMPDIR: temporary, ...(process.stdout.isTTY ? { FORCE_COLOR: '1' } : {}) },
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
      for (const line of lines) {
        log(run.label, line);
        const [, mark, finished, counts] = FILE_DONE.exec(stripColours(line)) ?? [];
        if (!finished) continue;
        seen.done.add(finished);
        // Anything but a pass (✓) or a skip (↓) failed: failed tests, or a file that failed to load (`(0 test)`).
        if ((mark !== '✓' && mark !== '↓') || counts?.includes('failed')) seen.failed.add(finished);
      }
    });
    stream.on('end', () => pending && log(run.label, pending));
  }
  return new Promise((resolveRun) => {
    let stalled = false;
    const watchdog = setInterval(() => {
      if (stalled || Date.now() - lastOutput < STALL_MS) return;
      stalled = true;
      if (child.pid) void stopProcessTree(child.pid).catch((error: unknown) => log(run.label, String(error)));
    }, 5_000);
    child.once('exit', (code) => {
      clearInterval(watchdog);
      // Whatever the run left behind in its group (a workerd, a PostgreSQL) goes with it.
      void stopProcessGroup(child)
        .catch((error: unknown) => log(run.label, String(error)))
        .finally(() => {
          running.delete(child);
          rmSync(temporary, { recursive: true, force: true, maxRetries: 5 });
          resolveRun(stalled ? 'stalled' : code === 0 ? 'passed' : 'failed');
        });
    });
  });
}

function stripColours(line: string): string {
  return line.replace(/\u001b\[[0-9;]*m/g, '');
}

function log(label: string, line: string): void {
  process.stdout.write(`[${label}] ${line}\n`);
}

const runs = plannedRuns();
const queue = [...runs];
await Promise.all(
  Array.from({ length: AT_ONCE }, async () => {
    for (let run = queue.shift(); run; run = queue.shift()) await runWithRetry(run);
  }),
);

console.log(`\nnpm test: ${Math.round((Date.now() - started) / 1000)} s`);
for (const run of runs) {
  const result = results.get(run.label);
  const attempts = result && result.attempts > 1 ? `, ${result.attempts} attempts` : '';
  console.log(`  ${result?.outcome ?? 'not run'}  ${run.label}: ${run.files.length} files (${result?.seconds ?? 0} s${attempts})`);
}
process.exitCode = runs.every((run) => results.get(run.label)?.outcome === 'passed') ? 0 : 1;
