import type { Context, MiddlewareHandler } from 'hono';
import type { LimitScope } from '../../durable-objects/org-authority/index.ts';
import { rateLimiterFor } from '../../durable-objects/rate-limiter/index.ts';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { CALLER_RATE_LIMITS, RATE_WINDOW_SECONDS, type RouteClass } from '../lib/limits.ts';
import { describeError, log } from '../lib/log.ts';
import { rateLimitHeaders, retryAfterSeconds } from '../lib/rate-limit-headers.ts';
import type { LimitDecision, LimitRule } from '../lib/sliding-log.ts';

const WINDOW_MS = RATE_WINDOW_SECONDS * 1000;

/**
 * Limits anonymous traffic exactly, per client address (the one Cloudflare gives, `CF-Connecting-IP`) and class:
 * one RateLimiter object per address. Signed-in users are limited by their own edge authority
 * (middleware/user-admission.ts), org routes by their org's (middleware/edge-admission.ts). When the limiter
 * cannot be reached, `auth` routes fail closed (503; or open with RATE_LIMIT_FAIL_MODE_AUTH=open) and the others
 * open; both are logged.
 */
export function ipRateLimit(routeClass: RouteClass): MiddlewareHandler<AppEnv> {
  const limit = CALLER_RATE_LIMITS.ip[routeClass];
  if (limit === undefined) return async function notLimited(_, next) {
    await next();
  };
  const rule = { key: routeClass, limit, windowMs: WINDOW_MS };
  return async function ipRateLimit(c, next) {
    if (!(await limitClientAddress(c, rule, failMode(c, routeClass)))) failOpenOrThrow(c, routeClass);
    await next();
  };
}

/**
 * Counts the request in the client address's bucket `rule` (its key is the policy the headers name): 429 when it is
 * spent, the RateLimit headers when admitted. False when the limiter cannot be reached (logged with `failing`).
 */
export async function limitClientAddress<E extends AppEnv>(c: Context<E>, rule: LimitRule, failing: 'open' | 'closed'): Promise<boolean> {
  const decision = await limitOrUnreachable(c.env, `ip:${clientAddress(c)}`, [rule], { scope: 'ip', policy: rule.key, failing });
  if (!decision) return false;
  if (!decision.allowed) throw rateLimited(rule.key, decision);
  setRateLimitHeaders(c, rule.key, decision);
  return true;
}

/** How a request of `routeClass` fails when its limiter cannot be reached: `auth` closed (unless configured open), the rest open. */
export function failMode<E extends AppEnv>(c: Context<E>, routeClass: RouteClass): 'open' | 'closed' {
  return routeClass === 'auth' && c.var.config.RATE_LIMIT_FAIL_MODE_AUTH === 'closed' ? 'closed' : 'open';
}

/** The limiter could not be reached (and that is logged): returns to go on unlimited, or throws the 503 of a class that fails closed. */
export function failOpenOrThrow<E extends AppEnv>(c: Context<E>, routeClass: RouteClass): void {
  if (failMode(c, routeClass) === 'closed') throw new ApiError('SERVICE_UNAVAILABLE', 'Sign-in is briefly unavailable. Retry shortly.', undefined, { 'Retry-After': '1' });
}

/** One exact check on the RateLimiter named `name`; undefined when it cannot be reached (logged with `context`). */
export async function limitOrUnreachable(env: Env, name: string, rules: LimitRule[], context: Record<string, unknown>): Promise<LimitDecision | undefined> {
  try {
    return await rateLimiterFor(env, name).limit(rules);
  } catch (error) {
    log('error', 'rate limiter unreachable', { ...context, error: describeError(error) });
    return undefined;
  }
}

/**
 * The 429 for a refused decision of policy `policy` (a route class, or e.g. `cold-admissions`): `RATE_LIMITED`,
 * the policy in `details` (on org routes with its `scope`: the org's limit, or the caller's own within it), the
 * RateLimit fields and `Retry-After`.
 */
export function rateLimited(policy: string, decision: LimitDecision, scope?: LimitScope): ApiError {
  const retryAfter = retryAfterSeconds(decision);
  const whose = scope === 'caller' ? ' (yours, within the org)' : scope === 'org' ? ' (the org’s)' : '';
  const message = `Rate limit of ${decision.limit} "${policy}" requests per ${RATE_WINDOW_SECONDS} s${whose} reached; retry after ${retryAfter} s.`;
  const details = { policy: { name: policy, ...(scope ? { scope } : {}), limit: decision.limit, windowSeconds: RATE_WINDOW_SECONDS }, retryAfterSeconds: retryAfter };
  return new ApiError('RATE_LIMITED', message, details, { ...rateLimitHeaders(policy, { ...decision, remaining: 0 }, WINDOW_MS), 'Retry-After': String(retryAfter) });
}

/** Publishes an admitted request's limit state (IETF `RateLimit-Policy` / `RateLimit`) under `policy` (its route class, usually). */
export function setRateLimitHeaders<E extends AppEnv>(c: Context<E>, policy: string, decision: LimitDecision): void {
  for (const [header, value] of Object.entries(rateLimitHeaders(policy, decision, WINDOW_MS))) c.header(header, value);
}

/** The client's address as Cloudflare's edge saw it; `unknown` off Cloudflare, or for anything not shaped like one (one shared bucket). */
export function clientAddress<E extends AppEnv>(c: Context<E>): string {
  const address = c.req.header('cf-connecting-ip')?.trim().toLowerCase() ?? '';
  return /^[0-9a-f.:]{2,45}$/.test(address) ? address : 'unknown';
}
