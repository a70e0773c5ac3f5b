import type { LimitDecision } from './sliding-log.ts';

// The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-11): both are Structured Field
// lists of items named by a policy string, e.g.
//   RateLimit-Policy: "read";q=1000;w=60     (the quota q per window w, in seconds)
//   RateLimit: "read";r=998;t=59             (r units left; t seconds within which no more than r may be used)

/** A Structured Field string: printable ASCII only, with `"` and `\` escaped. */
function sfString(value: string): string {
  if (!/^[\x20-\x7E]*$/.test(value)) throw new RangeError('a policy name must be printable ASCII');
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

const seconds = (ms: number) => Math.ceil(Math.max(0, ms) / 1000);

export interface RateLimitFields {
  'RateLimit-Policy': string;
  RateLimit: string;
}

/**
 * The `RateLimit-Policy` and `RateLimit` fields for one policy (e.g. a route class) from a decision of the
 * limiter. `t` is rounded up, so a client that waits it out never arrives early; a window shorter than a
 * second is published as one (the draft allows no sub-second precision).
 */
export function rateLimitHeaders(policy: string, decision: LimitDecision, windowMs: number): RateLimitFields {
  const name = sfString(policy);
  return {
    'RateLimit-Policy': `${name};q=${decision.limit};w=${Math.max(1, seconds(windowMs))}`,
    RateLimit: `${name};r=${decision.remaining};t=${seconds(decision.resetMs)}`,
  };
}

/** `Retry-After` in whole seconds for a refused decision: rounded up, and at least 1. */
export function retryAfterSeconds(decision: Pick<LimitDecision, 'retryAfterMs'>): number {
  return Math.max(1, seconds(decision.retryAfterMs));
}
