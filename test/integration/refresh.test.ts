import { SELF } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { credentials, refreshTokens, sessions } from '../../src/db/schema/index.ts';
import { sha256Hex } from '../../src/lib/crypto.ts';
import { api, createUser, json, ownerDb, TEST_PASSWORD, type TestUser } from '../helpers/factories.ts';
import { env, request } from '../helpers/worker.ts';

type Tokens = { accessToken: string; refreshToken: string; tokenType: string; expiresIn: number };
type ErrorBody = { error: { code: string; message: string; details?: { reason?: string; issues?: Array<{ path: string }> } } };

/** A fresh session through the real login route: its refresh token and session id. */
async function logIn(user: TestUser): Promise<Tokens & { sessionId: string }> {
  const response = await api('/api/v1/auth/login', { body: { email: user.email, password: TEST_PASSWORD } });
  const { data } = await json<{ data: { tokens: Tokens } }>(response);
  const [row] = await ownerDb.http.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, await sha256Hex(data.tokens.refreshToken)));
  if (!row) throw new Error('no refresh token row');
  return { ...data.tokens, sessionId: row.sessionId };
}

const refresh = (refreshToken: string) => api('/api/v1/auth/refresh', { body: { refreshToken } });
const tokensOf = async (response: Response) => (await json<{ data: { tokens: Tokens } }>(response)).data.tokens;
const familyOf = (sessionId: string) => ownerDb.http.select().from(refreshTokens).where(eq(refreshTokens.sessionId, sessionId));
const sessionRow = async (sessionId: string) => (await ownerDb.http.select().from(sessions).where(eq(sessions.id, sessionId)))[0];

/** The Worker's bindings with no grace window: any second use of a refresh token counts as reuse. */
const noGrace = { ...env, REFRESH_GRACE_SECONDS: '0' };
const refreshWithoutGrace = (refreshToken: string) =>
  request('/api/v1/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) }, { bindings: noGrace });

describe('POST /api/v1/auth/refresh', () => {
  it('rotates: a new pair whose access token works, and the successor replaces the presented token', async () => {
    const user = await createUser();
    const first = await logIn(user);
    const response = await refresh(first.refreshToken);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const next = await tokensOf(response);
    expect(next).toEqual({ accessToken: expect.any(String), refreshToken: expect.stringMatching(/^rt_[\w-]{43}$/), tokenType: 'Bearer', expiresIn: 900 });
    expect(next.refreshToken).not.toBe(first.refreshToken);
    expect((await api('/api/v1/me', { auth: { token: next.accessToken } })).status).toBe(200);
    const family = await familyOf(first.sessionId);
    expect(family).toHaveLength(2);
    expect(family.find((row) => row.rotatedAt === null)?.tokenHash).toBe(await sha256Hex(next.refreshToken));
    // The successor is itself single use and rotates on.
    const third = await tokensOf(await refresh(next.refreshToken));
    expect(third.refreshToken).not.toBe(next.refreshToken);
    expect(await familyOf(first.sessionId)).toHaveLength(3);
  });

  it('gives truly concurrent refreshes of one token the identical pair, and creates exactly one successor', async () => {
    const user = await createUser();
    const { refreshToken, sessionId } = await logIn(user);
    const responses = await Promise.all(
      Array.from({ length: 6 }, () =>
        SELF.fetch('http://example.com/api/v1/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) }),
      ),
    );
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const pairs = await Promise.all(responses.map(tokensOf));
    for (const pair of pairs) expect(pair).toEqual(pairs[0]);
    const family = await familyOf(sessionId);
    expect(family).toHaveLength(2);
    expect(family.filter((row) => row.rotatedAt === null).map((row) => row.tokenHash)).toEqual([await sha256Hex(pairs[0]?.refreshToken ?? '')]);
    expect((await sessionRow(sessionId))?.revokedAt).toBeNull();
  });

  it('answers a repeat inside the grace window with the same pair (a client retrying after a lost response)', async () => {
    const user = await createUser();
    const { refreshToken } = await logIn(user);
    const first = await tokensOf(await refresh(refreshToken));
    // A real (short) wait past the next whole second: the access token must carry the rotation time, not "now".
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const again = await refresh(refreshToken);
    expect(again.status).toBe(200);
    expect(await tokensOf(again)).toEqual(first);
  });

  it('treats reuse after the grace window as theft: the whole session is revoked, successor included', async () => {
    const user = await createUser();
    const { refreshToken, sessionId } = await logIn(user);
    const rotated = await refreshWithoutGrace(refreshToken);
    expect(rotated.status).toBe(200);
    const successor = await tokensOf(rotated);
    const reused = await refreshWithoutGrace(refreshToken);
    expect(reused.status).toBe(401);
    const { error } = await json<ErrorBody>(reused);
    expect(error).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('already used'), details: { reason: 'refresh_token_reused' } });
    expect(await sessionRow(sessionId)).toMatchObject({ revokedAt: expect.any(Date), revokedReason: 'refresh_token_reuse' });
    const afterTheft = await refreshWithoutGrace(successor.refreshToken);
    expect(afterTheft.status).toBe(401);
    expect((await json<ErrorBody>(afterTheft)).error.details?.reason).toBe('refresh_token_invalid');
    expect((await api('/api/v1/me', { auth: { token: successor.accessToken } })).status).toBe(401);
    // Other sessions of the same user are not part of the family.
    expect((await api('/api/v1/me', { auth: user })).status).toBe(200);
  });

  it('treats a token whose successor has already rotated as reused, even inside the grace window', async () => {
    const user = await createUser();
    const { refreshToken, sessionId } = await logIn(user);
    const second = await tokensOf(await refresh(refreshToken));
    expect((await refresh(second.refreshToken)).status).toBe(200);
    const stale = await refresh(refreshToken);
    expect(stale.status).toBe(401);
    expect((await json<ErrorBody>(stale)).error.details?.reason).toBe('refresh_token_reused');
    expect((await sessionRow(sessionId))?.revokedReason).toBe('refresh_token_reuse');
  });

  it('401s an unknown token, an expired session, a revoked session and a deactivated account', async () => {
    const unknown = await refresh(`rt_${'A'.repeat(43)}`);
    expect(unknown.status).toBe(401);
    expect((await json<ErrorBody>(unknown)).error).toMatchObject({ code: 'UNAUTHORIZED', details: { reason: 'refresh_token_invalid' } });

    const expired = await logIn(await createUser());
    await ownerDb.http.update(sessions).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(sessions.id, expired.sessionId));
    expect((await refresh(expired.refreshToken)).status).toBe(401);

    const revoked = await logIn(await createUser());
    await ownerDb.http.update(sessions).set({ revokedAt: new Date(), revokedReason: 'logout' }).where(eq(sessions.id, revoked.sessionId));
    expect((await refresh(revoked.refreshToken)).status).toBe(401);

    const user = await createUser();
    const deactivated = await logIn(user);
    await ownerDb.http.update(credentials).set({ deactivatedAt: new Date() }).where(eq(credentials.userId, user.id));
    expect((await refresh(deactivated.refreshToken)).status).toBe(401);
    // A rejected refresh rotates nothing.
    expect(await familyOf(deactivated.sessionId)).toHaveLength(1);
  });

  it('400s a body that is not a refresh token, naming the field', async () => {
    for (const body of [{}, { refreshToken: 'nope' }, { refreshToken: 42 }]) {
      const response = await api('/api/v1/auth/refresh', { body });
      expect(response.status).toBe(400);
      expect((await json<ErrorBody>(response)).error.details?.issues?.map((issue) => issue.path)).toEqual(['refreshToken']);
    }
  });
});
