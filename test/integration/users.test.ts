import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { credentials, organizations, sessions, users } from '../../src/db/schema/index.ts';
import { roundTrips } from '../helpers/round-trips.ts';
import { api, createApiKey, createMember, createOrg, createUser, json, ownerDb, TEST_PASSWORD, type TestUser } from '../helpers/factories.ts';

type ErrorBody = { error: { code: string; message: string; details?: { issues?: Array<{ path: string }>; organizations?: Array<{ id: string; name: string }> } } };
type Profile = { id: string; email: string; name: string; emailVerified: boolean; createdAt: string; updatedAt: string };

const issuePaths = async (response: Response) => ((await json<ErrorBody>(response)).error.details?.issues ?? []).map((issue) => issue.path).sort();

/** Two users who share an organization, and a stranger who shares none with them. */
async function neighbours() {
  const alice = await createUser();
  const org = await createOrg(alice);
  const bob = await createMember(org, 'viewer');
  const stranger = await createUser();
  await createOrg(stranger);
  return { alice, bob, stranger, org };
}

const apiKeyFor = async (user: TestUser) => (await createApiKey(await createOrg(user), { scopes: ['org:read', 'members:read'] })).key;

describe('GET /api/v1/me', () => {
  it("returns the caller's profile and nothing else", async () => {
    const user = await createUser({ name: 'Grace Hopper' });
    const response = await api('/api/v1/me', { auth: user });
    expect(response.status).toBe(200);
    const { data } = await json<{ data: Profile }>(response);
    expect(data).toEqual({ id: user.id, email: user.email, name: 'Grace Hopper', emailVerified: true, createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect(new Date(data.createdAt).toISOString()).toBe(data.createdAt);
  });

  it('401s without credentials, with a forged token and once the session is revoked; 403s an API key', async () => {
    const user = await createUser();
    expect((await api('/api/v1/me')).status).toBe(401);
    expect((await api('/api/v1/me', { auth: { token: `${user.accessToken}x` } })).status).toBe(401);
    expect((await api('/api/v1/me', { auth: { apiKey: await apiKeyFor(user) } })).status).toBe(403);
    await ownerDb.http.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.id, user.sessionId));
    const revoked = await api('/api/v1/me', { auth: user });
    expect(revoked.status).toBe(401);
    expect((await json<ErrorBody>(revoked)).error.code).toBe('UNAUTHORIZED');
  });
});

describe('GET /api/v1/users/{id}', () => {
  it('shows a public profile to the user themself and to users who share an organization', async () => {
    const { alice, bob } = await neighbours();
    const expected = { id: alice.id, email: alice.email, name: alice.name };
    for (const viewer of [alice, bob]) {
      const response = await api(`/api/v1/users/${alice.id}`, { auth: viewer });
      expect(response.status).toBe(200);
      expect((await json<{ data: unknown }>(response)).data).toEqual(expected);
    }
  });

  it('costs one round trip, for a neighbour as for a stranger', async () => {
    const { alice, bob, stranger } = await neighbours();
    for (const viewer of [bob, stranger]) {
      expect(await roundTrips(async () => api(`/api/v1/users/${alice.id}`, { auth: viewer }))).toBe(1);
    }
  });

  it('answers 404 to a stranger, for an unknown id, and once the shared organization is deleted', async () => {
    const { alice, bob, stranger, org } = await neighbours();
    const hidden = await api(`/api/v1/users/${alice.id}`, { auth: stranger });
    expect(hidden.status).toBe(404);
    expect((await json<ErrorBody>(hidden)).error.code).toBe('NOT_FOUND');
    expect((await api(`/api/v1/users/${crypto.randomUUID()}`, { auth: alice })).status).toBe(404);
    await ownerDb.http.update(organizations).set({ deletedAt: new Date() }).where(eq(organizations.id, org.id));
    expect((await api(`/api/v1/users/${alice.id}`, { auth: bob })).status).toBe(404);
  });

  it('400s an id that is not a UUID; 401s without credentials; 403s an API key', async () => {
    const { alice } = await neighbours();
    const malformed = await api('/api/v1/users/not-a-uuid', { auth: alice });
    expect(malformed.status).toBe(400);
    expect(await issuePaths(malformed)).toEqual(['id']);
    expect((await api(`/api/v1/users/${alice.id}`)).status).toBe(401);
    expect((await api(`/api/v1/users/${alice.id}`, { auth: { apiKey: await apiKeyFor(alice) } })).status).toBe(403);
  });
});

describe('PUT and PATCH /api/v1/users/{id}', () => {
  it('PUT replaces the editable fields of your own profile', async () => {
    const user = await createUser();
    const before = (await json<{ data: Profile }>(await api('/api/v1/me', { auth: user }))).data;
    const response = await api(`/api/v1/users/${user.id}`, { method: 'PUT', auth: user, body: { name: '  Katherine Johnson ' } });
    expect(response.status).toBe(200);
    const { data } = await json<{ data: Profile }>(response);
    expect(data).toEqual({ ...before, name: 'Katherine Johnson', updatedAt: expect.any(String) });
    expect(new Date(data.updatedAt).getTime()).toBeGreaterThan(new Date(before.updatedAt).getTime());
    const [row] = await ownerDb.http.select().from(users).where(eq(users.id, user.id));
    expect(row?.name).toBe('Katherine Johnson');
  });

  it('PATCH changes only what is sent; an empty PATCH changes nothing', async () => {
    const user = await createUser();
    const renamed = await api(`/api/v1/users/${user.id}`, { method: 'PATCH', auth: user, body: { name: 'Mary Jackson' } });
    expect(renamed.status).toBe(200);
    const after = (await json<{ data: Profile }>(renamed)).data;
    expect(after).toMatchObject({ name: 'Mary Jackson', email: user.email });
    const empty = await api(`/api/v1/users/${user.id}`, { method: 'PATCH', auth: user, body: {} });
    expect(empty.status).toBe(200);
    expect((await json<{ data: Profile }>(empty)).data).toEqual(after);
  });

  it('400s invalid bodies with field paths: missing or blank name, and fields that cannot be edited', async () => {
    const user = await createUser();
    const put = (body: unknown) => api(`/api/v1/users/${user.id}`, { method: 'PUT', auth: user, body });
    const patch = (body: unknown) => api(`/api/v1/users/${user.id}`, { method: 'PATCH', auth: user, body });
    expect(await issuePaths(await put({}))).toEqual(['name']);
    expect(await issuePaths(await put({ name: '   ' }))).toEqual(['name']);
    expect(await issuePaths(await patch({ name: 'x'.repeat(101) }))).toEqual(['name']);
    const emailChange = await patch({ email: 'new@example.com' });
    expect(emailChange.status).toBe(400);
    expect((await json<ErrorBody>(emailChange)).error.code).toBe('VALIDATION_FAILED');
    const [row] = await ownerDb.http.select().from(users).where(eq(users.id, user.id));
    expect(row).toMatchObject({ email: user.email, name: user.name });
  });

  it("403s a change to someone you can see, 404s someone you cannot, and changes neither", async () => {
    const { alice, bob, stranger } = await neighbours();
    for (const method of ['PUT', 'PATCH']) {
      const forbidden = await api(`/api/v1/users/${alice.id}`, { method, auth: bob, body: { name: 'Hacked' } });
      expect(forbidden.status).toBe(403);
      expect((await json<ErrorBody>(forbidden)).error.code).toBe('FORBIDDEN');
      expect((await api(`/api/v1/users/${alice.id}`, { method, auth: stranger, body: { name: 'Hacked' } })).status).toBe(404);
    }
    const [row] = await ownerDb.http.select().from(users).where(eq(users.id, alice.id));
    expect(row?.name).toBe(alice.name);
  });

  it('401s without credentials and 403s an API key', async () => {
    const user = await createUser();
    const key = await apiKeyFor(user);
    for (const method of ['PUT', 'PATCH']) {
      expect((await api(`/api/v1/users/${user.id}`, { method, body: { name: 'X' } })).status).toBe(401);
      expect((await api(`/api/v1/users/${user.id}`, { method, auth: { apiKey: key }, body: { name: 'X' } })).status).toBe(403);
    }
  });
});

describe('DELETE /api/v1/users/{id} (deactivation)', () => {
  it('deactivates your account: every session and token stops working at once, and login fails like a wrong password', async () => {
    const user = await createUser();
    const login = await api('/api/v1/auth/login', { body: { email: user.email, password: TEST_PASSWORD } });
    const other = (await json<{ data: { tokens: { accessToken: string; refreshToken: string } } }>(login)).data.tokens;
    const response = await api(`/api/v1/users/${user.id}`, { method: 'DELETE', auth: user });
    expect(response.status).toBe(204);
    expect((await api('/api/v1/me', { auth: user })).status).toBe(401);
    expect((await api('/api/v1/me', { auth: { token: other.accessToken } })).status).toBe(401);
    expect((await api('/api/v1/auth/refresh', { body: { refreshToken: other.refreshToken } })).status).toBe(401);
    const relogin = await api('/api/v1/auth/login', { body: { email: user.email, password: TEST_PASSWORD } });
    expect(relogin.status).toBe(401);
    expect((await json<ErrorBody>(relogin)).error.message).toBe('Invalid email or password.');
    const [credential] = await ownerDb.http.select().from(credentials).where(eq(credentials.userId, user.id));
    expect(credential?.deactivatedAt).toBeInstanceOf(Date);
    const live = (await ownerDb.http.select().from(sessions).where(eq(sessions.userId, user.id))).filter((row) => row.revokedAt === null);
    expect(live).toEqual([]);
  });

  it('refuses with 409 while you are the last active owner of an organization, and changes nothing', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const admin = await createMember(org, 'admin');
    const response = await api(`/api/v1/users/${owner.id}`, { method: 'DELETE', auth: owner });
    expect(response.status).toBe(409);
    const { error } = await json<ErrorBody>(response);
    expect(error.code).toBe('CONFLICT');
    expect(error.details?.organizations).toEqual([{ id: org.id, name: org.name }]);
    expect((await api('/api/v1/me', { auth: owner })).status).toBe(200);
    const [credential] = await ownerDb.http.select().from(credentials).where(eq(credentials.userId, owner.id));
    expect(credential?.deactivatedAt).toBeNull();
    // An admin is not an owner, and neither is a deactivated co-owner.
    expect(admin.id).not.toBe(owner.id);
    const ghost = await createMember(org, 'owner');
    await ownerDb.http.update(credentials).set({ deactivatedAt: new Date() }).where(eq(credentials.userId, ghost.id));
    expect((await api(`/api/v1/users/${owner.id}`, { method: 'DELETE', auth: owner })).status).toBe(409);
  });

  it('lets an owner go when another active owner remains, or when the organization is deleted', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    await createMember(org, 'owner');
    expect((await api(`/api/v1/users/${owner.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);

    const founder = await createUser();
    const closed = await createOrg(founder);
    await ownerDb.http.update(organizations).set({ deletedAt: new Date() }).where(eq(organizations.id, closed.id));
    expect((await api(`/api/v1/users/${founder.id}`, { method: 'DELETE', auth: founder })).status).toBe(204);
  });

  it('lets only one of two co-owners leave when both deactivate at the same moment', async () => {
    const first = await createUser();
    const org = await createOrg(first);
    const second = await createMember(org, 'owner');
    const statuses = await Promise.all([first, second].map((user) => api(`/api/v1/users/${user.id}`, { method: 'DELETE', auth: user }).then((r) => r.status)));
    expect(statuses.sort()).toEqual([204, 409]);
  });

  it("403s deactivating someone you can see, 404s someone you cannot; 401 without credentials, 403 for an API key", async () => {
    const { alice, bob, stranger } = await neighbours();
    expect((await api(`/api/v1/users/${alice.id}`, { method: 'DELETE', auth: bob })).status).toBe(403);
    expect((await api(`/api/v1/users/${alice.id}`, { method: 'DELETE', auth: stranger })).status).toBe(404);
    expect((await api(`/api/v1/users/${alice.id}`, { method: 'DELETE' })).status).toBe(401);
    expect((await api(`/api/v1/users/${bob.id}`, { method: 'DELETE', auth: { apiKey: await apiKeyFor(bob) } })).status).toBe(403);
    expect((await api('/api/v1/me', { auth: alice })).status).toBe(200);
    expect((await api('/api/v1/me', { auth: bob })).status).toBe(200);
  });
});
