import type { MiddlewareHandler } from 'hono';
import { createDatabase } from '../db/client.ts';
import { getConfig, type AppEnv } from '../env.ts';

/** Puts the parsed configuration and the request's database handle on the context. */
export function appContext(): MiddlewareHandler<AppEnv> {
  return async function appContext(c, next) {
    const config = getConfig(c.env);
    c.set('config', config);
    c.set('db', createDatabase(config, (promise) => c.executionCtx.waitUntil(promise)));
    await next();
  };
}
