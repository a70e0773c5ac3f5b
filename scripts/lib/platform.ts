import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startLocalPostgres, type LocalPostgres } from './local-postgres.ts';
import { applyMigrations } from './migrate.ts';
import { startNeonProxy, type NeonProxy } from './neon-proxy.ts';
import { seed } from './seed.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Environment for every wrangler invocation: no telemetry, no calls home. */
export const WRANGLER_ENV = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };

export interface PlatformOptions {
  /** HTTP port of the Worker. */
  port: number;
  /** Use this database (e.g. a Neon branch) instead of starting a local PostgreSQL. */
  databaseUrl?: string;
  /** Where the local cluster and wrangler's KV/R2/DO/queue state live. */
  dataDir: string;
  /** Keep data between runs (dev) or throw it away (tests, benchmarks). */
  persistent: boolean;
  pgPort: number;
  proxyPort: number;
  /** Forward wrangler's output to this process's (dev) or keep it quiet (tests). */
  inheritOutput: boolean;
}

export interface Platform {
  url: string;
  databaseUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts everything `npm run dev` runs: PostgreSQL (unless a DATABASE_URL is given), the Neon proxy,
 * migrations, the idempotent demo seed, and `wrangler dev` with every binding local. Resolves once
 * the Worker answers; `stop()` ends all of it, in reverse order.
 */
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const stack: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const step of stack.reverse()) await step().catch((error: unknown) => console.error(error));
    stack.length = 0;
  };
  try {
    let postgres: LocalPostgres | undefined;
    if (!options.databaseUrl) {
      postgres = await startLocalPostgres({ dataDir: `${options.dataDir}/postgres`, port: options.pgPort, persistent: options.persistent });
      stack.push(() => postgres?.stop() ?? Promise.resolve());
    }
    const databaseUrl = options.databaseUrl ?? postgres?.url ?? '';
    await applyMigrations(databaseUrl);
    await seed(databaseUrl);

    const vars = [`DATABASE_URL:${databaseUrl}`];
    if (postgres) {
      const proxy: NeonProxy = await startNeonProxy({ port: options.proxyPort });
      stack.push(() => proxy.close());
      vars.push(`NEON_LOCAL_PROXY:${proxy.url}`);
    }
    const wrangler = spawnWrangler(options, vars);
    stack.push(() => stopProcess(wrangler));
    const url = `http://127.0.0.1:${options.port}`;
    await waitForHttp(`${url}/api/health/live`, wrangler);
    return { url, databaseUrl, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function spawnWrangler(options: PlatformOptions, vars: string[]): ChildProcess {
  const args = ['wrangler', 'dev', '--ip', '127.0.0.1', '--port', String(options.port), '--inspector-port', '0'];
  args.push('--persist-to', `${options.dataDir}/wrangler`, '--show-interactive-dev-session=false', '--test-scheduled');
  for (const entry of vars) args.push('--var', entry);
  return spawn('npx', args, {
    cwd: ROOT,
    env: WRANGLER_ENV,
    stdio: options.inheritOutput ? ['ignore', 'inherit', 'inherit'] : 'ignore',
    detached: true,
  });
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** Ends the child's whole process group (npx → wrangler → workerd), politely then firmly. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  process.kill(-child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid && child.exitCode === null && process.kill(-child.pid, 'SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
