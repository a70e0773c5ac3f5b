import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Actor } from '../db/tenant.ts';
import type { KindEnv } from '../env.ts';
import type { OrgRouteClass } from '../lib/limits.ts';
import { bufferUsageEvent } from '../services/usage-recorder.ts';

/**
 * Records an org route's request as a usage event (README, "Usage analytics"): org, route class, route, status,
 * latency, and the user or API key. Only requests the org admitted are recorded (after authorization set the
 * tenant), so strangers cannot write into an org's figures. Costs no round trip: the event joins the isolate's
 * buffer, which `waitUntil` sends to the queue. First in the kind's middleware, so its latency covers the rest.
 */
export function recordUsage(routeClass: OrgRouteClass): MiddlewareHandler<KindEnv<{ actor?: Actor }>> {
  return async function recordUsage(c, next) {
    const started = performance.now();
    await next();
    const { tenantId: orgId, actor } = c.var;
    if (orgId === undefined || actor === undefined || c.var.config.USAGE_RECORDING === 'off') return;
    const route = matchedRoutes(c).findLast((matched) => matched.method !== 'ALL');
    bufferUsageEvent(c.env.JOBS, (promise) => c.executionCtx.waitUntil(promise), {
      id: crypto.randomUUID(),
      orgId,
      at: new Date().toISOString(),
      source: 'api',
      name: `${c.req.method} ${route?.path ?? c.req.routePath}`.slice(0, 200),
      routeClass,
      status: c.res.status,
      latencyMs: Math.round(performance.now() - started),
      ...(actor.type === 'user' ? { userId: actor.id } : { apiKeyId: actor.id }),
    });
  };
}
