import type { MiddlewareHandler } from 'hono';
import type { ScopedDatabase, UserActor } from '../db/tenant.ts';
import type { KindEnv } from '../env.ts';
import { gated, userHandle } from './database.ts';

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
    const { actor, scoped } = userHandle(c, c.var.actor, { kind: 'platform' });
    c.set('actor', actor);
    c.set('platform', scoped);
    await gated(c, scoped, next);
  };
}
