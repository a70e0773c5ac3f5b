import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.ts';

/** JSON is data, never a document: it may load nothing and be framed by nobody. */
const JSON_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * Headers every response must carry whatever produced it (a handler, a middleware's refusal, the error
 * handler, not-found): `Cache-Control: no-store` unless the route chose a policy itself (only public,
 * shareable data does, e.g. the JWKS) — and always on errors and on responses to a request that carried
 * credentials, so no shared or browser cache keeps a token or a tenant's data — and a CSP on JSON.
 * A WebSocket upgrade (101) is left untouched.
 */
export function responsePolicy(): MiddlewareHandler<AppEnv> {
  return async function responsePolicy(c, next) {
    await next();
    if (c.res.status === 101) return;
    const credentialed = c.req.header('authorization') !== undefined || c.req.header('x-api-key') !== undefined;
    if (credentialed || c.res.status >= 400 || !c.res.headers.has('cache-control')) c.header('Cache-Control', 'no-store');
    if (c.res.headers.get('content-type')?.startsWith('application/json')) c.header('Content-Security-Policy', JSON_CSP);
  };
}
