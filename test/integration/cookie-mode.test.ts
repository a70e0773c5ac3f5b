import { eq, sql } from 'drizzle-orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { rateLimiterFor } from '../../durable-objects/rate-limiter/index.ts';
import { refreshTokens, sessions } from '../../src/db/schema/index.ts';
import { sha256Hex } from '../../src/lib/crypto.ts';
import { CALLER_RATE_LIMITS, RATE_WINDOW_SECONDS } from '../../src/lib/limits.ts';
import { api, clientAddress, createMember, createOrg, createProject, createUser, json, ownerDb, TEST_PASSWORD, type TestUser } from '../helpers/factories.ts';
import { env, request } from '../helpers/worker.ts';

// Cookie mode for browser apps (src/routes/auth/token-delivery.ts): the refresh token in an httpOnly cookie,
// CSRF-checked by `X-CSRF: 1` and the Origin against CORS_ORIGINS (wrangler.toml's dev list holds this one).
const APP = 'http://localhost:5173';
const COOKIE = '__Secure-refresh_token';
const browser = { origin: APP, 'x-csrf': '1' };

type Tokens = { accessToken: string; refreshToken?: string; tokenType: string; expiresIn: number };
type ErrorBody = { error: { code: string; details?: { reason?: string } } };

/** The refresh cookie a response sets: its value and attributes. */
function setCookie(response: Response): { value: string; attributes: string } | undefined {
  const header = response.headers.getSetCookie().find((line) => line.startsWith(`${COOKIE}=`));
  if (!header) return undefined;
  const [pair = '', ...attributes] = header.split('; ');
  return { value: pair.slice(COOKIE.length + 1), attributes: attributes.join('; ') };
}

const login = (user: TestUser, headers: Record<string, string> = browser) =>
  api('/api/v1/auth/login', { body: { email: user.email, password: TEST_PASSWORD, tokenDelivery: 'cookie' }, headers });

const refreshWithCookie = (cookie: string, headers: Record<string, string> = browser, body: unknown = { tokenDelivery: 'cookie' }) =>
  api('/api/v1/auth/refresh', { body, headers: { ...headers, cookie: `${COOKIE}=${cookie}` } });

async function signedIn(user: TestUser): Promise<{ cookie: string; accessToken: string }> {
  const response = await login(user);
  expect(response.status).toBe(200);
  const cookie = setCookie(response)?.value ?? '';
  const { data } = await json<{ data: { tokens: Tokens } }>(response);
  return { cookie, accessToken: data.tokens.accessToken };
}

/** The Worker's bindings with no grace window: any second use of a refresh token counts as reuse. */
const noGrace = { ...env, REFRESH_GRACE_SECONDS: '0' };

const sessionOf = async (token: string) => (await ownerDb.http.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, await sha256Hex(token))))[0]?.sessionId;

describe('cookie mode: the refresh token in an httpOnly cookie', () => {
  it('log in sets the cookie (httpOnly, Secure, SameSite=Strict, scoped to the auth routes) and leaves the refresh token out of the body', async () => {
    const user = await createUser();
    const response = await login(user);
    expect(response.status).toBe(200);
    const cookie = setCookie(response);
    expect(cookie?.value).toMatch(/^rt_[\w-]{43}$/);
    expect(cookie?.attributes).toBe(`Max-Age=${30 * 86_400}; Path=/api/v1/auth; HttpOnly; Secure; SameSite=Strict`);
    const { data } = await json<{ data: { tokens: Tokens } }>(response);
    expect(data.tokens).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: 900 });
    expect((await api('/api/v1/me', { auth: { token: data.tokens.accessToken } })).status).toBe(200);
    expect(await sessionOf(cookie?.value ?? '')).toEqual(expect.any(String));
  });

  it('signup in cookie mode sets the cookie too', async () => {
    const response = await api('/api/v1/auth/signup', { body: { email: `cookie-${crypto.randomUUID()}@example.com`, password: TEST_PASSWORD, name: 'C', tokenDelivery: 'cookie' }, headers: browser });
    expect(response.status).toBe(201);
    expect(setCookie(response)?.value).toMatch(/^rt_/);
    expect((await json<{ data: { tokens: Tokens } }>(response)).data.tokens.refreshToken).toBeUndefined();
  });

  it('body mode is unchanged: the refresh token in the body, no cookie, no credentials needed beyond the body', async () => {
    const user = await createUser();
    const response = await api('/api/v1/auth/login', { body: { email: user.email, password: TEST_PASSWORD } });
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toEqual([]);
    const { data } = await json<{ data: { tokens: Tokens } }>(response);
    expect(Object.keys(data.tokens)).toEqual(['accessToken', 'refreshToken', 'tokenType', 'expiresIn']);
    const refreshed = await api('/api/v1/auth/refresh', { body: { refreshToken: data.tokens.refreshToken } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.headers.getSetCookie()).toEqual([]);
    expect((await json<{ data: { tokens: Tokens } }>(refreshed)).data.tokens.refreshToken).toMatch(/^rt_/);
  });

  it('refresh rotates the cookie; the successor works; the old one after the grace is reuse: the session is revoked and the cookie removed', async () => {
    const user = await createUser();
    const first = await signedIn(user);
    const response = await refreshWithCookie(first.cookie);
    expect(response.status).toBe(200);
    const next = setCookie(response);
    expect(next?.value).toMatch(/^rt_[\w-]{43}$/);
    expect(next?.value).not.toBe(first.cookie);
    const { data } = await json<{ data: { tokens: Tokens } }>(response);
    expect(data.tokens.refreshToken).toBeUndefined();
    expect((await api('/api/v1/me', { auth: { token: data.tokens.accessToken } })).status).toBe(200);
    expect((await refreshWithCookie(next?.value ?? '')).status).toBe(200);

    // The first cookie again, with no grace window: reuse, as with body tokens.
    const reused = await request(
      '/api/v1/auth/refresh',
      { method: 'POST', headers: { 'content-type': 'application/json', ...browser, cookie: `${COOKIE}=${first.cookie}` }, body: JSON.stringify({ tokenDelivery: 'cookie' }) },
      { bindings: noGrace },
    );
    expect(reused.status).toBe(401);
    expect((await json<ErrorBody>(reused)).error.details?.reason).toBe('refresh_token_reused');
    expect(setCookie(reused)).toEqual({ value: '', attributes: 'Max-Age=0; Path=/api/v1/auth; HttpOnly; Secure; SameSite=Strict' });
    const [session] = await ownerDb.http.select().from(sessions).where(eq(sessions.id, (await sessionOf(first.cookie)) ?? ''));
    expect(session?.revokedAt).not.toBeNull();
  });

  it('concurrent refreshes of one cookie (two tabs) get the same successor cookie', async () => {
    const { cookie } = await signedIn(await createUser());
    const [a, b] = await Promise.all([refreshWithCookie(cookie), refreshWithCookie(cookie)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(setCookie(a)?.value).toBe(setCookie(b)?.value);
  });

  it('log out (Bearer) revokes the session and removes the cookie; the cookie then refreshes nothing', async () => {
    const { cookie, accessToken } = await signedIn(await createUser());
    const response = await api('/api/v1/auth/logout', { method: 'POST', auth: { token: accessToken }, headers: { cookie: `${COOKIE}=${cookie}` } });
    expect(response.status).toBe(204);
    expect(setCookie(response)?.attributes).toContain('Max-Age=0');
    const after = await refreshWithCookie(cookie);
    expect(after.status).toBe(401);
    expect(setCookie(after)?.value).toBe('');
    // Without the cookie, log out sets none (body mode is unchanged).
    const other = await signedIn(await createUser());
    expect((await api('/api/v1/auth/logout', { method: 'POST', auth: { token: other.accessToken } })).headers.getSetCookie()).toEqual([]);
  });

  describe('log out with the refresh cookie alone (no access token: a reload, or it expired)', () => {
    // A spy is undone even when its test fails early, so later failures keep their logs.
    afterEach(() => vi.restoreAllMocks());

    const logoutWithCookie = (cookie: string, headers: Record<string, string> = browser, bindings?: Env) =>
      request('/api/v1/auth/logout', { method: 'POST', headers: { 'cf-connecting-ip': clientAddress(), ...headers, cookie: `${COOKIE}=${cookie}` } }, bindings && { bindings });
    const removed = { value: '', attributes: 'Max-Age=0; Path=/api/v1/auth; HttpOnly; Secure; SameSite=Strict' };
    const revokedReasonOf = async (cookie: string) =>
      (await ownerDb.http.select().from(sessions).where(eq(sessions.id, (await sessionOf(cookie)) ?? '')))[0]?.revokedReason ?? null;

    it('revokes the session at once, on org routes too (the edge authority is told), and removes the cookie', async () => {
      const org = await createOrg(await createUser());
      const project = await createProject(org);
      const path = `/api/v1/orgs/${org.id}/projects/${project.id}`;
      const { cookie, accessToken } = await signedIn(await createMember(org, 'member'));
      // Warm: the edge serves the read without Postgres, so only a told authority can refuse the next one.
      expect((await api(path, { auth: { token: accessToken } })).status).toBe(200);
      expect((await api(path, { auth: { token: accessToken } })).headers.get('x-cache')).toBe('HIT');

      const response = await logoutWithCookie(cookie);
      expect(response.status).toBe(204);
      expect(setCookie(response)).toEqual(removed);
      expect(await revokedReasonOf(cookie)).toBe('logout');
      expect((await api(path, { auth: { token: accessToken } })).status).toBe(401);
      expect((await api('/api/v1/me', { auth: { token: accessToken } })).status).toBe(401);
      expect((await refreshWithCookie(cookie)).status).toBe(401);
    });

    it('a cookie just exchanged by a refresh in another tab (inside the grace window) still signs out its session', async () => {
      const { cookie } = await signedIn(await createUser());
      const successor = setCookie(await refreshWithCookie(cookie))?.value ?? '';
      expect((await logoutWithCookie(cookie)).status).toBe(204);
      expect((await refreshWithCookie(successor)).status).toBe(401);
    });

    const csrfCases: Array<[string, Record<string, string>]> = [
      ['no X-CSRF header', { origin: APP }],
      ['a forged X-CSRF value', { origin: APP, 'x-csrf': 'token-from-somewhere' }],
      ['an Origin outside CORS_ORIGINS', { origin: 'https://evil.example', 'x-csrf': '1' }],
      ['no Origin', { 'x-csrf': '1' }],
    ];
    it.each(csrfCases)('without the CSRF proof (%s): 403 CSRF_REJECTED, nothing revoked, the cookie kept', async (_, headers) => {
      const { cookie, accessToken } = await signedIn(await createUser());
      const response = await logoutWithCookie(cookie, headers);
      expect(response.status).toBe(403);
      expect((await json<ErrorBody>(response)).error.code).toBe('CSRF_REJECTED');
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(await revokedReasonOf(cookie)).toBeNull();
      expect((await api('/api/v1/me', { auth: { token: accessToken } })).status).toBe(200);
    });

    it('a cookie that names no live session: the same 401 refresh_token_invalid whatever it is, the cookie removed, nothing revoked', async () => {
      const user = await createUser();
      const revoked = await signedIn(user);
      await ownerDb.http.update(sessions).set({ revokedAt: sql`now()` }).where(eq(sessions.id, (await sessionOf(revoked.cookie)) ?? ''));
      const expired = await signedIn(user);
      await ownerDb.http.update(sessions).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(sessions.id, (await sessionOf(expired.cookie)) ?? ''));
      // An exchanged cookie, past the grace window: it no longer proves who holds the session, which stays live.
      const exchanged = await signedIn(user);
      const successor = setCookie(await refreshWithCookie(exchanged.cookie))?.value ?? '';
      const cookies = { revoked: revoked.cookie, expired: expired.cookie, exchanged: exchanged.cookie, unknown: `rt_${'A'.repeat(43)}`, garbage: 'not-a-token' };

      for (const [kind, cookie] of Object.entries(cookies)) {
        const response = await logoutWithCookie(cookie, browser, noGrace);
        expect(response.status, kind).toBe(401);
        expect(setCookie(response), kind).toEqual(removed);
        const { error } = await json<ErrorBody & { error: { message: string } }>(response);
        expect({ code: error.code, message: error.message, details: error.details }, kind).toEqual({
          code: 'UNAUTHORIZED',
          message: 'The refresh token names no live session: you are signed out.',
          details: { reason: 'refresh_token_invalid' },
        });
      }
      expect(await revokedReasonOf(exchanged.cookie)).toBeNull();
      expect((await refreshWithCookie(successor)).status).toBe(200);
    });

    it('with an access token, the token decides alone: a cookie of another session is removed, not revoked', async () => {
      const user = await createUser();
      const a = await signedIn(user);
      const b = await signedIn(user);
      const response = await api('/api/v1/auth/logout', { method: 'POST', auth: { token: a.accessToken }, headers: { cookie: `${COOKIE}=${b.cookie}` } });
      expect(response.status).toBe(204);
      expect(setCookie(response)).toEqual(removed);
      expect(await revokedReasonOf(a.cookie)).toBe('logout');
      expect(await revokedReasonOf(b.cookie)).toBeNull();
      // A dead access token is the 401 of every user route, even with a live cookie, which stays (and its session too).
      const dead = await api('/api/v1/auth/logout', { method: 'POST', auth: { token: a.accessToken }, headers: { ...browser, cookie: `${COOKIE}=${b.cookie}` } });
      expect(dead.status).toBe(401);
      expect(dead.headers.getSetCookie()).toEqual([]);
      expect(await revokedReasonOf(b.cookie)).toBeNull();
      // X-CSRF, when sent, must be `1` with an access token too; nothing is revoked otherwise.
      const c = await signedIn(user);
      const forged = await api('/api/v1/auth/logout', { method: 'POST', auth: { token: c.accessToken }, headers: { 'x-csrf': 'yes' } });
      expect(forged.status).toBe(403);
      expect((await json<ErrorBody>(forged)).error.code).toBe('CSRF_REJECTED');
      expect(await revokedReasonOf(c.cookie)).toBeNull();
      // Its holder signs it out with the cookie alone.
      expect((await logoutWithCookie(b.cookie)).status).toBe(204);
      expect(await revokedReasonOf(b.cookie)).toBe('logout');
    });

    it('is limited per client IP (the cookie costs a lookup before anyone is known), in a bucket of its own', async () => {
      const address = clientAddress();
      const statuses: number[] = [];
      for (let sent = 0; sent < 31; sent++) statuses.push((await logoutWithCookie('not-a-token', { ...browser, 'cf-connecting-ip': address })).status);
      expect(statuses.slice(0, 30).every((status) => status === 401)).toBe(true);
      expect(statuses[30]).toBe(429);
      const { error } = await json<ErrorBody & { error: { details: { policy: { name: string } } } }>(await logoutWithCookie('not-a-token', { ...browser, 'cf-connecting-ip': address }));
      expect(error.details.policy.name).toBe('refresh-token-sign-in');
    });

    it('logins from the same address never keep its people from signing out', async () => {
      const address = clientAddress();
      const auth = CALLER_RATE_LIMITS.ip.auth ?? 0;
      await rateLimiterFor(env, `ip:${address}`).limit([{ key: 'auth', limit: auth, windowMs: RATE_WINDOW_SECONDS * 1000 }], auth);
      expect((await api('/api/v1/auth/login', { body: { email: 'nobody@example.com', password: 'x'.repeat(12) }, headers: { 'cf-connecting-ip': address } })).status).toBe(429);
      const { cookie } = await signedIn(await createUser());
      expect((await logoutWithCookie(cookie, { ...browser, 'cf-connecting-ip': address })).status).toBe(204);
    });

    it('signs out even when the limiter cannot be reached (it can only end a session), and logs it', async () => {
      const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
      const { cookie } = await signedIn(await createUser());
      expect((await logoutWithCookie(cookie, browser, { ...env, RATE_LIMITER: env.CACHE } as unknown as Env)).status).toBe(204);
      expect(await revokedReasonOf(cookie)).toBe('logout');
      expect(errors.mock.calls.some(([line]) => String(line).includes('rate limiter unreachable'))).toBe(true);
    });
  });

  it('an expired session: 401 and the cookie is removed', async () => {
    const { cookie } = await signedIn(await createUser());
    await ownerDb.http.update(sessions).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(sessions.id, (await sessionOf(cookie)) ?? ''));
    const response = await refreshWithCookie(cookie);
    expect(response.status).toBe(401);
    expect((await json<ErrorBody>(response)).error.details?.reason).toBe('refresh_token_invalid');
    expect(setCookie(response)?.attributes).toContain('Max-Age=0');
  });

  it('cookie mode without the cookie, or with a cookie that is not a refresh token: 401', async () => {
    const missing = await api('/api/v1/auth/refresh', { body: { tokenDelivery: 'cookie' }, headers: browser });
    expect(missing.status).toBe(401);
    expect(missing.headers.getSetCookie()).toEqual([]);
    const garbage = await refreshWithCookie('not-a-token');
    expect(garbage.status).toBe(401);
    expect(setCookie(garbage)?.value).toBe('');
  });

  it('a cookie and a body token together: 400 (body mode), VALIDATION_FAILED (cookie mode); nothing rotates', async () => {
    const user = await createUser();
    const { cookie } = await signedIn(user);
    const bodyLogin = await json<{ data: { tokens: Tokens } }>(await api('/api/v1/auth/login', { body: { email: user.email, password: TEST_PASSWORD } }));
    const both = await refreshWithCookie(cookie, browser, { refreshToken: bodyLogin.data.tokens.refreshToken });
    expect(both.status).toBe(400);
    expect((await json<ErrorBody>(both)).error.code).toBe('BAD_REQUEST');
    const inCookieMode = await refreshWithCookie(cookie, browser, { refreshToken: bodyLogin.data.tokens.refreshToken, tokenDelivery: 'cookie' });
    expect(inCookieMode.status).toBe(400);
    expect((await json<ErrorBody>(inCookieMode)).error.code).toBe('VALIDATION_FAILED');
    // Both tokens are still unused.
    expect((await refreshWithCookie(cookie)).status).toBe(200);
    expect((await api('/api/v1/auth/refresh', { body: { refreshToken: bodyLogin.data.tokens.refreshToken } })).status).toBe(200);
  });

  describe('CSRF: 403 CSRF_REJECTED, and nothing happens', () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['no X-CSRF header', { origin: APP }],
      ['a forged X-CSRF value', { origin: APP, 'x-csrf': 'token-from-somewhere' }],
      ['an Origin outside CORS_ORIGINS', { origin: 'https://evil.example', 'x-csrf': '1' }],
      ['a look-alike Origin', { origin: 'http://localhost:5173.evil.example', 'x-csrf': '1' }],
      ['no Origin', { 'x-csrf': '1' }],
      ['Origin "null" (a sandboxed frame)', { origin: 'null', 'x-csrf': '1' }],
    ];
    it.each(cases)('refresh with %s', async (_, headers) => {
      const { cookie } = await signedIn(await createUser());
      const response = await refreshWithCookie(cookie, headers);
      expect(response.status).toBe(403);
      expect((await json<ErrorBody>(response)).error.code).toBe('CSRF_REJECTED');
      expect(response.headers.getSetCookie()).toEqual([]);
      expect((await refreshWithCookie(cookie)).status).toBe(200);
    });

    it.each(cases)('log in with %s', async (_, headers) => {
      const response = await login(await createUser(), headers);
      expect(response.status).toBe(403);
      expect((await json<ErrorBody>(response)).error.code).toBe('CSRF_REJECTED');
      expect(response.headers.getSetCookie()).toEqual([]);
    });

    it("the API's own origin passes", async () => {
      const { cookie } = await signedIn(await createUser());
      expect((await refreshWithCookie(cookie, { origin: 'http://localhost', 'x-csrf': '1' })).status).toBe(200);
    });
  });

  it('CORS lets an allowed origin send X-CSRF with credentials, and no other origin', async () => {
    const preflight = (origin: string) =>
      api('/api/v1/auth/refresh', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-csrf' } });
    const allowed = await preflight(APP);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('x-csrf');
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('the OpenAPI document declares the cookie, the CSRF header, Set-Cookie and the 403', async () => {
    type Operation = { parameters?: Array<{ name: string; in: string }>; security?: unknown; responses: Record<string, { description?: string; headers?: Record<string, unknown> }> };
    const doc = await json<{ paths: Record<string, { post: Operation }>; components: { securitySchemes: Record<string, unknown> } }>(
      await api('/api/openapi.json'),
    );
    const refresh = doc.paths['/api/v1/auth/refresh']?.post;
    expect(refresh?.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: COOKIE, in: 'cookie' }), expect.objectContaining({ name: 'X-CSRF', in: 'header' })]));
    expect(Object.keys(refresh?.responses[200]?.headers ?? {})).toContain('Set-Cookie');
    expect(Object.keys(refresh?.responses[401]?.headers ?? {})).toContain('Set-Cookie');
    expect(refresh?.responses[403]).toBeDefined();
    expect(doc.paths['/api/v1/auth/login']?.post.responses[403]).toBeDefined();
    const logout = doc.paths['/api/v1/auth/logout']?.post;
    expect(logout?.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: COOKIE, in: 'cookie' }), expect.objectContaining({ name: 'X-CSRF', in: 'header' })]));
    expect(logout?.security).toEqual([{ bearerAuth: [] }, { refreshCookie: [] }]);
    expect(doc.components.securitySchemes.refreshCookie).toMatchObject({ type: 'apiKey', in: 'cookie', name: COOKIE });
    expect(Object.keys(logout?.responses[204]?.headers ?? {})).toContain('Set-Cookie');
    expect(Object.keys(logout?.responses[401]?.headers ?? {})).toContain('Set-Cookie');
    expect(logout?.responses[403]?.description).toContain('CSRF_REJECTED');
  });
});
