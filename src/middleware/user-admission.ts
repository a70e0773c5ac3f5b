import type { Context, Next } from 'hono';
import { userAuthorityFor, type UserAdmitResult, type UserAuthorityStub } from '../../durable-objects/user-authority/index.ts';
import { gateRefusal, isSessionRefusal } from '../db/errors.ts';
import type { ScopedDatabase, UserActor } from '../db/tenant.ts';
import type { AppEnv } from '../env.ts';
import type { RouteClass } from '../lib/limits.ts';
import { describeError, log } from '../lib/log.ts';
import { gated, userHandle } from './database.ts';
import { failMode, failOpenOrThrow, rateLimited, setRateLimitHeaders } from './rate-limit.ts';

/** What a signed-in user's own route learned from the user's edge authority (durable-objects/user-authority). */
export interface UserAdmission {
  /** The session is known live: the route needs the gate in Postgres only for the data it reads there. */
  live: boolean;
  /**
   * Runs the rest of the route (`next`) gated on `scoped` (middleware/database.ts), then tells the authority what the
   * gate found: a session it admitted in Postgres, so the next request is warm; one it refused, so the next is refused
   * uncounted.
   */
  run(scoped: ScopedDatabase, next: Next): Promise<void>;
}

/**
 * Counts a signed-in user's request against their own limit (CALLER_RATE_LIMITS.user; 429 when spent) and asks
 * whether their session is known live, in one call to the user's edge authority: with a warm session, a route
 * that reads nothing from Postgres (the flags evaluated for the caller) costs no round trip. When the authority
 * cannot be reached, the request goes on to the Postgres gate unlimited (an `auth` class fails closed), logged.
 */
export async function admitUser<E extends AppEnv>(c: Context<E>, actor: UserActor, routeClass: RouteClass): Promise<UserAdmission> {
  let authority: UserAuthorityStub;
  let result: UserAdmitResult;
  try {
    authority = userAuthorityFor(c.env, actor.id);
    result = await authority.admit({ sessionId: actor.sessionId, routeClass });
  } catch (error) {
    log('error', 'user authority unreachable: the gate decides in Postgres, not rate limited', { routeClass, failing: failMode(c, routeClass), error: describeError(error) });
    failOpenOrThrow(c, routeClass);
    return { live: false, run: (scoped, next) => gated(c, scoped, next) };
  }
  if (result.refused) throw gateRefusal(401);
  if (result.decision && !result.decision.allowed) throw rateLimited(routeClass, result.decision);
  if (result.decision) setRateLimitHeaders(c, routeClass, result.decision);
  // Only a read hands its session on: a write may have ended it (a logout whose report was lost must not be undone).
  const handsOn = !result.live && (c.req.method === 'GET' || c.req.method === 'HEAD');
  async function settle(scoped: ScopedDatabase, failure: unknown): Promise<void> {
    if (isSessionRefusal(failure)) {
      // Ended for good: after the response, as nothing the caller does next depends on it.
      const refused = authority.refuse(actor.sessionId).catch((error: unknown) => {
        log('warn', 'user authority not told of a refused session: its next request is counted and gated again', { error: describeError(error) });
      });
      c.executionCtx.waitUntil(refused);
      return;
    }
    const validUntil = scoped.sessionValidUntil;
    if (!handsOn || validUntil === undefined) return;
    // Before the response: the caller's next request, wherever it lands, finds the session warm.
    await authority.fill(result.sessionEpoch, actor.sessionId, validUntil).catch((error: unknown) => {
      log('error', 'user authority not given a confirmed session: its next request asks Postgres again', { error: describeError(error) });
    });
  }
  return {
    live: result.live,
    async run(scoped, next) {
      try {
        await gated(c, scoped, next);
      } catch (error) {
        await settle(scoped, error);
        throw error;
      }
      // A handler's error has become the response by now; Hono keeps it.
      await settle(scoped, c.error);
    },
  };
}

/**
 * Runs the rest of a signed-in user's own route (`next`) on a handle gated on their session (`use` hands it to the
 * route): admitted at the edge when the user's authority knows the session live, else gated in Postgres and, once
 * admitted there, handed to the authority.
 */
export async function runOnSession<E extends AppEnv>(c: Context<E>, actor: UserActor, routeClass: RouteClass, use: (scoped: ScopedDatabase<UserActor>) => void, next: Next): Promise<void> {
  const admission = await admitUser(c, actor, routeClass);
  const scoped = userHandle(c, actor, { kind: 'user' }, admission.live ? { role: null } : undefined);
  use(scoped);
  await admission.run(scoped, next);
}
