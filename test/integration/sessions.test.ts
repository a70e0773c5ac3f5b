import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { sessions } from '../../src/db/schema/index.ts';
import { api, createApiKey, createOrg, createUser, json, ownerDb, TEST_PASSWORD, type TestUser } from '../helpers/factories.ts';

type Session = { id: string; userAgent: string | null; ip: string | null; createdAt: string; lastUsedAt: string; current: boolean };
type ErrorBody = { error: { code: string; details?: { issues?: Array<{ path: string }> } } };

/** Another session of `user`, opened through the login route from a given client. */
async function logIn(user: TestUser, userAgent: string) {
  const response = await api('/api/v1/auth/login', { body: { email: user.email, password: TEST_PASSWORD }, headers: { 'user-agent': userAgent, 'cf-connecting-ip': '198.51.100.4' } });
  const { data } = await json<{ data: { tokens: { accessToken: string; refreshToken: string } } }>(response);
  const listed = await json<{ data: Session[] }>(await api('/api/v1/me/sessions', { auth: { token: data.tokens.accessToken } }));
  const id = listed.data.find((session) => session.current)?.id ?? '';
  return { id, token: { token: data.tokens.accessToken }, refreshToken: data.tokens.refreshToken };
}

const listFor = async (auth: TestUser | { token: string }) => (await json<{ data: Session[] }>(await api('/api/v1/me/sessions', { auth }))).data;
const status = async (response: Promise<Response>) => (await response).status;

describe('GET /api/v1/me/sessions', () => {
  it('lists only your live sessions, marking the current one', async () => {
    const user = await createUser();
    const phone = await logIn(user, 'phone/1.0');
    const laptop = await logIn(user, 'laptop/2.0');
    const revoked = await logIn(user, 'old/0.1');
    await ownerDb.http.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.id, revoked.id));
    const expired = await logIn(user, 'expired/0.1');
    await ownerDb.http.update(sessions).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(sessions.id, expired.id));
    await logIn(await createUser(), 'someone-else/1.0');

    const response = await api('/api/v1/me/sessions', { auth: phone.token });
    expect(response.status).toBe(200);
    const { data } = await json<{ data: Session[] }>(response);
    expect(data.map((session) => session.id).sort()).toEqual([user.sessionId, phone.id, laptop.id].sort());
    expect(data.find((session) => session.id === phone.id)).toEqual({
      id: phone.id,
      userAgent: 'phone/1.0',
      ip: '198.51.100.4',
      createdAt: expect.any(String),
      lastUsedAt: expect.any(String),
      current: true,
    });
    expect(data.filter((session) => session.current).map((session) => session.id)).toEqual([phone.id]);
  });

  it('401s without credentials and 403s an API key', async () => {
    const user = await createUser();
    const key = await createApiKey(await createOrg(user), { scopes: ['org:read'] });
    expect(await status(api('/api/v1/me/sessions'))).toBe(401);
    expect(await status(api('/api/v1/me/sessions', { auth: { apiKey: key.key } }))).toBe(403);
  });
});

describe('DELETE /api/v1/me/sessions/{sessionId}', () => {
  it('revokes one of your sessions: its access and refresh tokens stop working at once', async () => {
    const user = await createUser();
    const phone = await logIn(user, 'phone/1.0');
    expect(await status(api(`/api/v1/me/sessions/${phone.id}`, { method: 'DELETE', auth: user }))).toBe(204);
    expect(await status(api('/api/v1/me', { auth: phone.token }))).toBe(401);
    expect(await status(api('/api/v1/auth/refresh', { body: { refreshToken: phone.refreshToken } }))).toBe(401);
    expect((await listFor(user)).map((session) => session.id)).toEqual([user.sessionId]);
    const [row] = await ownerDb.http.select().from(sessions).where(eq(sessions.id, phone.id));
    expect(row?.revokedReason).toBe('revoked');
  });

  it("404s another user's session (which stays live), an unknown one and one already revoked", async () => {
    const user = await createUser();
    const victim = await createUser();
    expect(await status(api(`/api/v1/me/sessions/${victim.sessionId}`, { method: 'DELETE', auth: user }))).toBe(404);
    expect(await status(api('/api/v1/me', { auth: victim }))).toBe(200);
    expect(await status(api(`/api/v1/me/sessions/${crypto.randomUUID()}`, { method: 'DELETE', auth: user }))).toBe(404);
    const phone = await logIn(user, 'phone/1.0');
    expect(await status(api(`/api/v1/me/sessions/${phone.id}`, { method: 'DELETE', auth: user }))).toBe(204);
    expect(await status(api(`/api/v1/me/sessions/${phone.id}`, { method: 'DELETE', auth: user }))).toBe(404);
  });

  it('400s an id that is not a UUID; 401s without credentials; 403s an API key', async () => {
    const user = await createUser();
    const key = await createApiKey(await createOrg(user), { scopes: ['org:read'] });
    const malformed = await api('/api/v1/me/sessions/nope', { method: 'DELETE', auth: user });
    expect(malformed.status).toBe(400);
    expect((await json<ErrorBody>(malformed)).error.details?.issues?.map((issue) => issue.path)).toEqual(['sessionId']);
    expect(await status(api(`/api/v1/me/sessions/${user.sessionId}`, { method: 'DELETE' }))).toBe(401);
    expect(await status(api(`/api/v1/me/sessions/${user.sessionId}`, { method: 'DELETE', auth: { apiKey: key.key } }))).toBe(403);
    expect(await status(api('/api/v1/me', { auth: user }))).toBe(200);
  });
});

describe('DELETE /api/v1/me/sessions', () => {
  it('revokes every session, the caller’s included', async () => {
    const user = await createUser();
    const phone = await logIn(user, 'phone/1.0');
    const bystander = await createUser();
    expect(await status(api('/api/v1/me/sessions', { method: 'DELETE', auth: phone.token }))).toBe(204);
    expect(await status(api('/api/v1/me', { auth: phone.token }))).toBe(401);
    expect(await status(api('/api/v1/me', { auth: user }))).toBe(401);
    expect(await status(api('/api/v1/me', { auth: bystander }))).toBe(200);
  });

  it('keeps the caller’s session with keepCurrent=true', async () => {
    const user = await createUser();
    const phone = await logIn(user, 'phone/1.0');
    const laptop = await logIn(user, 'laptop/1.0');
    expect(await status(api('/api/v1/me/sessions?keepCurrent=true', { method: 'DELETE', auth: phone.token }))).toBe(204);
    expect(await status(api('/api/v1/me', { auth: phone.token }))).toBe(200);
    expect(await status(api('/api/v1/me', { auth: laptop.token }))).toBe(401);
    expect(await status(api('/api/v1/me', { auth: user }))).toBe(401);
    expect((await listFor(phone.token)).map((session) => session.id)).toEqual([phone.id]);
  });

  it('400s a keepCurrent that is not a boolean; 401s without credentials; 403s an API key', async () => {
    const user = await createUser();
    const key = await createApiKey(await createOrg(user), { scopes: ['org:read'] });
    const malformed = await api('/api/v1/me/sessions?keepCurrent=maybe', { method: 'DELETE', auth: user });
    expect(malformed.status).toBe(400);
    expect((await json<ErrorBody>(malformed)).error.details?.issues?.map((issue) => issue.path)).toEqual(['keepCurrent']);
    expect(await status(api('/api/v1/me/sessions', { method: 'DELETE' }))).toBe(401);
    expect(await status(api('/api/v1/me/sessions', { method: 'DELETE', auth: { apiKey: key.key } }))).toBe(403);
    expect(await status(api('/api/v1/me', { auth: user }))).toBe(200);
  });
});
