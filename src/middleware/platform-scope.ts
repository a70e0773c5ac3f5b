import type { MiddlewareHandler } from 'hono';
import type { ScopedDatabase, UserActor } from '../db/tenant.ts';
import type { KindEnv } from '../env.ts';
import type { RouteClass } from '../lib/limits.ts';
import { asUser, userHandle } from './database.ts';
import { admitUser } from './user-admission.ts';

export type PlatformScopeVariables = {
  actor: UserActor;
  /** Gated by `app_enter_platform_admin`: a live session of a platform operator. Enters no org. */
  platform: ScopedDatabase<UserActor>;
};

/**
 * The authorization of platform-admin routes (the product's own operators, across tenants): counts the request
 * against the user's own limit and hands the route a database gated on the caller being a platform admin, always
 * checked in Postgres; anyone else gets 404, as for a route that does not exist. Runs after `authenticate`; API keys
 * are refused.
 */
export function platformScope(routeClass: RouteClass): MiddlewareHandler<KindEnv<PlatformScopeVariables>> {
  return async function platformScope(c, next) {
    const actor = asUser(c.var.actor);
    const admission = await admitUser(c, actor, routeClass);
    const scoped = userHandle(c, actor, { kind: 'platform' });
    c.set('actor', actor);
    c.set('platform', scoped);
    await admission.run(scoped, next);
  };
}
