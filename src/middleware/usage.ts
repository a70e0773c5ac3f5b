import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Actor } from '../db/tenant.ts';
import type { AppEnv, KindEnv } from '../env.ts';
import type { OrgRouteClass } from '../lib/limits.ts';
import type { UsageRecorder } from '../services/usage-recorder.ts';

/** What `usageRecorder` sets: the app's buffer of API usage events. */
export type UsageVariables = { usage: UsageRecorder };

/**
 * Gives every request the app's usage recorder (one per app, so one per isolate for the Worker): the buffer
 * `recordUsage` adds to, kept by the app rather than by a module (services/usage-recorder.ts).
 */
export function usageRecorder(recorder: UsageRecorder): MiddlewareHandler<AppEnv & { Variables: UsageVariables }> {
  return async function usageRecorder(c, next) {
    c.set('usage', recorder);
    await next();
  };
}

/**
 * Records an org route's request as a usage event (README, "Usage analytics"): org, route class, route, status,
 * latency, and the user or API key. Only requests the org admitted are recorded (after authorization set the
 * tenant), so strangers cannot write into an org's figures. Costs no round trip and no I/O on the request: the
 * event joins the app's buffer, which a timer held by `waitUntil` sends to the queue. First in the kind's
 * middleware, so its latency covers the rest.
 */
export function recordUsage(routeClass: OrgRouteClass): MiddlewareHandler<KindEnv<{ actor?: Actor } & Partial<UsageVariables>>> {
  return async function recordUsage(c, next) {
    const started = performance.now();
    await next();
    const { tenantId: orgId, actor, usage } = c.var;
    if (orgId === undefined || actor === undefined || usage === undefined || c.var.config.USAGE_RECORDING === 'off') return;
    const route = matchedRoutes(c).findLast((matched) => matched.method !== 'ALL');
    usage.record(c.env.JOBS, (promise) => c.executionCtx.waitUntil(promise), {
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
