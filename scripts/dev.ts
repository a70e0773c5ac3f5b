// npm run dev — the whole platform locally: PostgreSQL, Neon proxy, migrations, demo seed, wrangler dev.
// Environment: PORT (HTTP, default 8787), PG_PORT (54329), NEON_PROXY_PORT (54330), DATA_DIR (where the
// PostgreSQL cluster and wrangler's local state persist; default <repo>/.data, relative paths from the
// repository root), DATABASE_URL (if set, any PostgreSQL used instead of a local one, as its owner) and
// WORKER_DATABASE_URL (with DATABASE_URL: the runtime role the Worker connects as).
// Ctrl-C / SIGTERM stops everything it started and exits 0.
// stdout carries only the Worker's JSON log lines (`npm run -s dev | jq`); every line meant for a human goes to stderr.
import { resolve } from 'node:path';
import { CONFIG_KEYS } from '../src/config.ts';
import { freePort } from './lib/ports.ts';
import { ROOT, claimDataDir, onShutdownSignal, startPlatform, type Platform } from './lib/platform.ts';
import { readinessMessage, waitForReady } from './lib/readiness.ts';

const env = process.env;
const controller = new AbortController();
let platform: Platform | undefined;
let stopping = false;

onShutdownSignal((signal) => {
  if (stopping) return;
  stopping = true;
  console.error(`\n${signal}: stopping…`);
  // While starting, startPlatform stops what it started itself and rejects.
  if (!platform) return controller.abort(new Error(`interrupted by ${signal}`));
  void platform.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
});

// Any Worker var (src/config.ts) set in the environment overrides wrangler.toml for this run (README), but for those
// npm run dev sets itself (DATABASE_URL here is the owner's: WORKER_DATABASE_URL gives the Worker's). Email links
// point at this server's port unless APP_URL says otherwise (the frontend's URL).
const SET_BY_DEV = new Set(['APP_ENV', 'DATABASE_URL', 'NEON_LOCAL_PROXY', 'JWT_SIGNING_KEY', 'TOKEN_SECRET', 'DEV_OUTBOX']);
const httpPort = port('PORT', 8787);
const workerEnv = Object.fromEntries(CONFIG_KEYS.flatMap((name) => (!SET_BY_DEV.has(name) && env[name] ? [[name, env[name]]] : [])));
const vars = env.APP_URL ? [] : [`APP_URL:http://localhost:${httpPort}`];

const inspectorPort = env.INSPECTOR_PORT ? port('INSPECTOR_PORT', 9229) : await freePort();

const dataDir = resolve(ROOT, env.DATA_DIR || '.data');
try {
  // Whatever DATABASE_URL is: npm run db:reset, and another npm run dev, refuse a data folder in use.
  claimDataDir(dataDir);
  platform = await startPlatform({
    // Unminified in dev, so stack traces point at src/ (wrangler.toml minifies what is deployed).
    minify: false,
    inspectorPort,
    port: httpPort,
    vars,
    workerEnv,
    databaseUrl: env.DATABASE_URL || undefined,
    workerDatabaseUrl: env.WORKER_DATABASE_URL || undefined,
    dataDir,
    persistent: true,
    pgPort: port('PG_PORT', 54329),
    proxyPort: port('NEON_PROXY_PORT', 54330),
    inheritOutput: true,
    signal: controller.signal,
  });
} catch (error) {
  if (controller.signal.aborted) process.exit(0);
  console.error(`\nnpm run dev could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

// Browse the data as its owner (RLS shows a runtime role nothing outside a tenant's context).
console.error(`\nDebugger: open chrome://inspect in Chrome and add 127.0.0.1:${inspectorPort} (INSPECTOR_PORT sets it)`);
// A DATABASE_URL of the user's own is theirs to know: its password stays out of the terminal (and its scrollback).
const ownerUrl = env.DATABASE_URL ? withoutPassword(platform.databaseUrl) : platform.databaseUrl;
console.error(`Database (owner): ${ownerUrl}  — e.g. npm run db:query -- "select * from organizations"`);
console.error(`\n${readinessMessage(platform.url, await waitForReady(platform.url))}\n`);

function withoutPassword(url: string): string {
  const parsed = URL.parse(url);
  if (!parsed?.password) return parsed ? url : '(DATABASE_URL)';
  parsed.password = '***';
  return parsed.toString();
}

function port(name: string, fallback: number): number {
  const value = Number(env[name] || fallback);
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    console.error(`${name} must be a TCP port (1-65535), got "${env[name]}".`);
    process.exit(1);
  }
  return value;
}
