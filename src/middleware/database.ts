import type { Context, Next } from 'hono';
import { createDatabase, type Database } from '../db/client.ts';
import { createScopedDatabase, type Actor, type Gate, type ScopedDatabase, type UserActor } from '../db/tenant.ts';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { requestMeta } from './request-meta.ts';

/**
 * The request's unscoped database handle, for middleware only: handlers get theirs from their route
 * kind (a gated `tenant` or `account`, or `unscopedDb` on public routes). Cheap: the HTTP client is
 * shared per isolate and pools open only for interactive transactions.
 */
export function requestDatabase<E extends AppEnv>(c: Context<E>): Database {
  // A read may be sent twice when the database fails transiently; a write never is (it may have committed).
  const retryReads = c.req.method === 'GET' || c.req.method === 'HEAD';
  return createDatabase(c.var.config, (promise) => c.executionCtx.waitUntil(promise), { retryReads });
}

/**
 * Runs the rest of the request, then fails closed: a success never leaves a gated route unless the gate
 * admitted the caller. Handlers normally send the gate with their first batch (no extra round trip); for
 * one that queried nothing (or swallowed its batch's failure), the gate runs now, and its refusal replaces
 * the response. Work outside Postgres that must not happen for a refused caller calls `enter()` first.
 */
export async function gated<E extends AppEnv>(c: Context<E>, scoped: ScopedDatabase, next: Next): Promise<void> {
  await next();
  if (!scoped.gated && c.res.status < 400) await scoped.enter();
}

/**
 * The caller of a route that acts as a signed-in user outside any org (user and platform-admin kinds):
 * `authenticate({ allow: ['user'] })` has refused API keys already; this narrows the type, and holds on its own.
 */
export function asUser(actor: Actor): UserActor {
  if (actor.type !== 'user') throw new ApiError('FORBIDDEN', 'API keys cannot be used here.');
  return actor;
}

/** The gated handle of such a route. `admitted`: the user's edge authority knows the session live (middleware/user-admission.ts). */
export function userHandle<E extends AppEnv>(c: Context<E>, actor: UserActor, gate: Gate, admitted?: { role: null }): ScopedDatabase<UserActor> {
  return createScopedDatabase(requestDatabase(c), actor, requestMeta(c), gate, admitted);
}
