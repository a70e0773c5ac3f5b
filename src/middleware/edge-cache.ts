import type { Context, MiddlewareHandler } from 'hono';
import { readBody, readLatestBody, storeBody, type BodyKey, type CachedBody } from '../cache/edge-cache.ts';
import type { KindEnv } from '../env.ts';
import { sha256Hex } from '../lib/crypto.ts';
import type { TenantVariables } from './authorize.ts';

/**
 * Serves a single-resource GET of an org route from the edge cache (src/cache/edge-cache.ts) when the org's
 * authority admitted the caller: no Postgres at all on a hit. A miss runs the handler and stores its 200.
 * With Postgres unreachable (the handler's 503), the latest cached body is served instead, marked
 * `X-Cache: STALE`. Responses say `X-Cache: HIT | MISS`. Runs after `authorize`, so only admitted callers
 * ever reach a cached body; bodies are kept per role, since some carry the caller's role.
 */
export function edgeCache(): MiddlewareHandler<KindEnv<TenantVariables>> {
  return async function edgeCache(c, next) {
    const version = c.var.dataVersion;
    const role = c.var.tenant.role;
    if (version === undefined || role === null) return next();
    const key: BodyKey = { orgId: c.req.param('orgId') ?? '', role, path: c.req.path };
    const hit = await readBody(c.env.CACHE, key, version);
    if (hit !== undefined) return serve(c, hit, 'HIT');
    await next();
    if (c.res.status === 200) {
      const body = await c.res.clone().text();
      const stored = { body, etag: `"${await sha256Hex(body)}"` };
      c.header('ETag', stored.etag);
      c.header('X-Cache', 'MISS');
      c.executionCtx.waitUntil(storeBody(c.env.CACHE, key, version, stored));
    } else if (c.res.status === 503) {
      const stale = await readLatestBody(c.env.CACHE, key);
      if (stale === undefined) return;
      c.res = undefined;
      c.res = serve(c, stale, 'STALE');
    }
  };
}

/** A cached body with its ETag (so `etag()` outside need not hash it again), marked HIT or STALE. */
function serve(c: Context<KindEnv<TenantVariables>>, cached: CachedBody, status: 'HIT' | 'STALE'): Response {
  return c.body(cached.body, 200, { 'Content-Type': 'application/json', ETag: cached.etag, 'X-Cache': status });
}
