import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { AppEnv } from '../env.ts';
import { log, logs } from '../lib/log.ts';

/**
 * Emits one JSON line per request: method, route pattern (not the raw path, which may carry ids
 * or tokens), status, duration, request id and tenant when known. At LOG_LEVEL warn or error, only 5xx.
 */
export function requestLogger(): MiddlewareHandler<AppEnv> {
  return async function requestLogger(c, next) {
    const started = performance.now();
    await next();
    const handler = matchedRoutes(c).findLast((route) => route.method !== 'ALL');
    const status = c.res.status;
    const level = status >= 500 ? 'error' : 'info';
    if (!logs(c.var.config.LOG_LEVEL, level)) return;
    log(level, 'request', {
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
