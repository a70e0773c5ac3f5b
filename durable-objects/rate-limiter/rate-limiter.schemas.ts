import { z } from 'zod';
import { MAX_RATE_LIMIT } from '../../src/lib/limits.ts';
import type { LimitRule } from '../../src/lib/sliding-log.ts';

/**
 * Names one rate limiter: one object per (tenant, route class), e.g. `<orgId>:<class>`. Never blank, so a
 * missing tenant id cannot pool every tenant into one object.
 */
export const rateLimiterKey = z.string().min(1).max(256);

/** What `ping()` answers: the namespace routes to a live object. */
export const rateLimiterPingReply = z.literal('pong');
export type RateLimiterPingReply = z.infer<typeof rateLimiterPingReply>;

const DAY_MS = 86_400_000;
const MAX_RULES = 8;
const MAX_KEY_LENGTH = 256;

/**
 * Throws unless a `limit()` call is within the limiter's bounds: 1–8 rules, keys of at most 256 characters, limits
 * and a cost of at most MAX_RATE_LIMIT, windows of at most a day (so a key's log stays small, in memory and storage).
 * The sliding log checks the rest (whole numbers, each key once). Hand-written, not a zod schema: it runs on every
 * admission, and zod without its JIT (Workers forbid `eval`) took about 0.2 ms of CPU a call in a profile.
 */
export function assertWithinBounds(rules: readonly LimitRule[], cost: number): void {
  if (!Array.isArray(rules) || rules.length > MAX_RULES) throw new RangeError(`at most ${MAX_RULES} rules`);
  if (cost > MAX_RATE_LIMIT) throw new RangeError(`a cost of at most ${MAX_RATE_LIMIT}`);
  for (const { key, limit, windowMs } of rules) {
    if (key?.length > MAX_KEY_LENGTH || limit > MAX_RATE_LIMIT || windowMs > DAY_MS) throw new RangeError(`rule ${String(key).slice(0, 32)} is out of bounds`);
  }
}

/** A growing-delay throttle (see src/lib/failure-backoff.ts); delays up to a day, forgotten within a week. */
export const backoffPolicySchema = z
  .strictObject({
    freeFailures: z.int().min(0).max(1_000),
    baseDelayMs: z.int().min(1).max(DAY_MS),
    maxDelayMs: z.int().min(1).max(DAY_MS),
    forgetAfterMs: z.int().min(1).max(7 * DAY_MS),
  })
  .refine((policy) => policy.baseDelayMs <= policy.maxDelayMs && policy.maxDelayMs < policy.forgetAfterMs, {
    message: 'need baseDelayMs ≤ maxDelayMs < forgetAfterMs',
  });

/** Names one failure counter inside an object. */
export const backoffKey = z.string().min(1).max(256);
