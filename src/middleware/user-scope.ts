import type { MiddlewareHandler } from 'hono';
import type { ScopedDatabase, UserActor } from '../db/tenant.ts';
import type { KindEnv } from '../env.ts';
import type { RouteClass } from '../lib/limits.ts';
import { describeError, log } from '../lib/log.ts';
import { asUser } from './database.ts';
import { reportUserSessionsEnded } from './edge-changes.ts';
import { runOnSession } from './user-admission.ts';

export type UserScopeVariables = {
  actor: UserActor;
  /** The caller's own data: each batch starts with `app_enter_user` (live session, active account). */
  account: ScopedDatabase<UserActor>;
};

/**
 * The authorization of user routes (a signed-in user acting for themself, in no org): counts the request against
 * the user's own limit and hands the route a database gated on the caller's session, so logout and deactivation
 * act at once. A session the user's edge authority knows live needs no gate of its own (a batch still carries it,
 * for row-level security). Runs after `authenticate`; API keys are refused.
 */
export function userScope(routeClass: RouteClass): MiddlewareHandler<KindEnv<UserScopeVariables>> {
  return async function userScope(c, next) {
    const actor = asUser(c.var.actor);
    c.set('actor', actor);
    await runOnSession(c, actor, routeClass, (scoped) => c.set('account', scoped), next);
    // A write that failed after it may have committed (a lost reply from Postgres) may have ended sessions whose
    // handler never got to report it: tell the authorities anyway (it costs only cold requests). A refusal changed nothing.
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && c.res.status >= 500) {
      await reportUserSessionsEnded(c, actor.id).catch((error: unknown) => log('error', 'authorities not told of a failed user write', { error: describeError(error) }));
    }
  };
}
