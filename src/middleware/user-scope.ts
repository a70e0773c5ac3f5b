import type { MiddlewareHandler } from 'hono';
import type { ScopedDatabase, UserActor } from '../db/tenant.ts';
import type { KindEnv } from '../env.ts';
import { gated, userHandle } from './database.ts';

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
    const { actor, scoped } = userHandle(c, c.var.actor, { kind: 'user' });
    c.set('actor', actor);
    c.set('account', scoped);
    await gated(c, scoped, next);
  };
}
