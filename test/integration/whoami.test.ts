import { describe, expect, it } from 'vitest';
import { api, createApiKey, createOrg, createProject, createUser, json, ownerDb } from '../helpers/factories.ts';
import { apiKeys } from '../../src/db/schema/index.ts';
import { eq, sql } from 'drizzle-orm';

type KeyIdentity = {
  type: 'api_key';
  org: { id: string; name: string; slug: string };
  key: { id: string; scopes: string[]; projectId: string | null; expiresAt: string | null; revokedAt: string | null; prefix: string };
};
type UserIdentity = { type: 'user'; sessionId: string; user: { id: string; email: string } };

describe('GET /api/v1/whoami', () => {
  it('tells an API key its org, scopes, project limit and expiry, and no secret', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const expiresAt = new Date(Date.now() + 86_400_000);
    const { id, key } = await createApiKey(org, { scopes: ['projects:read', 'projects:write'], projectId: project.id, expiresAt });
    const response = await api('/api/v1/whoami', { auth: { apiKey: key } });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const text = await response.text();
    expect(text).not.toContain(key);
    expect(text).not.toMatch(/hash/i);
    const { data } = JSON.parse(text) as { data: KeyIdentity };
    expect(data.type).toBe('api_key');
    expect(data.org).toEqual({ id: org.id, name: expect.any(String), slug: expect.any(String) });
    expect(data.key).toMatchObject({ id, scopes: ['projects:read', 'projects:write'], projectId: project.id, expiresAt: expiresAt.toISOString(), revokedAt: null, prefix: key.slice(0, 12) });
  });

  it('works with the key in X-API-Key too; an org-wide key has projectId null and no expiry', async () => {
    const org = await createOrg(await createUser());
    const { key } = await createApiKey(org, { scopes: ['org:read'] });
    const response = await api('/api/v1/whoami', { headers: { 'x-api-key': key } });
    expect(response.status).toBe(200);
    const { data } = await json<{ data: KeyIdentity }>(response);
    expect(data.key).toMatchObject({ scopes: ['org:read'], projectId: null, expiresAt: null });
  });

  it('tells a signed-in user who they are and which session', async () => {
    const user = await createUser();
    const response = await api('/api/v1/whoami', { auth: user });
    expect(response.status).toBe(200);
    const { data } = await json<{ data: UserIdentity }>(response);
    expect(data).toMatchObject({ type: 'user', sessionId: expect.any(String), user: { id: user.id, email: user.email } });
  });

  it('answers 401 for a revoked, an expired or an unknown key, and without credentials', async () => {
    const org = await createOrg(await createUser());
    const revoked = await createApiKey(org, { scopes: ['org:read'], revoked: true });
    const expiring = await createApiKey(org, { scopes: ['org:read'] });
    await ownerDb.http.update(apiKeys).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(apiKeys.id, expiring.id));
    for (const key of [revoked.key, expiring.key, `sk_test_${'x'.repeat(43)}`]) {
      const response = await api('/api/v1/whoami', { auth: { apiKey: key } });
      expect(response.status, key.slice(0, 12)).toBe(401);
      expect((await json<{ error: { code: string } }>(response)).error.code).toBe('UNAUTHORIZED');
    }
    expect((await api('/api/v1/whoami')).status).toBe(401);
  });

  it('answers 401 once the user session has ended (logout)', async () => {
    const user = await createUser();
    expect((await api('/api/v1/auth/logout', { auth: user, method: 'POST', body: {} })).status).toBeLessThan(300);
    expect((await api('/api/v1/whoami', { auth: user })).status).toBe(401);
  });
});
