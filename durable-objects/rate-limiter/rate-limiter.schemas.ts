import { z } from 'zod';

/**
 * Names one rate limiter: one object per (tenant, route class), e.g. `<orgId>:<class>`. Never blank, so a
 * missing tenant id cannot pool every tenant into one object.
 */
export const rateLimiterKey = z.string().min(1).max(256);

/** What `ping()` answers: the namespace routes to a live object. */
export const rateLimiterPingReply = z.literal('pong');
export type RateLimiterPingReply = z.infer<typeof rateLimiterPingReply>;
