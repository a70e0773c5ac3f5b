// What the app uses: the client and the message schemas. The class itself is exported only by src/index.ts.
export { rateLimiterFor, type RateLimiterStub } from './rate-limiter.client.ts';
export { rateLimiterKey, rateLimiterPingReply, type RateLimiterPingReply } from './rate-limiter.schemas.ts';
