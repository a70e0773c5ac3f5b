import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { credentials, emailTokens, refreshTokens, sessions, users } from '../../src/db/schema/index.ts';
import { base64url, sha256Hex } from '../../src/lib/crypto.ts';
import { PBKDF2_ITERATIONS } from '../../src/lib/passwords.ts';
import { api, createApiKey, createOrg, createUser, json, ownerDb, TEST_PASSWORD } from '../helpers/factories.ts';
import { request } from '../helpers/worker.ts';

type Tokens = { accessToken: string; refreshToken: string; tokenType: string; expiresIn: number };
type AuthBody = { data: { user: Record<string, unknown> & { id: string }; tokens: Tokens } };
type ErrorBody = { error: { code: string; message: string; details?: { issues?: Array<{ path: string }>; reason?: string }; requestId: string } };

const uniqueEmail = () => `auth-${crypto.randomUUID().slice(0, 8)}@example.com`;
const PASSWORD = 'a perfectly long password';
const client = { 'user-agent': 'auth-test/1.0', 'cf-connecting-ip': '203.0.113.7' };

const signUp = (body: Record<string, unknown>) => api('/api/v1/auth/signup', { body, headers: client });
const logIn = (email: string, password: string) => api('/api/v1/auth/login', { body: { email, password }, headers: client });
const issuePaths = (body: ErrorBody) => (body.error.details?.issues ?? []).map((issue) => issue.path).sort();

describe('POST /api/v1/auth/signup', () => {
  it('creates the account and signs in: profile, tokens, session, refresh token and verification token in place', async () => {
    const email = uniqueEmail();
    const response = await signUp({ email: `  ${email.toUpperCase()} `, password: PASSWORD, name: 'Ada Lovelace' });
    expect(response.status).toBe(201);
    const { data } = await json<AuthBody>(response);
    expect(data.user).toEqual({ id: expect.any(String), email, name: 'Ada Lovelace', emailVerified: false, createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect(data.tokens).toEqual({ accessToken: expect.any(String), refreshToken: expect.stringMatching(/^rt_[\w-]{43}$/), tokenType: 'Bearer', expiresIn: 900 });

    const me = await api('/api/v1/me', { auth: { token: data.tokens.accessToken } });
    expect(me.status).toBe(200);

    const [credential] = await ownerDb.http.select().from(credentials).where(eq(credentials.userId, data.user.id));
    expect(credential?.passwordHash).toMatch(new RegExp(`^pbkdf2-sha256\\$${PBKDF2_ITERATIONS}\\$`));
    expect(credential?.passwordHash).not.toContain(PASSWORD);
    const [session] = await ownerDb.http.select().from(sessions).where(eq(sessions.userId, data.user.id));
    expect(session).toMatchObject({ userAgent: 'auth-test/1.0', ip: '203.0.113.7', revokedAt: null });
    const [refresh] = await ownerDb.http.select().from(refreshTokens).where(eq(refreshTokens.sessionId, session?.id ?? ''));
    expect(refresh?.tokenHash).toBe(await sha256Hex(data.tokens.refreshToken));
    const [verification] = await ownerDb.http.select().from(emailTokens).where(eq(emailTokens.userId, data.user.id));
    expect(verification?.purpose).toBe('verify_email');
    const hours = ((verification?.expiresAt.getTime() ?? 0) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);
  });

  it('answers 409 for an email already taken, however it is spelled, and leaves nothing behind', async () => {
    const existing = await createUser();
    const response = await signUp({ email: ` ${existing.email.toUpperCase()}`, password: PASSWORD, name: 'Copycat' });
    expect(response.status).toBe(409);
    expect((await json<ErrorBody>(response)).error).toMatchObject({ code: 'CONFLICT', message: 'An account with this email already exists.' });
    expect(await ownerDb.http.select().from(users).where(eq(users.email, existing.email))).toHaveLength(1);
    expect(await ownerDb.http.select().from(sessions).where(eq(sessions.userId, existing.id))).toHaveLength(1);
    expect(await ownerDb.http.select().from(emailTokens).where(eq(emailTokens.userId, existing.id))).toHaveLength(0);
  });

  it('400s every failing field, with its path', async () => {
    const response = await signUp({ email: 'not-an-email', password: 'short', name: '' });
    expect(response.status).toBe(400);
    const body = await json<ErrorBody>(response);
    expect(body.error.code).toBe('VALIDATION_FAILED');
    expect(issuePaths(body)).toEqual(['email', 'name', 'password']);
    expect(issuePaths(await json<ErrorBody>(await signUp({})))).toEqual(['email', 'name', 'password']);
  });

  it('enforces the password policy: length bounds and not the email address', async () => {
    const email = uniqueEmail();
    const sameAsEmail = await signUp({ email, password: email.toUpperCase(), name: 'Ada' });
    expect(sameAsEmail.status).toBe(400);
    expect((await json<ErrorBody>(sameAsEmail)).error.details?.issues).toEqual([expect.objectContaining({ path: 'password', message: 'The password must not be your email address.' })]);
    expect((await signUp({ email, password: 'x'.repeat(257), name: 'Ada' })).status).toBe(400);
    expect((await signUp({ email, password: 'x'.repeat(9), name: 'Ada' })).status).toBe(400);
    expect(await ownerDb.http.select().from(users).where(eq(users.email, email))).toHaveLength(0);
    expect((await signUp({ email, password: 'x'.repeat(10), name: 'Ada' })).status).toBe(201);
  });

  it('415s a body that is not JSON', async () => {
    const response = await api('/api/v1/auth/signup', { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
    expect(response.status).toBe(415);
  });
});

describe('POST /api/v1/auth/login', () => {
  afterEach(() => vi.restoreAllMocks());

  it('signs in with the right password, records the client, and the access token works', async () => {
    const user = await createUser();
    const response = await logIn(`  ${user.email.toUpperCase()}`, TEST_PASSWORD);
    expect(response.status).toBe(200);
    const { data } = await json<AuthBody>(response);
    expect(data.user).toEqual({ id: user.id, email: user.email, name: user.name, emailVerified: true, createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect(data.tokens).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
    const { payload } = await jwtVerify(data.tokens.accessToken, createLocalJWKSet(await (await api('/.well-known/jwks.json')).json()));
    const [session] = await ownerDb.http.select().from(sessions).where(eq(sessions.id, String(payload.sid)));
    expect(session).toMatchObject({ userId: user.id, userAgent: 'auth-test/1.0', ip: '203.0.113.7', revokedAt: null });
    expect((await api('/api/v1/me', { auth: { token: data.tokens.accessToken } })).status).toBe(200);
  });

  it('gives wrong password, unknown email and a deactivated account the same 401', async () => {
    const user = await createUser();
    const deactivated = await createUser();
    await ownerDb.http.update(credentials).set({ deactivatedAt: new Date() }).where(eq(credentials.userId, deactivated.id));
    const answers = await Promise.all([logIn(user.email, 'wrong password!'), logIn(uniqueEmail(), TEST_PASSWORD), logIn(deactivated.email, TEST_PASSWORD)]);
    for (const response of answers) {
      expect(response.status).toBe(401);
      const { error } = await json<ErrorBody>(response);
      expect(error).toEqual({ code: 'UNAUTHORIZED', message: 'Invalid email or password.', requestId: expect.any(String) });
    }
    expect(await ownerDb.http.select().from(sessions).where(eq(sessions.userId, deactivated.id))).toHaveLength(1);
  });

  it('verifies an unknown email against the decoy hash (so it costs a full PBKDF2 run)', async () => {
    const deriveBits = vi.spyOn(crypto.subtle, 'deriveBits');
    const response = await request('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: uniqueEmail(), password: TEST_PASSWORD }),
    });
    expect(response.status).toBe(401);
    const pbkdf2 = deriveBits.mock.calls.map(([algorithm]) => algorithm as SubtleCryptoDeriveKeyAlgorithm);
    expect(pbkdf2).toHaveLength(1);
    expect(pbkdf2[0]?.iterations).toBe(PBKDF2_ITERATIONS);
    // DECOY_PASSWORD_HASH's salt is 16 zero bytes.
    expect([...new Uint8Array(pbkdf2[0]?.salt as Uint8Array)]).toEqual(new Array(16).fill(0));
  });

  it('upgrades a hash made with weaker parameters on a successful login', async () => {
    const user = await createUser();
    await ownerDb.http.update(credentials).set({ passwordHash: await weakHash(TEST_PASSWORD, 1_000) }).where(eq(credentials.userId, user.id));
    expect((await logIn(user.email, TEST_PASSWORD)).status).toBe(200);
    const [credential] = await ownerDb.http.select().from(credentials).where(eq(credentials.userId, user.id));
    expect(credential?.passwordHash).toMatch(new RegExp(`^pbkdf2-sha256\\$${PBKDF2_ITERATIONS}\\$`));
    expect((await logIn(user.email, TEST_PASSWORD)).status).toBe(200);
  });

  it('400s a malformed body with field paths', async () => {
    const response = await api('/api/v1/auth/login', { body: { email: 'nope', password: '' } });
    expect(response.status).toBe(400);
    expect(issuePaths(await json<ErrorBody>(response))).toEqual(['email', 'password']);
  });
});

describe('POST /api/v1/auth/logout', () => {
  it('revokes the current session at once: its access and refresh tokens stop working, other sessions do not', async () => {
    const user = await createUser();
    const { data } = await json<AuthBody>(await logIn(user.email, TEST_PASSWORD));
    const response = await api('/api/v1/auth/logout', { method: 'POST', auth: { token: data.tokens.accessToken } });
    expect(response.status).toBe(204);
    expect((await api('/api/v1/me', { auth: { token: data.tokens.accessToken } })).status).toBe(401);
    expect((await api('/api/v1/auth/refresh', { body: { refreshToken: data.tokens.refreshToken } })).status).toBe(401);
    expect((await api('/api/v1/auth/logout', { method: 'POST', auth: { token: data.tokens.accessToken } })).status).toBe(401);
    expect((await api('/api/v1/me', { auth: user })).status).toBe(200);
  });

  it('401s without credentials and 403s an API key', async () => {
    const owner = await createUser();
    const key = await createApiKey(await createOrg(owner), { scopes: ['org:read'] });
    expect((await api('/api/v1/auth/logout', { method: 'POST' })).status).toBe(401);
    expect((await api('/api/v1/auth/logout', { method: 'POST', auth: { apiKey: key.key } })).status).toBe(403);
    expect((await api('/api/v1/me', { auth: owner })).status).toBe(200);
  });
});

describe('GET /.well-known/jwks.json', () => {
  it('publishes the public keys, cacheably, and they verify a token issued by login', async () => {
    const user = await createUser();
    const { data } = await json<AuthBody>(await logIn(user.email, TEST_PASSWORD));
    const response = await api('/.well-known/jwks.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    const jwks = await response.json<{ keys: Array<Record<string, unknown>> }>();
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) expect(key).not.toHaveProperty('d');
    expect(jwks.keys.map((key) => key.kid)).toContain(decodeProtectedHeader(data.tokens.accessToken).kid);
    const { payload } = await jwtVerify(data.tokens.accessToken, createLocalJWKSet(jwks as { keys: [] }), { issuer: 'edge-saas', audience: 'api' });
    expect(payload.sub).toBe(user.id);
  });
});

describe('OpenAPI document', () => {
  it('lists the auth, user and session routes and leaves the dev outbox out', async () => {
    const document = await (await api('/api/openapi.json')).json<{ paths: Record<string, Record<string, unknown>> }>();
    const paths = Object.keys(document.paths);
    for (const path of [
      '/api/v1/auth/signup',
      '/api/v1/auth/login',
      '/api/v1/auth/refresh',
      '/api/v1/auth/logout',
      '/api/v1/auth/verify-email',
      '/api/v1/auth/verify-email/resend',
      '/api/v1/auth/forgot-password',
      '/api/v1/auth/reset-password',
      '/api/v1/me',
      '/api/v1/me/sessions',
      '/api/v1/me/sessions/{sessionId}',
      '/api/v1/users/{id}',
      '/.well-known/jwks.json',
    ]) {
      expect(paths).toContain(path);
    }
    expect(Object.keys(document.paths['/api/v1/users/{id}'] ?? {}).sort()).toEqual(['delete', 'get', 'patch', 'put']);
    expect(paths.filter((path) => path.startsWith('/api/dev'))).toEqual([]);
  });
});

/** A valid hash with fewer iterations than today's, as an older version of the app would have stored. */
async function weakHash(password: string, iterations: number): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, ['deriveBits']);
  const bits = new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, key, 256));
  return `pbkdf2-sha256$${iterations}$${base64url(salt)}$${base64url(bits)}`;
}
