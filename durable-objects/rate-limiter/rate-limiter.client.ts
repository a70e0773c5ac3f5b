import type { RateLimiter } from './rate-limiter.ts';
import { rateLimiterKey } from './rate-limiter.schemas.ts';

/** The app's handle on one rate limiter: a stub whose RPC methods are typed by the class. */
export type RateLimiterStub = DurableObjectStub<RateLimiter>;

/**
 * The rate limiter named `key` (see `rateLimiterKey`); throws on a blank key. Every call with the same key
 * reaches the same object, wherever in the world it runs.
 */
export function rateLimiterFor(env: Pick<Env, 'RATE_LIMITER'>, key: string): RateLimiterStub {
  return env.RATE_LIMITER.getByName(rateLimiterKey.parse(key));
}
