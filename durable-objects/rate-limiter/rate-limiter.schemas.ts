import { z } from 'zod';
import { MAX_RATE_LIMIT } from '../../src/lib/limits.ts';

/**
 * Names one rate limiter: one object per (tenant, route class), e.g. `<orgId>:<class>`. Never blank, so a
 * missing tenant id cannot pool every tenant into one object.
 */
export const rateLimiterKey = z.string().min(1).max(256);

/** What `ping()` answers: the namespace routes to a live object. */
export const rateLimiterPingReply = z.literal('pong');
export type RateLimiterPingReply = z.infer<typeof rateLimiterPingReply>;

const DAY_MS = 86_400_000;

/** One rule of `limit()`: a limit of 0 refuses everything; the window is at most a day. */
export const limitRuleSchema = z.strictObject({
  key: z.string().min(1).max(256),
  limit: z.int().min(0).max(MAX_RATE_LIMIT),
  windowMs: z.int().min(1).max(DAY_MS),
});

/** The rules of one `limit()` call: 1–8, each key once (a key is one log with one window). */
export const limitRulesSchema = z
  .array(limitRuleSchema)
  .min(1)
  .max(8)
  .refine((rules) => new Set(rules.map((rule) => rule.key)).size === rules.length, 'each rule key may appear once');

/** What one request costs: usually 1. */
export const limitCostSchema = z.int().min(1).max(MAX_RATE_LIMIT).default(1);

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
