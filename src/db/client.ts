import { neon, neonConfig, Pool, type NeonQueryFunction, type PoolClient, type WebSocketLike } from '@neondatabase/serverless';
import { drizzle as drizzleHttp, type NeonHttpDatabase } from 'drizzle-orm/neon-http';
import { drizzle as drizzleWs, type NeonDatabase } from 'drizzle-orm/neon-serverless';
import { createMemoryCache } from '../cache/memory-cache.ts';
import type { Config } from '../config.ts';
import { describeError, log } from '../lib/log.ts';
import { isTransientDatabaseError } from './errors.ts';
import * as schema from './schema/index.ts';

export type Schema = typeof schema;
export type HttpDatabase = NeonHttpDatabase<Schema>;
export type Transaction = Parameters<Parameters<NeonDatabase<Schema>['transaction']>[0]>[0];

/**
 * The app's handle on Postgres. This is the only module that knows which Neon driver mode is used:
 * HTTP (`neon()`) for one-shot queries and non-interactive batches, one round trip each;
 * a WebSocket `Pool` for interactive transactions.
 */
export interface Database {
  /** One round trip per query, or per `batch([...])`, which runs as a single transaction. */
  readonly http: HttpDatabase;
  /** Runs `work` in an interactive transaction on a connection opened for this call. */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
}

type DatabaseConfig = Pick<Config, 'DATABASE_URL' | 'NEON_LOCAL_PROXY'>;

export interface DatabaseOptions {
  /**
   * The caller only reads (a GET or HEAD): an HTTP query or batch that fails transiently is sent once more.
   * Never for writes: a write whose answer was lost may have committed.
   */
  retryReads?: boolean;
}

// HTTP queries hold no connection between calls, so one client per database URL (and retry mode) and isolate
// is safe and saves setup. Memory only: the key is a connection string with its password.
const httpClients = createMemoryCache<string, HttpDatabase>({ name: 'neon-http-clients', max: 4 });

/**
 * Creates the database handle for one request (or one queue batch / cron run).
 * `waitUntil` lets pools close after the response is sent.
 */
export function createDatabase(config: DatabaseConfig, waitUntil: (promise: Promise<unknown>) => void, options: DatabaseOptions = {}): Database {
  if (config.NEON_LOCAL_PROXY) useLocalProxy(config.NEON_LOCAL_PROXY);
  const url = config.DATABASE_URL;
  const retryReads = options.retryReads === true;
  const cacheKey = retryReads ? `retry-reads ${url}` : url;
  let http = httpClients.get(cacheKey);
  if (!http) {
    http = drizzleHttp({ client: retryReads ? retryingOnce(neon(url)) : neon(url), schema });
    httpClients.set(cacheKey, http);
  }
  return {
    http,
    transaction: (work) => transactionOnOwnPool(url, waitUntil, work),
  };
}

/** Runs `work` in an interactive transaction on a pool opened for this call, closed after the response. */
async function transactionOnOwnPool<T>(url: string, waitUntil: (promise: Promise<unknown>) => void, work: (tx: Transaction) => Promise<T>): Promise<T> {
  // A Pool's sockets belong to the request that opened them, so each call gets its own.
  const pool = new Pool({ connectionString: url, max: 1 });
  // A connection that fails emits 'error' on its client, which the pool relays while the client is idle but
  // not while it is checked out. An 'error' nobody listens to is thrown as uncaught, so both get a listener.
  // The transaction itself rejects with the failure, so this only logs; not once the pool is ending, when
  // the socket closing is expected.
  let ending = false;
  pool.on('connect', (client: PoolClient) =>
    client.on('error', (error: Error) => {
      if (!ending) log('warn', 'postgres connection error', { error: describeError(error) });
    }),
  );
  pool.on('error', () => {});
  let failure: { error: unknown } | undefined;
  try {
    return await drizzleWs({ client: pool, schema }).transaction(async (tx) => {
      try {
        return await work(tx);
      } catch (error) {
        failure = { error };
        throw error;
      }
    });
  } catch (error) {
    // drizzle rolls back when `work` fails; on a lost connection the rollback fails too ("not queryable"),
    // and its error would replace the one that says what happened.
    throw failure ? failure.error : error;
  } finally {
    ending = true;
    // Ending a pool whose connection failed rejects too; that failure was already answered.
    waitUntil(pool.end().catch((error: unknown) => log('warn', 'postgres pool end failed', { error: describeError(error) })));
  }
}

/**
 * The runtime's WebSocket as the driver uses it, except that `error` listeners receive an Error.
 * The driver hands whatever its socket's `error` listener gets to pg as the connection's error, and pg
 * rejects the transaction (or its query) with it. workerd reports a refused or lost connection as an
 * `ErrorEvent`, which is not an Error: Hono passes only Errors to onError, so the request would die
 * uncaught instead of answering 503, and a query error would hide it from db/errors.ts behind its cause.
 */
class DriverWebSocket implements WebSocketLike {
  private readonly socket: WebSocket;

  constructor(url: string) {
    this.socket = new WebSocket(url);
  }

  get readyState(): number {
    return this.socket.readyState;
  }

  get binaryType(): string {
    return this.socket.binaryType;
  }

  set binaryType(type: string) {
    if (type === 'arraybuffer' || type === 'blob') this.socket.binaryType = type;
  }

  send(data: ArrayBuffer | ArrayBufferView | string): void {
    this.socket.send(data);
  }

  close(code?: number, reason?: string): void {
    this.socket.close(code, reason);
  }

  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: unknown) => void): void {
    if (type !== 'error') return this.socket.addEventListener(type, listener);
    this.socket.addEventListener('error', (event) => listener(event.error instanceof Error ? event.error : new Error(`WebSocket error: ${event.message}`)));
  }
}

neonConfig.webSocketConstructor = DriverWebSocket;

/**
 * Points the driver at scripts/lib/neon-proxy.ts, which bridges to a plain local PostgreSQL.
 * Only ever called when NEON_LOCAL_PROXY is set, so production keeps the driver's defaults.
 */
function useLocalProxy(proxy: string): void {
  neonConfig.fetchEndpoint = () => `http://${proxy}/sql`;
  neonConfig.wsProxy = (host, port) => `${proxy}/v2?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  // Coalescing waits a tick per write; on loopback that adds ~1 ms to every query.
  neonConfig.coalesceWrites = false;
}

type NeonHttpClient = NeonQueryFunction<false, false>;
type QueryOptions = Parameters<NeonHttpClient['query']>[2];

/**
 * A query drizzle has built but not yet sent. Awaiting it sends it (retrying once); a batch rebuilds the
 * driver's own query from it for each attempt, since a sent driver query cannot be sent again.
 */
class DeferredQuery implements PromiseLike<unknown> {
  private readonly base: NeonHttpClient;
  private readonly text: string;
  private readonly params: unknown[] | undefined;
  private readonly options: QueryOptions;

  constructor(base: NeonHttpClient, text: string, params: unknown[] | undefined, options: QueryOptions) {
    this.base = base;
    this.text = text;
    this.params = params;
    this.options = options;
  }

  build() {
    return this.base.query(this.text, this.params, this.options);
  }

  then<A = unknown, B = never>(onFulfilled?: ((value: unknown) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null) {
    return sendTwice(() => this.build()).then(onFulfilled, onRejected);
  }
}

async function sendTwice<T>(send: () => PromiseLike<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (!isTransientDatabaseError(error)) throw error;
    log('warn', 'database read failed transiently; retrying once', { error: describeError(error) });
    return send();
  }
}

/**
 * The Neon HTTP client with each query and each batch sent at most twice when the first attempt fails
 * transiently (see db/errors.ts). drizzle uses only `query` and `transaction` of its client.
 */
function retryingOnce(base: NeonHttpClient): NeonHttpClient {
  const client = {
    query: (text: string, params?: unknown[], options?: QueryOptions) => new DeferredQuery(base, text, params, options),
    transaction: (queries: unknown[], options?: Parameters<NeonHttpClient['transaction']>[1]) =>
      sendTwice(() => base.transaction(queries.map((query) => (query instanceof DeferredQuery ? query.build() : query)) as Parameters<NeonHttpClient['transaction']>[0], options)),
  };
  // The wrapper implements only what drizzle calls; its type is the driver's so drizzle accepts it.
  return client as unknown as NeonHttpClient;
}
