import type { MiddlewareHandler } from 'hono';
import { createScopedDatabase, type Actor, type ScopedDatabase, type UserActor } from '../db/tenant.ts';
import type { KindEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { gated, requestDatabase } from './database.ts';
import { requestMeta } from './request-meta.ts';

export type PlatformScopeVariables = {
  actor: UserActor;
  /** Gated by `app_enter_platform_admin`: a live session of a platform operator. Enters no org. */
  platform: ScopedDatabase<UserActor>;
};

/**
 * The authorization of platform-admin routes (the product's own operators, across tenants): hands the
 * route a database gated on the caller being a platform admin; anyone else gets 404, as for a route that
 * does not exist. Runs after `authenticate`; API keys are refused.
 */
export function platformScope(): MiddlewareHandler<KindEnv<PlatformScopeVariables>> {
  return async function platformScope(c, next) {
    const actor: Actor = c.var.actor;
    // `authenticate({ allow: ['user'] })` has refused keys already; this narrows the type, and holds on its own.
    if (actor.type !== 'user') throw new ApiError('FORBIDDEN', 'API keys cannot be used here.');
    const platform = createScopedDatabase(requestDatabase(c), actor, requestMeta(c), { kind: 'platform' });
    c.set('actor', actor);
    c.set('platform', platform);
    await gated(c, platform, next);
  };
}
