import { DurableObject } from 'cloudflare:workers';
import { FailureBackoff, type BackoffDecision, type BackoffPolicy } from '../../src/lib/failure-backoff.ts';
import { SlidingLog, type LimitDecision, type LimitRule } from '../../src/lib/sliding-log.ts';
import { assertWithinBounds, backoffKey, backoffPolicySchema, type RateLimiterPingReply } from './rate-limiter.schemas.ts';

/**
 * Exact rate limits and growing-delay throttles, one object per throttle key (e.g. `<orgId>:<class>`,
 * `login:account:<sha256>`). Its state lives in its own SQLite storage, written before each answer, so an
 * evicted or restarted object keeps counting; an alarm deletes what has expired, so idle keys cost nothing.
 * The app reaches it through `rateLimiterFor` (rate-limiter.client.ts), never through the binding.
 */
export class RateLimiter extends DurableObject<Env> {
  private readonly log: SlidingLog;
  private readonly backoff: FailureBackoff;
  /** When the cleanup alarm is set to fire, as far as this instance knows (unknown after a restart). */
  private alarmAt: number | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.log = new SlidingLog(ctx.storage.sql);
    this.backoff = new FailureBackoff(ctx.storage.sql);
  }

  /** Answers without touching storage: proves the namespace routes to a live object. */
  ping(): RateLimiterPingReply {
    return 'pong';
  }

  /** Admits `cost` units under every rule or under none (see src/lib/sliding-log.ts). Throws on invalid rules. */
  limit(rules: LimitRule[], cost = 1): LimitDecision {
    const now = Date.now();
    assertWithinBounds(rules, cost);
    const decision = this.log.consume(rules, now, cost);
    if (decision.allowed) this.cleanUpBy(now + Math.max(...rules.map((rule) => rule.windowMs)));
    return decision;
  }

  /** Admits an attempt under `key` (counted as a failure until forgiven or reset) or refuses it with the wait. */
  backoffAttempt(key: string, policy: BackoffPolicy): BackoffDecision {
    const now = Date.now();
    const valid = backoffPolicySchema.parse(policy);
    const decision = this.backoff.attempt(backoffKey.parse(key), valid, now);
    if (decision.allowed) this.cleanUpBy(now + valid.forgetAfterMs);
    return decision;
  }

  /** Takes back one admitted attempt under `key` that succeeded. */
  backoffForgive(key: string): void {
    this.backoff.forgive(backoffKey.parse(key));
  }

  /** Clears the failures counted under `key`. */
  backoffReset(key: string): void {
    this.backoff.reset(backoffKey.parse(key));
  }

  /** Consecutive failures counted under `key` now. */
  backoffFailures(key: string): number {
    return this.backoff.failures(backoffKey.parse(key), Date.now());
  }

  /** Deletes what has expired; comes back when the next remaining entry expires. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const next = Math.max(this.log.sweep(now) ?? 0, this.backoff.sweep(now) ?? 0);
    this.alarmAt = undefined;
    if (next > now) this.cleanUpBy(next);
  }

  /**
   * Makes sure an alarm will sweep: a set alarm re-arms itself for whatever remains, so only an instance
   * that has none (or does not know of one, after a restart) sets it.
   */
  private cleanUpBy(time: number): void {
    if (this.alarmAt !== undefined) return;
    this.alarmAt = time;
    void this.ctx.storage.setAlarm(time);
  }
}
