import { DurableObject } from 'cloudflare:workers';
import type { RateLimiterPingReply } from './rate-limiter.schemas.ts';

/**
 * Per-tenant rate limiter: one object per (tenant, route class), so counts are exact, not sampled.
 * This is the binding and its health probe; the limiting algorithm lands with the rate-limit issue.
 * The app reaches it through `rateLimiterFor` (rate-limiter.client.ts), never through the binding.
 */
export class RateLimiter extends DurableObject<Env> {
  /** Answers without touching storage: proves the namespace routes to a live object. */
  ping(): RateLimiterPingReply {
    return 'pong';
  }
}
