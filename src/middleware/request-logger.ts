import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { AppEnv } from '../env.ts';
import { log } from '../lib/log.ts';

/**
 * Emits one JSON line per request: method, route pattern (not the raw path, which may carry ids
 * or tokens), status, duration, request id and tenant when known.
 */
export function requestLogger(): MiddlewareHandler<AppEnv> {
  return async function requestLogger(c, next) {
    const started = performance.now();
    await next();
    const handler = matchedRoutes(c).findLast((route) => route.method !== 'ALL');
    const status = c.res.status;
    log(status >= 500 ? 'error' : 'info', 'request', {
      method: c.req.method,
      route: handler?.path ?? null,
      status,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      requestId: c.var.requestId,
      clientRequestId: c.var.clientRequestId,
      tenantId: c.var.tenantId,
    });
  };
}
