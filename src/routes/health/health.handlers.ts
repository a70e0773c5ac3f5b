import type { RouteHandler } from '@hono/zod-openapi';
import type { MemoryCache } from '../../cache/memory-cache.ts';
import { checkReadiness, type Readiness } from '../../services/health.ts';
import type { live, ready } from './health.routes.ts';

export const liveHandler: RouteHandler<typeof live> = (c) => c.json({ data: { status: 'ok' as const } }, 200);

/**
 * Answers from `cache` while its entry lives (a few seconds): concurrent callers share one run of the
 * checks, so a flood of this public route costs the dependencies one check set per isolate per TTL.
 */
export function readyHandler(cache: MemoryCache<'readiness', Readiness>): RouteHandler<typeof ready> {
  return async (c) => {
    const readiness = (await cache.getOrLoad('readiness', () => checkReadiness(c.env, c.var.unscopedDb))) ?? (await checkReadiness(c.env, c.var.unscopedDb));
    return readiness.status === 'ok' ? c.json({ data: readiness }, 200) : c.json({ data: readiness }, 503);
  };
}
