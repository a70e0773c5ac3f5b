import type { MiddlewareHandler } from 'hono';
import { createScopedDatabase, type Actor, type ScopedDatabase, type UserActor } from '../db/tenant.ts';
import type { KindEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { gated, requestDatabase } from './database.ts';
import { requestMeta } from './request-meta.ts';

export type UserScopeVariables = {
  actor: UserActor;
  /** The caller's own data: each batch starts with `app_enter_user` (live session, active account). */
  account: ScopedDatabase<UserActor>;
};

/**
 * The authorization of user routes (a signed-in user acting for themself, in no org): hands the route
 * a database gated on the caller's session, so logout and deactivation act at once. Runs after
 * `authenticate`; API keys are refused.
 */
export function userScope(): MiddlewareHandler<KindEnv<UserScopeVariables>> {
  return async function userScope(c, next) {
    const actor: Actor = c.var.actor;
    // `authenticate({ allow: ['user'] })` has refused keys already; this narrows the type, and holds on its own.
    if (actor.type !== 'user') throw new ApiError('FORBIDDEN', 'API keys cannot be used here.');
    const account = createScopedDatabase(requestDatabase(c), actor, requestMeta(c), { kind: 'user' });
    c.set('actor', actor);
    c.set('account', account);
    await gated(c, account, next);
  };
}
