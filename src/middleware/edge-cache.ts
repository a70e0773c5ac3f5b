import type { MiddlewareHandler } from 'hono';
import { readBody, readLatestBody, storeBody, type BodyKey } from '../cache/edge-cache.ts';
import type { KindEnv } from '../env.ts';
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
    if (hit !== undefined) return c.body(hit, 200, { 'Content-Type': 'application/json', 'X-Cache': 'HIT' });
    await next();
    if (c.res.status === 200) {
      c.header('X-Cache', 'MISS');
      c.executionCtx.waitUntil(c.res.clone().text().then((body) => storeBody(c.env.CACHE, key, version, body)));
    } else if (c.res.status === 503) {
      const stale = await readLatestBody(c.env.CACHE, key);
      if (stale === undefined) return;
      c.res = undefined;
      c.res = c.body(stale, 200, { 'Content-Type': 'application/json', 'X-Cache': 'STALE' });
    }
  };
}
