import { neon, neonConfig, Pool } from '@neondatabase/serverless';
import { drizzle as drizzleHttp, type NeonHttpDatabase } from 'drizzle-orm/neon-http';
import { drizzle as drizzleWs, type NeonDatabase } from 'drizzle-orm/neon-serverless';
import { createMemoryCache } from '../cache/memory-cache.ts';
import type { Config } from '../config.ts';
import { describeError, log } from '../lib/log.ts';
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

// HTTP queries hold no connection between calls, so one client per database URL and isolate is safe and
// saves setup. Memory only: the key is a connection string with its password. In practice there is one URL.
const httpClients = createMemoryCache<string, HttpDatabase>({ name: 'neon-http-clients', max: 4 });

/**
 * Creates the database handle for one request (or one queue batch / cron run).
 * `waitUntil` lets pools close after the response is sent.
 */
export function createDatabase(config: DatabaseConfig, waitUntil: (promise: Promise<unknown>) => void): Database {
  if (config.NEON_LOCAL_PROXY) useLocalProxy(config.NEON_LOCAL_PROXY);
  const url = config.DATABASE_URL;
  let http = httpClients.get(url);
  if (!http) {
    http = drizzleHttp({ client: neon(url), schema });
    httpClients.set(url, http);
  }
  return {
    http,
    async transaction(work) {
      // A Pool's sockets belong to the request that opened them, so each call gets its own.
      const pool = new Pool({ connectionString: url, max: 1 });
      // An idle connection closing after the work is done is expected; without a listener it would surface as uncaught.
      pool.on('error', (error: Error) => log('warn', 'postgres pool error', { error: describeError(error) }));
      try {
        return await drizzleWs({ client: pool, schema }).transaction(work);
      } finally {
        waitUntil(pool.end());
      }
    },
  };
}

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
