import type { MiddlewareHandler } from 'hono';
import { getConfig } from '../config.ts';
import type { AppEnv } from '../env.ts';

/** Puts the parsed configuration on the context. */
export function appContext(): MiddlewareHandler<AppEnv> {
  return async function appContext(c, next) {
    c.set('config', getConfig(c.env));
    await next();
  };
}
