import { runInDurableObject } from 'cloudflare:test';
import { and, eq } from 'drizzle-orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { rateLimiterFor } from '../../durable-objects/rate-limiter/index.ts';
import { emailTokens, users } from '../../src/db/schema/index.ts';
import { sha256Hex } from '../../src/lib/crypto.ts';
import { EMAIL_SEND_LIMITS } from '../../src/lib/limits.ts';
import { api, createUser, json, ownerDb, TEST_PASSWORD } from '../helpers/factories.ts';
import { env, request } from '../helpers/worker.ts';

type ErrorBody = { error: { code: string; message: string; details?: unknown; requestId: string } };
type OutboxEmail = { to: string; subject: string; data: Record<string, unknown> };

const uniqueEmail = () => `throttle-${crypto.randomUUID().slice(0, 8)}@example.com`;
/** A client address of our own (documentation range), so no other test shares its throttle. */
const uniqueIp = () => `2001:db8::${crypto.randomUUID().slice(0, 4)}:${crypto.randomUUID().slice(0, 4)}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const login = (email: string, password: string, ip?: string) =>
  api('/api/v1/auth/login', { body: { email, password }, headers: ip ? { 'cf-connecting-ip': ip } : {} });

/** Status, Retry-After and the body without its request id: what a client can compare between two answers. */
async function answer(response: Response) {
  const body = await json<ErrorBody | { data: unknown }>(response);
  if ('error' in body) {
    const { requestId: _id, ...error } = body.error;
    return { status: response.status, retryAfter: response.headers.get('retry-after'), error };
  }
  return { status: response.status, retryAfter: response.headers.get('retry-after') };
}

async function answers(count: number, send: () => Promise<Response>) {
  const all = [];
  for (let i = 0; i < count; i += 1) all.push(await answer(await send()));
  return all;
}

const outbox = async (to: string) => (await json<{ data: OutboxEmail[] }>(await api(`/api/dev/outbox?to=${encodeURIComponent(to)}`))).data;
const resetTokens = async (userId: string) =>
  (await ownerDb.http.select().from(emailTokens).where(and(eq(emailTokens.userId, userId), eq(emailTokens.purpose, 'reset_password')))).length;

const throttled = { status: 429, retryAfter: '1', error: { code: 'RATE_LIMITED', message: expect.any(String), details: { policy: 'login-account', retryAfterSeconds: 1 } } };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('log-in throttle per account', () => {
  it('answers 5 wrong passwords with 401, then 429 with Retry-After — even for the right password', async () => {
    const user = await createUser();
    const wrong = await answers(5, () => login(user.email, 'not the password'));
    expect(wrong.map((a) => a.status)).toEqual([401, 401, 401, 401, 401]);
    expect(await answer(await login(user.email, TEST_PASSWORD))).toEqual(throttled);
  });

  it('treats an unknown account exactly like a known one', async () => {
    const known = await createUser();
    const unknown = uniqueEmail();
    const knownAnswers = await answers(6, () => login(known.email, 'not the password'));
    const unknownAnswers = await answers(6, () => login(unknown, 'not the password'));
    expect(unknownAnswers).toEqual(knownAnswers);
    expect(unknownAnswers[5]).toEqual(throttled);
  });

  it('starts the count again after a success, and doubles the delay after each further failure', async () => {
    const user = await createUser();
    await answers(4, () => login(user.email, 'not the password'));
    expect((await login(user.email, TEST_PASSWORD)).status).toBe(200);
    expect((await answers(5, () => login(user.email, 'not the password'))).map((a) => a.status)).toEqual([401, 401, 401, 401, 401]);
    expect((await login(user.email, 'not the password')).status).toBe(429);
    await sleep(1_100);
    expect((await login(user.email, 'not the password')).status).toBe(401);
    const second = await answer(await login(user.email, TEST_PASSWORD));
    expect(second).toMatchObject({ status: 429, retryAfter: '2', error: { details: { policy: 'login-account', retryAfterSeconds: 2 } } });
  });

  it('counts concurrent guesses exactly: 20 at once get 5 answers and 15 refusals', async () => {
    const user = await createUser();
    const statuses = (await Promise.all(Array.from({ length: 20 }, () => login(user.email, 'not the password')))).map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
  });
});

describe('log-in throttle per client IP', () => {
  it('refuses an address after 20 failures across accounts, and leaves other addresses alone', async () => {
    const ip = uniqueIp();
    for (let i = 0; i < 20; i += 1) expect((await login(uniqueEmail(), 'not the password', ip)).status).toBe(401);
    const refused = await answer(await login(uniqueEmail(), 'not the password', ip));
    expect(refused).toMatchObject({ status: 429, error: { code: 'RATE_LIMITED', details: { policy: 'login-ip', retryAfterSeconds: 1 } } });
    // A fresh account from another address is untouched, and the refused attempt was not counted on the account.
    const user = await createUser();
    expect((await login(user.email, TEST_PASSWORD, uniqueIp())).status).toBe(200);
  });

  it('does not count successful sign-ins from a shared address', async () => {
    const ip = uniqueIp();
    const user = await createUser();
    for (let i = 0; i < 25; i += 1) expect((await login(user.email, TEST_PASSWORD, ip)).status).toBe(200);
  });
});

describe('when the limiter cannot be reached', () => {
  // A real misconfiguration: a KV namespace bound where the Durable Object namespace belongs.
  const broken = (extra: Record<string, string> = {}) => ({ ...env, RATE_LIMITER: env.CACHE, ...extra }) as unknown as Env;
  const post = (path: string, body: unknown, bindings: Env) =>
    request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, { bindings });

  it('fails closed by default: 503 SERVICE_UNAVAILABLE with Retry-After, logged', async () => {
    const errors = vi.spyOn(console, 'error');
    const user = await createUser();
    for (const [path, body] of [
      ['/api/v1/auth/login', { email: user.email, password: TEST_PASSWORD }],
      ['/api/v1/auth/forgot-password', { email: user.email }],
    ] as const) {
      const response = await post(path, body, broken());
      expect(response.status).toBe(503);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await json<ErrorBody>(response)).error.code).toBe('SERVICE_UNAVAILABLE');
    }
    const lines = errors.mock.calls.map(([line]) => String(line)).filter((line) => line.includes('rate limiter unreachable'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.join('\n')).not.toContain(user.email);
  });

  it('fails open when configured so: the request goes through unthrottled, still logged', async () => {
    const errors = vi.spyOn(console, 'error');
    const user = await createUser();
    const response = await post('/api/v1/auth/login', { email: user.email, password: TEST_PASSWORD }, broken({ RATE_LIMIT_FAIL_MODE_AUTH: 'open' }));
    expect(response.status).toBe(200);
    expect(errors.mock.calls.some(([line]) => String(line).includes('rate limiter unreachable'))).toBe(true);
  });
});

describe('email caps', () => {
  const forgot = (email: string) =>
    request('/api/v1/auth/forgot-password', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });

  it('forgot-password: the second request in a minute answers the same 202 and sends nothing (logged, masked)', async () => {
    const logs = vi.spyOn(console, 'log');
    const user = await createUser();
    const first = await forgot(user.email);
    const second = await forgot(user.email);
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(await second.json()).toEqual(await first.json());
    // request() waits for the work done after the response: only the first issued a token and queued an email.
    expect(await resetTokens(user.id)).toBe(1);
    await expect.poll(async () => (await outbox(user.email)).length, { timeout: 10_000, interval: 100 }).toBe(1);
    const line = logs.mock.calls.map(([text]) => String(text)).find((text) => text.includes('email throttled'));
    expect(line).toBeDefined();
    expect(line).not.toContain(user.email);
    expect(line).toContain(user.email.slice(0, 3) + '***@example.com');
  });

  it('forgot-password: an unknown address is capped the same way (the answers reveal nothing)', async () => {
    const unknown = uniqueEmail();
    const statuses = [(await forgot(unknown)).status, (await forgot(unknown)).status];
    expect(statuses).toEqual([202, 202]);
  });

  it('verify-email/resend: the second resend in a minute answers the same 202 and sends nothing', async () => {
    const email = uniqueEmail();
    const signup = await api('/api/v1/auth/signup', { body: { email, password: TEST_PASSWORD, name: 'Ada' } });
    const { data } = await json<{ data: { user: { id: string }; tokens: { accessToken: string } } }>(signup);
    const auth = { token: data.tokens.accessToken };
    const resend = () => request('/api/v1/auth/verify-email/resend', { method: 'POST', headers: { authorization: `Bearer ${auth.token}` } });
    const first = await resend();
    const second = await resend();
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(await second.json()).toEqual(await first.json());
    // request() waits for the work after the response: the signup's email and the first resend's, no third.
    await expect.poll(async () => (await outbox(email)).length, { timeout: 10_000, interval: 100 }).toBe(2);
    await sleep(500);
    expect(await outbox(email)).toHaveLength(2);
  });
});

/** The email cap's hourly rule (EMAIL_SEND_LIMITS: 1 a minute, a few an hour). */
function hourlyRule() {
  const rule = EMAIL_SEND_LIMITS.find(({ windowMs }) => windowMs === 3_600_000);
  if (!rule) throw new Error('EMAIL_SEND_LIMITS has no hourly rule');
  return rule;
}

describe('email caps over the hour', () => {
  const hourly = hourlyRule();

  /**
   * Spends `recipient`'s hourly cap for `flow` as if its emails had gone out two minutes ago and earlier: outside
   * the minute's window, inside the hour's (the limiter's log holds when each entry leaves its window).
   */
  async function spendTheHour(flow: string, recipient: string) {
    const stub = rateLimiterFor(env, `email:${flow}:${await sha256Hex(recipient)}`);
    const until = Date.now() + hourly.windowMs - 120_000;
    await runInDurableObject(stub, (_, state) => {
      for (let i = 0; i < hourly.limit; i += 1) state.storage.sql.exec('INSERT INTO sliding_log (key, until) VALUES (?, ?)', hourly.key, until - i * 60_000);
    });
  }

  it(`forgot-password: after ${hourly.limit} in the hour (none in the last minute) the next answers the same 202 and sends nothing`, async () => {
    const user = await createUser();
    await spendTheHour('password-reset', user.email);
    const response = await request('/api/v1/auth/forgot-password', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email }) });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ data: { status: 'accepted' } });
    // request() waits for the work done after the response: no token was issued and nothing queued.
    expect(await resetTokens(user.id)).toBe(0);
    await sleep(500);
    expect(await outbox(user.email)).toHaveLength(0);
  });

  it(`verify-email/resend: after ${hourly.limit} in the hour (none in the last minute) the next answers the same 202 and sends nothing`, async () => {
    const email = uniqueEmail();
    const signup = await api('/api/v1/auth/signup', { body: { email, password: TEST_PASSWORD, name: 'Ada' } });
    const { data } = await json<{ data: { user: { id: string }; tokens: { accessToken: string } } }>(signup);
    await spendTheHour('verify-resend', data.user.id);
    const response = await request('/api/v1/auth/verify-email/resend', { method: 'POST', headers: { authorization: `Bearer ${data.tokens.accessToken}` } });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ data: { status: 'accepted' } });
    // Only the signup's own email.
    await expect.poll(async () => (await outbox(email)).length, { timeout: 10_000, interval: 100 }).toBe(1);
    await sleep(500);
    expect(await outbox(email)).toHaveLength(1);
  });
});

describe('signup per client IP', () => {
  it('admits 30 signups a minute from one address, then 429 RATE_LIMITED (policy auth) with Retry-After; another address goes on', { timeout: 120_000 }, async () => {
    const ip = uniqueIp();
    const signup = (from: string) => api('/api/v1/auth/signup', { body: { email: uniqueEmail(), password: TEST_PASSWORD, name: 'Ada' }, headers: { 'cf-connecting-ip': from } });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i += 1) statuses.push((await signup(ip)).status);
    expect(statuses).toEqual(Array.from({ length: 30 }, () => 201));
    const refused = await signup(ip);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await json<ErrorBody>(refused)).toMatchObject({ error: { code: 'RATE_LIMITED', details: { policy: { name: 'auth', limit: 30 } } } });
    expect((await signup(uniqueIp())).status).toBe(201);
  });
});

describe('uniform signup (SIGNUP_RESPONSE=uniform)', () => {
  const bindings = { ...env, SIGNUP_RESPONSE: 'uniform' } as Env;
  const signup = (email: string) =>
    request('/api/v1/auth/signup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: TEST_PASSWORD, name: 'Ada' }) }, { bindings });

  it('answers a new and a taken address identically; creates the new account and emails the taken address\'s owner', async () => {
    const fresh = uniqueEmail();
    const owner = await createUser();
    const [created, taken] = [await signup(fresh), await signup(owner.email)];
    expect([created.status, taken.status]).toEqual([202, 202]);
    const [createdBody, takenBody] = [await created.json(), await taken.json()];
    expect(createdBody).toEqual({ data: { status: 'accepted' } });
    expect(takenBody).toEqual(createdBody);
    expect(await ownerDb.http.select({ id: users.id }).from(users).where(eq(users.email, fresh))).toHaveLength(1);
    await expect.poll(async () => (await outbox(fresh)).map((email) => email.subject), { timeout: 10_000, interval: 100 }).toEqual(['Confirm your email address']);
    await expect
      .poll(async () => (await outbox(owner.email)).map((email) => email.subject), { timeout: 10_000, interval: 100 })
      .toEqual(['Someone tried to sign up with your email address']);
  });

  it('notifies the owner of a taken address at most once a minute', async () => {
    const owner = await createUser();
    expect((await signup(owner.email)).status).toBe(202);
    expect((await signup(owner.email)).status).toBe(202);
    await expect.poll(async () => (await outbox(owner.email)).length, { timeout: 10_000, interval: 100 }).toBe(1);
    await sleep(500);
    expect(await outbox(owner.email)).toHaveLength(1);
  });
});
