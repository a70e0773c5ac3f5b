import { rateLimiterFor, type BackoffDecision } from '../../durable-objects/rate-limiter/index.ts';
import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';
import { sha256Hex } from '../lib/crypto.ts';
import { EMAIL_SEND_LIMITS, LOGIN_BACKOFF } from '../lib/limits.ts';
import { describeError, log } from '../lib/log.ts';
import { retryAfterSeconds } from '../lib/rate-limit-headers.ts';

// The auth endpoints' own throttles, on top of the per-IP limit of the `auth` route class: growing delays
// for log-in per account and per client IP, and a cap on the emails one address is sent. Each throttle key
// is its own RateLimiter object; emails and addresses appear in object names only as SHA-256 hashes.

type ThrottleConfig = Pick<Config, 'RATE_LIMIT_FAIL_MODE_AUTH'>;
type LimiterEnv = Pick<Env, 'RATE_LIMITER'>;

/** How long a client is asked to wait when the limiter cannot be reached and auth fails closed. */
const UNREACHABLE_RETRY_SECONDS = 5;
const BACKOFF_KEY = 'login';

/**
 * Runs a call to the limiter. When it cannot be reached (the call throws), the fault is logged and the
 * request fails closed (503, the default for auth) or goes on unthrottled (`undefined`), as configured.
 */
async function reach<T>(config: ThrottleConfig, throttle: string, call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    log('error', 'rate limiter unreachable', { throttle, failMode: config.RATE_LIMIT_FAIL_MODE_AUTH, error: describeError(error) });
    if (config.RATE_LIMIT_FAIL_MODE_AUTH === 'open') return undefined;
    throw new ApiError('SERVICE_UNAVAILABLE', 'This service is briefly unavailable; retry after `Retry-After` seconds.', undefined, {
      'Retry-After': String(UNREACHABLE_RETRY_SECONDS),
    });
  }
}

/** Work after the answer is decided (taking attempts back): a failure is logged, never the client's problem. */
async function settle(throttle: string, work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (error) {
    log('error', 'rate limiter unreachable', { throttle, error: describeError(error) });
  }
}

/** One admitted log-in attempt: counted as a failure until the handler says how it ended. */
export interface LoginAttempt {
  /** The password was right: the account's count starts again; the IP's takes this attempt back. */
  succeeded(): Promise<void>;
  /** No password was checked (e.g. the database failed): the attempt is taken back everywhere. */
  abandoned(): Promise<void>;
}

const unthrottled: LoginAttempt = { succeeded: async () => {}, abandoned: async () => {} };

/**
 * Admits a log-in attempt for `email` from `ip`, or throws 429 `RATE_LIMITED` with `Retry-After` and
 * `details: { policy, retryAfterSeconds }`. Known and unknown accounts are counted and answered alike.
 * Without a client IP (only outside Cloudflare, which always sends one) only the account is throttled.
 */
export async function beginLogin(env: LimiterEnv, config: ThrottleConfig, email: string, ip: string | null): Promise<LoginAttempt> {
  const throttles = [
    { policy: 'login-account', name: `login:account:${await sha256Hex(email)}`, backoff: LOGIN_BACKOFF.account },
    ...(ip ? [{ policy: 'login-ip', name: `login:ip:${await sha256Hex(ip)}`, backoff: LOGIN_BACKOFF.ip }] : []),
  ];
  const stub = (name: string) => rateLimiterFor(env, name);
  const decisions = await reach(config, 'login', () => Promise.all(throttles.map(({ name, backoff }) => stub(name).backoffAttempt(BACKOFF_KEY, backoff))));
  if (!decisions) return unthrottled;
  const admitted = throttles.filter((_, i) => decisions[i]?.allowed);
  const forgive = (list: typeof throttles) => settle('login', () => Promise.all(list.map(({ name }) => stub(name).backoffForgive(BACKOFF_KEY))));

  if (admitted.length < throttles.length) {
    // Nothing is tried, so nothing counts: the throttles that admitted the attempt take it back.
    await forgive(admitted);
    const [policy, decision] = longestWait(throttles.map(({ policy }, i) => [policy, decisions[i]] as const));
    const seconds = retryAfterSeconds(decision);
    throw new ApiError('RATE_LIMITED', 'Too many failed sign-in attempts. Try again later.', { policy, retryAfterSeconds: seconds }, { 'Retry-After': String(seconds) });
  }
  return {
    succeeded: () =>
      settle('login', () =>
        Promise.all(throttles.map(({ policy, name }) => (policy === 'login-account' ? stub(name).backoffReset(BACKOFF_KEY) : stub(name).backoffForgive(BACKOFF_KEY)))),
      ),
    abandoned: () => forgive(throttles),
  };
}

function longestWait(entries: ReadonlyArray<readonly [string, BackoffDecision | undefined]>): [string, BackoffDecision] {
  let longest: [string, BackoffDecision] = ['login', { allowed: false, failures: 0, retryAfterMs: 0 }];
  for (const [policy, decision] of entries) if (decision && decision.retryAfterMs > longest[1].retryAfterMs) longest = [policy, decision];
  return longest;
}

/** The flows that email an address on request, each capped on its own. */
export type EmailFlow = 'password-reset' | 'verify-resend' | 'signup-attempt';

/**
 * Whether `flow` may send one more email to `recipient` (an address, or a user id) now: at most 1 a minute
 * and 5 an hour (EMAIL_SEND_LIMITS, all or nothing). A refusal is logged with the address masked; the
 * caller answers exactly as if the email had gone.
 */
export async function mayEmail(env: LimiterEnv, config: ThrottleConfig, flow: EmailFlow, recipient: string): Promise<boolean> {
  const name = `email:${flow}:${await sha256Hex(recipient)}`;
  const decision = await reach(config, flow, () => rateLimiterFor(env, name).limit([...EMAIL_SEND_LIMITS]));
  if (!decision) return true;
  if (!decision.allowed) log('info', 'email throttled: not sent', { flow, recipient, retryAfterSeconds: retryAfterSeconds(decision) });
  return decision.allowed;
}
