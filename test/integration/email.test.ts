import { and, eq } from 'drizzle-orm';
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { getConfig } from '../../src/config.ts';
import { credentials, emailTokens, jobFailures } from '../../src/db/schema/index.ts';
import { sha256Hex } from '../../src/lib/crypto.ts';
import { renderEmail } from '../../src/services/email-templates.ts';
import { createQueueHandler } from '../../workers/queue.ts';
import { jobs } from '../../workers/jobs/registry.ts';
import { api, createApiKey, createOrg, createUser, json, ownerDb, TEST_PASSWORD, type TestUser } from '../helpers/factories.ts';
import { JOBS_QUEUE, job, message, runBatch } from '../helpers/queue.ts';
import { env, fakeServiceRequests, request, testDb } from '../helpers/worker.ts';

type OutboxEmail = { to: string; subject: string; text: string; html: string; data: { token: string } & Record<string, unknown> };
type ErrorBody = { error: { code: string; message: string; details?: { reason?: string; issues?: Array<{ path: string }> } } };

const VERIFY_SUBJECT = 'Confirm your email address';
const RESET_SUBJECT = 'Reset your password';
const NEW_PASSWORD = 'a brand new password';

const uniqueEmail = () => `mail-${crypto.randomUUID().slice(0, 8)}@example.com`;
const outbox = async (to: string) => (await json<{ data: OutboxEmail[] }>(await api(`/api/dev/outbox?to=${encodeURIComponent(to)}`))).data;

/** Polls the dev outbox until `count` emails with `subject` have reached `to` through the real queue; newest first. */
async function emailsTo(to: string, subject: string, count = 1): Promise<OutboxEmail[]> {
  await expect.poll(async () => (await outbox(to)).filter((email) => email.subject === subject).length, { timeout: 10_000, interval: 100 }).toBeGreaterThanOrEqual(count);
  return (await outbox(to)).filter((email) => email.subject === subject);
}

async function latestToken(to: string, subject: string, count = 1): Promise<string> {
  const [email] = await emailsTo(to, subject, count);
  if (!email) throw new Error('no email');
  return email.data.token;
}

const post = (path: string, body: unknown, auth?: TestUser | { token: string } | { apiKey: string }) => api(path, { method: 'POST', body, auth });
const errorOf = async (response: Response) => (await json<ErrorBody>(response)).error;
const signUp = async (name = 'Ada') => {
  const email = uniqueEmail();
  const response = await post('/api/v1/auth/signup', { email, password: TEST_PASSWORD, name });
  const { data } = await json<{ data: { user: { id: string }; tokens: { accessToken: string } } }>(response);
  return { email, id: data.user.id, auth: { token: data.tokens.accessToken } };
};
const isVerified = async (auth: { token: string }) => (await json<{ data: { emailVerified: boolean } }>(await api('/api/v1/me', { auth }))).data.emailVerified;

/** Stores an email token directly, for states the routes never hand out (expired). */
async function storedToken(userId: string, purpose: 'verify_email' | 'reset_password', expiresAt: Date): Promise<string> {
  const token = `test-${crypto.randomUUID()}`;
  await ownerDb.http.insert(emailTokens).values({ tokenHash: await sha256Hex(token), userId, purpose, expiresAt });
  return token;
}

describe('email verification', () => {
  it('signup → verification email through the real queue → verify with its token', async () => {
    const account = await signUp('<b>Ada</b> & "co"');
    expect(await isVerified(account.auth)).toBe(false);
    const [email] = await emailsTo(account.email, VERIFY_SUBJECT);
    if (!email) throw new Error('no email');
    expect(email.to).toBe(account.email);
    expect(email.text).toContain(`http://localhost:8787/verify-email?token=${email.data.token}`);
    expect(email.html).toContain(`href="http://localhost:8787/verify-email?token=${email.data.token}"`);
    expect(email.html).toContain('Hi &lt;b&gt;Ada&lt;/b&gt; &amp; &quot;co&quot;,');
    expect(email.html).not.toContain('<b>Ada</b>');

    const verified = await post('/api/v1/auth/verify-email', { token: email.data.token });
    expect(verified.status).toBe(200);
    expect(await json(verified)).toEqual({ data: { emailVerified: true } });
    expect(await isVerified(account.auth)).toBe(true);

    const again = await post('/api/v1/auth/verify-email', { token: email.data.token });
    expect(again.status).toBe(410);
    expect(await errorOf(again)).toMatchObject({ code: 'GONE', details: { reason: 'token_used' } });
  });

  it('rejects unknown (400), expired (410) and reset tokens, and changes nothing', async () => {
    const account = await signUp();
    const unknown = await post('/api/v1/auth/verify-email', { token: 'no-such-token' });
    expect(unknown.status).toBe(400);
    expect(await errorOf(unknown)).toMatchObject({ code: 'BAD_REQUEST', details: { reason: 'token_invalid' } });
    const expired = await post('/api/v1/auth/verify-email', { token: await storedToken(account.id, 'verify_email', new Date(Date.now() - 1000)) });
    expect(expired.status).toBe(410);
    expect(await errorOf(expired)).toMatchObject({ code: 'GONE', details: { reason: 'token_expired' } });
    const wrongPurpose = await post('/api/v1/auth/verify-email', { token: await storedToken(account.id, 'reset_password', new Date(Date.now() + 60_000)) });
    expect(wrongPurpose.status).toBe(400);
    expect(await isVerified(account.auth)).toBe(false);
    const missing = await post('/api/v1/auth/verify-email', {});
    expect(missing.status).toBe(400);
    expect((await errorOf(missing)).details?.issues?.map((issue) => issue.path)).toEqual(['token']);
  });

  it('resend: 202 and a fresh email for an unverified account; 409 once verified', async () => {
    const account = await signUp();
    await emailsTo(account.email, VERIFY_SUBJECT);
    const resent = await post('/api/v1/auth/verify-email/resend', undefined, account.auth);
    expect(resent.status).toBe(202);
    expect(await json(resent)).toEqual({ data: { status: 'accepted' } });
    const token = await latestToken(account.email, VERIFY_SUBJECT, 2);
    expect((await post('/api/v1/auth/verify-email', { token })).status).toBe(200);
    const already = await post('/api/v1/auth/verify-email/resend', undefined, account.auth);
    expect(already.status).toBe(409);
    expect(await errorOf(already)).toMatchObject({ code: 'CONFLICT', details: { reason: 'already_verified' } });
  });

  it('resend: 401 without credentials or after logout; 403 for an API key', async () => {
    const user = await createUser();
    const key = await createApiKey(await createOrg(user), { scopes: ['org:read'] });
    expect((await post('/api/v1/auth/verify-email/resend', undefined)).status).toBe(401);
    expect((await post('/api/v1/auth/verify-email/resend', undefined, { apiKey: key.key })).status).toBe(403);
    const account = await signUp();
    expect((await post('/api/v1/auth/logout', undefined, account.auth)).status).toBe(204);
    expect((await post('/api/v1/auth/verify-email/resend', undefined, account.auth)).status).toBe(401);
  });
});

describe('password reset', () => {
  it('forgot → reset email → new password: every session ends, the old password stops working', async () => {
    const user = await createUser();
    const forgot = await post('/api/v1/auth/forgot-password', { email: ` ${user.email.toUpperCase()}` });
    expect(forgot.status).toBe(202);
    const [email] = await emailsTo(user.email, RESET_SUBJECT);
    if (!email) throw new Error('no email');
    expect(email.text).toContain(`http://localhost:8787/reset-password?token=${email.data.token}`);

    const reset = await post('/api/v1/auth/reset-password', { token: email.data.token, password: NEW_PASSWORD });
    expect(reset.status).toBe(204);
    expect((await api('/api/v1/me', { auth: user })).status).toBe(401);
    expect((await post('/api/v1/auth/login', { email: user.email, password: TEST_PASSWORD })).status).toBe(401);
    expect((await post('/api/v1/auth/login', { email: user.email, password: NEW_PASSWORD })).status).toBe(200);
    const reused = await post('/api/v1/auth/reset-password', { token: email.data.token, password: 'yet another password' });
    expect(reused.status).toBe(410);
    expect((await errorOf(reused)).details?.reason).toBe('token_used');
  });

  it('answers an unknown email exactly like a known one, and sends nothing', async () => {
    const unknown = uniqueEmail();
    const known = await createUser();
    const answers = await Promise.all([post('/api/v1/auth/forgot-password', { email: unknown }), post('/api/v1/auth/forgot-password', { email: known.email })]);
    expect(answers.map((response) => response.status)).toEqual([202, 202]);
    const [unknownBody, knownBody] = await Promise.all(answers.map((response) => response.json()));
    expect(unknownBody).toEqual(knownBody);
    await emailsTo(known.email, RESET_SUBJECT);
    expect(await outbox(unknown)).toEqual([]);
  });

  it('issues nothing for a deactivated account', async () => {
    const user = await createUser();
    await ownerDb.http.update(credentials).set({ deactivatedAt: new Date() }).where(eq(credentials.userId, user.id));
    // request() waits for the work done after the response, so its absence can be asserted at once.
    const response = await request('/api/v1/auth/forgot-password', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: user.email }) });
    expect(response.status).toBe(202);
    expect(await ownerDb.http.select().from(emailTokens).where(and(eq(emailTokens.userId, user.id), eq(emailTokens.purpose, 'reset_password')))).toEqual([]);
  });

  it('a new reset link spends the previous one', async () => {
    const user = await createUser();
    // The earlier link is stored directly: one address gets at most one reset email a minute.
    const first = await storedToken(user.id, 'reset_password', new Date(Date.now() + 3_600_000));
    await post('/api/v1/auth/forgot-password', { email: user.email });
    const second = await latestToken(user.email, RESET_SUBJECT, 1);
    expect(second).not.toBe(first);
    expect((await post('/api/v1/auth/reset-password', { token: first, password: NEW_PASSWORD })).status).toBe(410);
    expect((await post('/api/v1/auth/reset-password', { token: second, password: NEW_PASSWORD })).status).toBe(204);
  });

  it('refuses a password equal to the email without spending the token (no partial state)', async () => {
    const user = await createUser();
    const token = await storedToken(user.id, 'reset_password', new Date(Date.now() + 60_000));
    const refused = await post('/api/v1/auth/reset-password', { token, password: user.email.toUpperCase() });
    expect(refused.status).toBe(400);
    expect(await errorOf(refused)).toMatchObject({ code: 'VALIDATION_FAILED', details: { issues: [expect.objectContaining({ path: 'password' })] } });
    expect((await api('/api/v1/me', { auth: user })).status).toBe(200);
    expect((await post('/api/v1/auth/login', { email: user.email, password: TEST_PASSWORD })).status).toBe(200);
    expect((await post('/api/v1/auth/reset-password', { token, password: NEW_PASSWORD })).status).toBe(204);
  });

  it('rejects unknown (400), expired (410), a deactivated account’s token (400) and bad bodies (400 with paths)', async () => {
    const user = await createUser();
    const unknown = await post('/api/v1/auth/reset-password', { token: 'no-such-token', password: NEW_PASSWORD });
    expect(unknown.status).toBe(400);
    expect((await errorOf(unknown)).details?.reason).toBe('token_invalid');
    const expired = await post('/api/v1/auth/reset-password', { token: await storedToken(user.id, 'reset_password', new Date(Date.now() - 1000)), password: NEW_PASSWORD });
    expect(expired.status).toBe(410);
    expect((await errorOf(expired)).details?.reason).toBe('token_expired');
    const verifyToken = await storedToken(user.id, 'verify_email', new Date(Date.now() + 60_000));
    expect((await post('/api/v1/auth/reset-password', { token: verifyToken, password: NEW_PASSWORD })).status).toBe(400);
    const short = await post('/api/v1/auth/reset-password', { token: 'x', password: 'short' });
    expect(short.status).toBe(400);
    expect((await errorOf(short)).details?.issues?.map((issue) => issue.path)).toEqual(['password']);

    const ghost = await createUser();
    const ghostToken = await storedToken(ghost.id, 'reset_password', new Date(Date.now() + 60_000));
    await ownerDb.http.update(credentials).set({ deactivatedAt: new Date() }).where(eq(credentials.userId, ghost.id));
    expect((await post('/api/v1/auth/reset-password', { token: ghostToken, password: NEW_PASSWORD })).status).toBe(400);
    expect((await post('/api/v1/auth/login', { email: ghost.email, password: NEW_PASSWORD })).status).toBe(401);
    expect((await api('/api/v1/me', { auth: user })).status).toBe(200);
  });

  it('lets exactly one of two concurrent resets with the same token win', async () => {
    const user = await createUser();
    const token = await storedToken(user.id, 'reset_password', new Date(Date.now() + 60_000));
    const [a, b] = await Promise.all(['first new password', 'second new password'].map((password) => post('/api/v1/auth/reset-password', { token, password })));
    expect([a?.status, b?.status].sort()).toEqual([204, 410]);
  });
});

describe('GET /api/dev/outbox', () => {
  it('is 404 NOT_FOUND unless DEV_OUTBOX=on, before any validation, even in development', async () => {
    for (const bindings of [{ ...env, APP_ENV: 'production', DEV_OUTBOX: 'off' }, { ...env, APP_ENV: 'development', DEV_OUTBOX: 'off' }, { ...env, DEV_OUTBOX: undefined }]) {
      const response = await request('/api/dev/outbox', {}, { bindings: bindings as Env });
      expect(response.status).toBe(404);
      expect((await response.json<ErrorBody>()).error.code).toBe('NOT_FOUND');
    }
  });

  it('answers loopback callers only', async () => {
    const to = encodeURIComponent('someone@example.com');
    expect((await SELF.fetch(`http://localhost/api/dev/outbox?to=${to}`)).status).toBe(200);
    expect((await SELF.fetch(`http://127.0.0.1/api/dev/outbox?to=${to}`)).status).toBe(200);
    expect((await SELF.fetch(`http://dev.example.com/api/dev/outbox?to=${to}`)).status).toBe(404);
    const proxied = await SELF.fetch(`http://localhost/api/dev/outbox?to=${to}`, { headers: { 'cf-connecting-ip': '203.0.113.9' } });
    expect(proxied.status).toBe(404);
  });

  it('cannot be turned on in production or staging: the configuration is refused', async () => {
    for (const APP_ENV of ['production', 'staging']) {
      expect(() => getConfig({ ...env, APP_ENV, DEV_OUTBOX: 'on' } as Env)).toThrow('Invalid configuration: DEV_OUTBOX');
    }
  });

  it('400s an invalid `to`, lists every recipient without one, newest first, each mail with its url', async () => {
    const invalid = await api('/api/dev/outbox?to=not-an-email');
    expect(invalid.status).toBe(400);
    expect((await errorOf(invalid)).details?.issues?.map((issue) => issue.path)).toEqual(['to']);
    const user = await createUser();
    await post('/api/v1/auth/forgot-password', { email: user.email });
    const first = await latestToken(user.email, RESET_SUBJECT, 1);
    // The second email goes straight through the job: one address gets at most one reset email a minute.
    const second = { to: user.email, template: 'reset-password', data: { token: `tok-${crypto.randomUUID()}`, name: 'Ada' } };
    await jobs['email.send'].run({ env, db: testDb(env) }, jobs['email.send'].payload.parse(second));
    const emails = await emailsTo(user.email, RESET_SUBJECT, 2);
    expect(emails.map((email) => email.data.token)[1]).toBe(first);
    expect(Object.keys(emails[0] ?? {}).sort()).toEqual(['data', 'html', 'subject', 'text', 'to']);
    expect(emails[0]?.data.url).toBe(`http://localhost:8787/reset-password?token=${second.data.token}`);
    // Without `to`: everyone's, newest first (the newest OUTBOX_LIMIT; other tests send too).
    const everyone = await json<{ data: Array<{ to: string; data: { token?: string } }> }>(await api('/api/dev/outbox'));
    expect(everyone.data.map((email) => email.data.token)).toContain(second.data.token);
  });
});

describe('email.send job', () => {
  const invitation = {
    to: 'Invitee@Example.com',
    template: 'invitation',
    data: { token: 'inv-token-1', url: 'https://evil.example/phish', orgName: '<script>alert("x")</script>', role: 'admin', inviterName: 'Tom & Jerry' },
  };
  const providerBindings = (path: string) => ({ ...env, EMAIL_PROVIDER_URL: `${env.FAKE_SERVICES_URL}${path}`, EMAIL_API_KEY: 're_test_123' });
  const run = (bindings: Env, payload: unknown) => jobs['email.send'].run({ env: bindings, db: testDb(bindings) }, jobs['email.send'].payload.parse(payload));

  it('POSTs a Resend-style request to the provider, with the API key, escaped HTML and a stable idempotency key', async () => {
    const path = `/emails/${crypto.randomUUID()}`;
    await run(providerBindings(path), invitation);
    await run(providerBindings(path), invitation);
    const received = await fakeServiceRequests(path);
    expect(received).toHaveLength(2);
    const [first, retry] = received;
    expect(first?.method).toBe('POST');
    expect(first?.headers.authorization).toBe('Bearer re_test_123');
    expect(first?.headers['content-type']).toBe('application/json');
    expect(first?.headers['idempotency-key']).toMatch(/^[0-9a-f]{64}$/);
    expect(retry?.headers['idempotency-key']).toBe(first?.headers['idempotency-key']);
    const body = JSON.parse(first?.body ?? '{}') as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual(['from', 'html', 'subject', 'text', 'to']);
    expect(body).toMatchObject({ from: 'Edge SaaS <no-reply@example.com>', to: 'invitee@example.com', subject: 'Tom & Jerry invited you to <script>alert("x")</script>' });
    expect(body.html).toContain('Tom &amp; Jerry invited you to join &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; as admin.');
    expect(body.html).not.toContain('<script>');
    // A link from the payload that leaves APP_URL's origin is not used.
    expect(body.html).not.toContain('evil.example');
    expect(body.text).toContain('http://localhost:8787/invitations/accept?token=inv-token-1');
  });

  it('fails (so the queue retries) when the provider answers non-2xx, and records why', async () => {
    // The local Neon proxy is a real HTTP server that answers 404 to any other path.
    const failing = { ...env, EMAIL_PROVIDER_URL: `http://${env.NEON_LOCAL_PROXY}/emails`, EMAIL_API_KEY: 're_test_123' };
    await expect(run(failing, invitation)).rejects.toThrow('Email provider answered HTTP 404.');
    const queued = job('email.send', invitation);
    const result = await runBatch(createQueueHandler(), failing, JOBS_QUEUE, [message(queued)]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retried).toHaveLength(1);
    const [failure] = await ownerDb.http.select().from(jobFailures).where(eq(jobFailures.jobId, queued.id));
    expect(failure?.lastError).toBe('Email provider answered HTTP 404.');
  });

  it('refuses to run without a provider unless DEV_OUTBOX=on', async () => {
    await expect(run({ ...env, APP_ENV: 'production', DEV_OUTBOX: 'off' }, invitation)).rejects.toThrow('Email delivery is not configured');
    // A deployment left on the default `development` environment without a provider fails as loudly.
    await expect(run({ ...env, APP_ENV: 'development', DEV_OUTBOX: 'off' }, invitation)).rejects.toThrow('Email delivery is not configured');
  });

  it('writes to the dev outbox once, even when the job runs twice', async () => {
    const to = uniqueEmail();
    const payload = { to, template: 'reset-password', data: { token: `tok-${crypto.randomUUID()}`, name: 'Ada' } };
    await run(env, payload);
    await run(env, payload);
    expect(await outbox(to)).toHaveLength(1);
  });

  it('gives up at once on a payload no template accepts', async () => {
    const bad = job('email.send', { to: uniqueEmail(), template: 'newsletter', data: {} });
    const result = await runBatch(createQueueHandler(), env, JOBS_QUEUE, [message(bad)]);
    expect(result.retried).toEqual([]);
    const [failure] = await ownerDb.http.select().from(jobFailures).where(eq(jobFailures.jobId, bad.id));
    expect(failure).toMatchObject({ deadAt: expect.any(Date), lastError: expect.stringContaining('invalid payload') });
  });

  it('uses an invitation link from the payload only when it points at APP_URL', () => {
    const config = { APP_URL: 'https://app.example.com' };
    const data = { token: 't1', orgName: 'Acme', role: 'member' as const, inviterName: 'Ann' };
    expect(renderEmail(config, 'invitation', { ...data, url: 'https://app.example.com/join/t1' }).text).toContain('https://app.example.com/join/t1');
    expect(renderEmail(config, 'invitation', { ...data, url: 'https://elsewhere.example/join/t1' }).text).toContain('https://app.example.com/invitations/accept?token=t1');
    expect(renderEmail(config, 'invitation', { ...data, inviterName: 'Eve\r\nBcc: x@example.com' }).subject).not.toMatch(/[\r\n]/);
  });
});

