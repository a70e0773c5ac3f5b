import { DurableObject } from 'cloudflare:workers';
import { CALLER_RATE_LIMITS, RATE_WINDOW_SECONDS } from '../../src/lib/limits.ts';
import { SweptSlidingLog, type LimitDecision } from '../../src/lib/sliding-log.ts';
import type { UserAdmitRequest, UserAdmitResult } from './user-authority.schemas.ts';

/** A session held live longer than this is re-checked in Postgres: the bound on a change made outside the app (raw SQL). */
const SESSION_MAX_AGE_MS = 10 * 60_000;
/** Sessions held at most (a CI job signing in on every run makes many): past it, all are let go and asked again. */
const MAX_SESSIONS = 1_000;
/** Refused sessions remembered at most: past it, all are forgotten (each then costs one more count and one more gate). */
const MAX_REFUSED = 1_000;

/**
 * The edge authority of one user: on the user's own routes (user, caller and platform kinds) it answers "is this
 * session live, and is the request within the user's limit" in one call, so a route that needs nothing else from
 * Postgres (the flags evaluated for the caller) needs no round trip when warm. Postgres stays the source of truth:
 * a session is held only after the gate has just admitted it (`fill`), until it ends or for at most
 * SESSION_MAX_AGE_MS, and every write that ends a session or deactivates the user drops them all before its
 * response leaves (`changed`), so a revocation acts at once. A fill that raced with such a write is refused by its
 * epoch. Sessions the gate refused are remembered too (`refuse`) and refused at once, uncounted: a stolen access
 * token of a revoked session cannot spend its user's budget for the rest of the token's life. Sessions live in memory
 * only (an evicted object starts cold); the rate-limit log lives in the object's storage, so counts survive eviction.
 */
export class UserAuthority extends DurableObject<Env> {
  #sessionEpoch = crypto.randomUUID();
  /** Sessions the gate has admitted: when each ends (null: never) and when it was confirmed. */
  #sessions = new Map<string, { validUntil: number | null; at: number }>();
  /** Sessions the gate has refused, with when: ended for good (revoked, expired, or their user deactivated). */
  #refused = new Map<string, number>();
  /** The user's limits, per route class. */
  #slidingLog = new SweptSlidingLog(this.ctx.storage);

  /**
   * Counts the request against the user's limit for its class, if it has one, and says whether its session is known
   * live; a session the gate has refused is refused again, and nothing is counted.
   */
  admit(request: UserAdmitRequest): UserAdmitResult {
    const now = Date.now();
    const sessionEpoch = this.#sessionEpoch;
    if (this.#isRefused(request.sessionId, now)) return { live: false, refused: true, sessionEpoch };
    const limit = CALLER_RATE_LIMITS.user[request.routeClass];
    let decision: LimitDecision | undefined;
    if (limit !== undefined) {
      decision = this.#slidingLog.consume([{ key: request.routeClass, limit, windowMs: RATE_WINDOW_SECONDS * 1000 }], now);
      if (!decision.allowed) return { decision, live: false, sessionEpoch };
    }
    return { decision, live: this.#isLive(request.sessionId, now), sessionEpoch };
  }

  /** Holds `sessionId` live until `validUntil`, as the gate has just confirmed (kept only if nothing changed since `sessionEpoch`). */
  fill(sessionEpoch: string, sessionId: string, validUntil: number | null): void {
    if (sessionEpoch !== this.#sessionEpoch) return;
    if (this.#sessions.size >= MAX_SESSIONS) this.#sessions.clear();
    this.#sessions.set(sessionId, { validUntil, at: Date.now() });
  }

  /**
   * The gate has refused `sessionId` in Postgres. Kept whatever changed since: a session that ended never comes back
   * (no write revives a revoked session or a deactivated user), and the memory lasts SESSION_MAX_AGE_MS at most.
   */
  refuse(sessionId: string): void {
    this.#sessions.delete(sessionId);
    if (this.#refused.size >= MAX_REFUSED) this.#refused.clear();
    this.#refused.set(sessionId, Date.now());
  }

  /** A write has ended one of the user's sessions, or all of them (logout, revocation, password reset, deactivation): nothing held stays. */
  changed(): void {
    this.#sessionEpoch = crypto.randomUUID();
    this.#sessions.clear();
  }

  #isRefused(sessionId: string, now: number): boolean {
    const at = this.#refused.get(sessionId);
    if (at === undefined) return false;
    if (now - at <= SESSION_MAX_AGE_MS) return true;
    this.#refused.delete(sessionId);
    return false;
  }

  #isLive(sessionId: string, now: number): boolean {
    const session = this.#sessions.get(sessionId);
    if (!session) return false;
    if (now - session.at > SESSION_MAX_AGE_MS || (session.validUntil !== null && session.validUntil <= now)) {
      this.#sessions.delete(sessionId);
      return false;
    }
    return true;
  }

  /** Deletes the log entries that have left their window. */
  override async alarm(): Promise<void> {
    this.#slidingLog.sweep(Date.now());
  }
}
