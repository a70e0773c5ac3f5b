// What the app uses: the client, the message schemas and the types of the answers. The class itself is exported only by src/index.ts.
export { rateLimiterFor, type RateLimiterStub } from './rate-limiter.client.ts';
export {
  backoffPolicySchema,
  rateLimiterKey,
  rateLimiterPingReply,
  type RateLimiterPingReply,
} from './rate-limiter.schemas.ts';
export type { BackoffDecision, BackoffPolicy } from '../../src/lib/failure-backoff.ts';
export type { LimitDecision, LimitRule } from '../../src/lib/sliding-log.ts';
