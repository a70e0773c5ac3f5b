/**
 * Local implementation of Neon's "SQL over HTTP" endpoint (`POST /sql`), the
 * protocol spoken by `neon()` from `@neondatabase/serverless` (and therefore by
 * drizzle's `neon-http` driver), backed by a plain PostgreSQL through `pg`.
 *
 * Wire format, as sent/parsed by @neondatabase/serverless 1.2.0:
 * - headers: `Neon-Connection-String` (always), `Neon-Raw-Text-Output: true`,
 *   `Neon-Array-Mode: true` (always), plus `Neon-Batch-Isolation-Level`
 *   (`ReadUncommitted` | `ReadCommitted` | `RepeatableRead` | `Serializable`),
 *   `Neon-Batch-Read-Only` / `Neon-Batch-Deferrable` (`"true"`/`"false"`) for
 *   batches only, and `Authorization: Bearer <jwt>` when `authToken` is used;
 * - body: `{query, params}` or `{queries: [{query, params}, ...]}`; params are
 *   already serialised by the driver (strings, `\x…` hex for bytea, or null);
 * - 200 response: `{fields, command, rowCount, rows, rowAsArray}` with every
 *   value as Postgres text (the driver runs its own type parsers), or
 *   `{results: [...]}` for a batch;
 * - 400 response: JSON with `message` plus Postgres error fields, which the
 *   driver copies onto a `NeonDbError`. Any other status becomes a generic
 *   "Server error (HTTP status N)".
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import pg from 'pg';
import type { QueryArrayConfig, QueryArrayResult } from 'pg';

/** A local `/sql` endpoint: a request handler plus the pools it owns. */
export interface NeonHttpSql {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Ends every cached `pg.Pool`. */
  close(): Promise<void>;
}

interface SqlQuery {
  query: string;
  params: unknown[];
}

/** An error carrying the HTTP status and JSON body to answer with. */
class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Postgres error fields that the driver maps onto `NeonDbError`. */
const ERROR_FIELDS = [
  'severity', 'code', 'detail', 'hint', 'position', 'internalPosition', 'internalQuery', 'where',
  'schema', 'table', 'column', 'dataType', 'constraint', 'file', 'line', 'routine',
] as const;

const ISOLATION_LEVELS: Record<string, string> = {
  ReadUncommitted: 'READ UNCOMMITTED',
  ReadCommitted: 'READ COMMITTED',
  RepeatableRead: 'REPEATABLE READ',
  Serializable: 'SERIALIZABLE',
};

/** Returns every value untouched, so rows carry Postgres text as Neon does. */
const RAW_TEXT_TYPES = { getTypeParser: () => (value: string) => value };

/**
 * True for loopback hosts only (127.0.0.0/8, ::1, `localhost`): the proxy must
 * never become a way to reach other machines. Accepts bracketed IPv6.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return isIP(bare) === 6 && bare === '::1';
}

/** Loopback hosts, plus the exact `extra` hosts (e.g. a Docker or CI PostgreSQL that DATABASE_URL names). */
export function hostPolicy(extra: readonly string[] = []): (host: string) => boolean {
  const named = new Set(extra.map((host) => host.toLowerCase()));
  return (host) => isLoopbackHost(host) || named.has(host.replace(/^\[(.*)\]$/, '$1').toLowerCase());
}

/** Creates the `/sql` handler, keeping one `pg.Pool` per connection string. */
export function createNeonHttpSql(allowed: (host: string) => boolean = isLoopbackHost): NeonHttpSql {
  const pools = new Map<string, pg.Pool>();

  function poolFor(connectionString: string): pg.Pool {
    let pool = pools.get(connectionString);
    if (!pool) {
      pool = new pg.Pool({ connectionString, types: RAW_TEXT_TYPES });
      // Idle clients die when Postgres stops; without a listener that crashes the process.
      pool.on('error', () => {});
      pools.set(connectionString, pool);
    }
    return pool;
  }

  async function respond(req: IncomingMessage): Promise<unknown> {
    if (req.method !== 'POST') throw new HttpError(405, 'Only POST is supported');
    const connectionString = localConnectionString(req.headers['neon-connection-string'], allowed);
    if (req.headers.authorization) {
      // Neon would authenticate the JWT and switch role; silently ignoring it would
      // hide RLS differences, so refuse loudly instead.
      throw new HttpError(400, 'neon-proxy does not support authToken (JWT) authentication');
    }
    if (req.headers['neon-raw-text-output'] !== 'true' || req.headers['neon-array-mode'] !== 'true') {
      throw new HttpError(400, 'neon-proxy only supports Neon-Raw-Text-Output and Neon-Array-Mode set to true');
    }
    const body = parseBody(await readBody(req));
    const pool = poolFor(connectionString);
    if (Array.isArray(body)) return { results: await runBatch(pool, body, beginStatement(req)) };
    return runQuery(pool, body);
  }

  return {
    handle(req, res) {
      respond(req).then(
        (result) => sendJson(res, 200, result),
        (error: unknown) => sendError(res, error),
      );
    },
    async close() {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((pool) => pool.end()));
    },
  };
}

/** Validates `Neon-Connection-String` and strips SSL settings the local server cannot honour. */
function localConnectionString(header: string | string[] | undefined, allowed: (host: string) => boolean): string {
  let url: URL;
  try {
    url = new URL(typeof header === 'string' ? header : '');
  } catch {
    throw new HttpError(400, 'Missing or invalid Neon-Connection-String header');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new HttpError(400, 'Neon-Connection-String must be a postgres:// URL');
  }
  if (!allowed(url.hostname)) throw new HttpError(403, `Refusing host ${url.hostname} (not loopback, not DATABASE_URL's)`);
  for (const key of [...url.searchParams.keys()]) {
    if (key.startsWith('ssl')) url.searchParams.delete(key);
  }
  return url.href;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses `{query, params}` into one query, or `{queries: [...]}` into a batch. */
function parseBody(text: string): SqlQuery | SqlQuery[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'Request body is not valid JSON');
  }
  if (isRecord(body) && Array.isArray(body.queries)) return body.queries.map(toSqlQuery);
  return toSqlQuery(body);
}

function toSqlQuery(value: unknown): SqlQuery {
  if (!isRecord(value) || typeof value.query !== 'string') throw new HttpError(400, 'Expected {query, params}');
  if (value.params !== undefined && !Array.isArray(value.params)) throw new HttpError(400, 'params must be an array');
  return { query: value.query, params: value.params ?? [] };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Builds `BEGIN …` from the batch headers, using only whitelisted keywords. */
function beginStatement(req: IncomingMessage): string {
  const modes: string[] = [];
  const isolation = req.headers['neon-batch-isolation-level'];
  if (typeof isolation === 'string') {
    const level = ISOLATION_LEVELS[isolation];
    if (!level) throw new HttpError(400, `Unknown Neon-Batch-Isolation-Level: ${isolation}`);
    modes.push(`ISOLATION LEVEL ${level}`);
  }
  // Like Neon, anything but "true" leaves the session default in place.
  if (req.headers['neon-batch-read-only'] === 'true') modes.push('READ ONLY');
  if (req.headers['neon-batch-deferrable'] === 'true') modes.push('DEFERRABLE');
  return ['BEGIN', modes.join(', ')].filter(Boolean).join(' ');
}

/**
 * Runs one statement. `queryMode: 'extended'` forces the extended protocol even
 * without params, as Neon does, so multi-statement strings fail here like in production.
 */
async function runQuery(db: pg.Pool | pg.PoolClient, { query, params }: SqlQuery): Promise<unknown> {
  const config: QueryArrayConfig & { queryMode: 'extended' } = {
    text: query, values: params, rowMode: 'array', queryMode: 'extended',
  };
  const result: QueryArrayResult = await db.query(config);
  const { fields, command, rowCount, rows } = result;
  return { fields, command, rowCount, rows, rowAsArray: true };
}

/** Runs a batch as one all-or-nothing transaction on a single connection. */
async function runBatch(pool: pg.Pool, queries: SqlQuery[], begin: string): Promise<unknown[]> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const results: unknown[] = [];
    for (const query of queries) results.push(await runQuery(client, query));
    await client.query('COMMIT');
    client.release();
    return results;
  } catch (error) {
    // If even ROLLBACK fails the connection is unusable: drop it from the pool.
    await client.query('ROLLBACK').then(() => client.release(), (rollbackError: Error) => client.release(rollbackError));
    throw error;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

/** Postgres errors → 400 with their fields (as Neon); refusals → their status; the rest → 500. */
function sendError(res: ServerResponse, error: unknown): void {
  if (error instanceof pg.DatabaseError) {
    // Neon sends every field, null when Postgres did not set it.
    const body: Record<string, unknown> = { message: error.message };
    for (const field of ERROR_FIELDS) body[field] = error[field] ?? null;
    sendJson(res, 400, body);
  } else if (error instanceof HttpError) {
    sendJson(res, error.status, { message: error.message });
  } else {
    sendJson(res, 500, { message: error instanceof Error ? error.message : String(error) });
  }
}
