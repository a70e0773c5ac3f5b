import type { MiddlewareHandler } from 'hono';
import { createDatabase } from '../db/client.ts';
import { getConfig, type AppEnv } from '../env.ts';

/** Puts the parsed configuration and the request's database handle on the context. */
export function appContext(): MiddlewareHandler<AppEnv> {
  return async function appContext(c, next) {
    const config = getConfig(c.env);
    c.set('config', config);
    // A read may be sent twice when the database fails transiently; a write never is (it may have committed).
    const retryReads = c.req.method === 'GET' || c.req.method === 'HEAD';
    c.set('db', createDatabase(config, (promise) => c.executionCtx.waitUntil(promise), { retryReads }));
    await next();
  };
}
