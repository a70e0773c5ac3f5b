import { and, eq, ne } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, invitations, memberships, organizations, sessions } from '../../src/db/schema/index.ts';
import { api, createApiKey, createMember, createOrg, createProject, createUser, json, ownerDb, type TestUser } from '../helpers/factories.ts';
import { roundTrips } from '../helpers/round-trips.ts';

type Org = { id: string; name: string; slug: string; subscriptionTier: string; createdAt: string; updatedAt: string; role: string | null };
type Auth = NonNullable<Parameters<typeof api>[1]>['auth'];
type Page<T> = { data: T[]; meta: { nextCursor: string | null; limit: number } };
type ErrorBody = { error: { code: string; message: string; details?: { issues?: Array<{ path: string }> } } };

const unique = () => crypto.randomUUID().slice(0, 8);
/** The org's audit entries written by the API (fixtures are written as 'system'). */
const audit = (orgId: string) =>
  ownerDb.http.select().from(auditLogs).where(and(eq(auditLogs.orgId, orgId), ne(auditLogs.actorType, 'system'))).orderBy(auditLogs.seq);
const auditBy = (actorId: string) => ownerDb.http.select().from(auditLogs).where(eq(auditLogs.actorId, actorId));
const issuePaths = (body: ErrorBody) => body.error.details?.issues?.map((issue) => issue.path);

async function createOrgViaApi(user: TestUser, body: Record<string, unknown>) {
  const response = await api('/api/v1/orgs', { auth: user, body });
  return { response, body: await json<{ data: Org } & ErrorBody>(response) };
}

describe('POST /api/v1/orgs', () => {
  it('creates the org with the caller as owner, in one round trip, audited once per row as the caller', async () => {
    const user = await createUser();
    let response!: Response;
    expect(await roundTrips(async () => (response = await api('/api/v1/orgs', { auth: user, body: { name: '  Acme Rockets  ', slug: `acme-${unique()}` } })))).toBe(1);
    expect(response.status).toBe(201);
    const { data } = await json<{ data: Org }>(response);
    expect(data).toEqual({
      id: expect.any(String),
      name: 'Acme Rockets',
      slug: expect.stringMatching(/^acme-/),
      subscriptionTier: 'free',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      role: 'owner',
    });
    expect(await ownerDb.http.select().from(memberships).where(eq(memberships.orgId, data.id))).toEqual([
      expect.objectContaining({ userId: user.id, role: 'owner' }),
    ]);
    const entries = await audit(data.id);
    expect(entries.map((entry) => [entry.action, entry.actorType, entry.actorId, entry.requestId])).toEqual([
      ['organization.created', 'user', user.id, response.headers.get('x-request-id')],
      ['membership.created', 'user', user.id, response.headers.get('x-request-id')],
    ]);
  });

  it('generates the slug from the name, and makes it unique with a short suffix when taken', async () => {
    const user = await createUser();
    const word = unique().replace(/[^a-z]/g, 'x');
    const first = await createOrgViaApi(user, { name: `Ünïcode Café ${word}!` });
    expect(first.response.status).toBe(201);
    expect(first.body.data.slug).toBe(`unicode-cafe-${word}`);
    const second = await createOrgViaApi(user, { name: `Unicode café ${word}` });
    expect(second.response.status).toBe(201);
    expect(second.body.data.slug).toMatch(new RegExp(`^unicode-cafe-${word}-[a-z0-9]{6}$`));
    const short = await createOrgViaApi(user, { name: '東京' });
    expect(short.body.data.slug).toMatch(/^org-[a-z0-9]{6}$/);
  });

  it('409s on an explicit slug that is taken, leaving no org, no membership and no audit entry behind', async () => {
    const owner = await createUser();
    const existing = await createOrg(owner);
    const user = await createUser();
    const { response, body } = await createOrgViaApi(user, { name: `Copycat ${unique()}`, slug: existing.slug });
    expect(response.status).toBe(409);
    expect(body.error).toMatchObject({ code: 'CONFLICT', message: `The slug "${existing.slug}" is already taken.` });
    expect(await ownerDb.http.select().from(memberships).where(eq(memberships.userId, user.id))).toEqual([]);
    expect(await auditBy(user.id)).toEqual([]);
  });

  it('validates the body, with field paths; the subscription tier is not writable', async () => {
    const user = await createUser();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{}, 'name'],
      [{ name: '   ' }, 'name'],
      [{ name: 'x'.repeat(101) }, 'name'],
      [{ name: 'Ok', slug: 'ab' }, 'slug'],
      [{ name: 'Ok', slug: 'Upper-Case' }, 'slug'],
      [{ name: 'Ok', slug: '-leading' }, 'slug'],
      [{ name: 'Ok', slug: 'x'.repeat(49) }, 'slug'],
    ];
    for (const [body, path] of cases) {
      const { response, body: error } = await createOrgViaApi(user, body);
      expect({ body, status: response.status, code: error.error.code }).toEqual({ body, status: 400, code: 'VALIDATION_FAILED' });
      expect(issuePaths(error)).toContain(path);
    }
    const tier = await createOrgViaApi(user, { name: 'Rich', subscriptionTier: 'enterprise' });
    expect(tier.response.status).toBe(400);
    expect(await auditBy(user.id)).toEqual([]);
  });

  it('401s for a signed-out session (the gate checks it in the same round trip) and creates nothing', async () => {
    const user = await createUser();
    await ownerDb.http.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.id, user.sessionId));
    expect((await api('/api/v1/orgs', { auth: user, body: { name: 'Ghost' } })).status).toBe(401);
    expect((await api('/api/v1/orgs', { auth: user })).status).toBe(401);
    expect(await ownerDb.http.select().from(memberships).where(eq(memberships.userId, user.id))).toEqual([]);
  });

  it('refuses anonymous callers (401) and API keys (403)', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const key = await createApiKey(org, { scopes: ['org:read', 'org:update'] });
    expect((await api('/api/v1/orgs', { body: { name: 'Nope' } })).status).toBe(401);
    expect((await api('/api/v1/orgs', { auth: { apiKey: key.key }, body: { name: 'Nope' } })).status).toBe(403);
  });
});

describe('GET /api/v1/orgs', () => {
  it('lists only my live organizations with my role, sorted by name, page by page', async () => {
    const me = await createUser();
    const tag = unique();
    const names = ['delta', 'Alpha', 'charlie', 'bravo', 'echo'].map((name) => `${name} ${tag}`);
    const ids: Record<string, string> = {};
    for (const name of names) ids[name] = (await createOrgViaApi(me, { name })).body.data.id;
    const someoneElse = await createUser();
    const foreign = await createOrg(someoneElse);
    const asViewer = await createOrg(someoneElse);
    await ownerDb.http.insert(memberships).values({ orgId: asViewer.id, userId: me.id, role: 'viewer' });
    await ownerDb.http.update(organizations).set({ deletedAt: new Date() }).where(eq(organizations.id, ids[`echo ${tag}`] ?? ''));

    const seen: Org[] = [];
    let cursor: string | null = null;
    do {
      const response = await api(`/api/v1/orgs?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { auth: me });
      expect(response.status).toBe(200);
      const page = await json<Page<Org>>(response);
      expect(page.data.length).toBeLessThanOrEqual(2);
      expect(page.meta.limit).toBe(2);
      seen.push(...page.data);
      cursor = page.meta.nextCursor;
    } while (cursor);

    expect(seen.map((org) => org.id)).not.toContain(foreign.id);
    expect(seen.map((org) => org.id)).not.toContain(ids[`echo ${tag}`]);
    expect(seen.find((org) => org.id === asViewer.id)?.role).toBe('viewer');
    const mine = seen.filter((org) => org.name.endsWith(tag));
    expect(mine.map((org) => [org.name, org.role])).toEqual([
      [`Alpha ${tag}`, 'owner'],
      [`bravo ${tag}`, 'owner'],
      [`charlie ${tag}`, 'owner'],
      [`delta ${tag}`, 'owner'],
    ]);
    expect(new Set(seen.map((org) => org.id)).size).toBe(seen.length);
  });

  it('defaults to 20 per page and validates limit and cursor', async () => {
    const me = await createUser();
    const first = await json<Page<Org>>(await api('/api/v1/orgs', { auth: me }));
    expect(first).toEqual({ data: [], meta: { nextCursor: null, limit: 20 } });
    for (const query of ['limit=0', 'limit=101', 'limit=abc', 'cursor=not-a-cursor', `cursor=${btoa('["x","not-a-uuid"]')}`]) {
      const response = await api(`/api/v1/orgs?${query}`, { auth: me });
      expect({ query, status: response.status }).toEqual({ query, status: 400 });
      expect(issuePaths(await json<ErrorBody>(response))).toEqual([query.split('=')[0]]);
    }
  });

  it('refuses anonymous callers (401) and API keys (403)', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const key = await createApiKey(org, { scopes: ['org:read'] });
    expect((await api('/api/v1/orgs')).status).toBe(401);
    expect((await api('/api/v1/orgs', { auth: { apiKey: key.key } })).status).toBe(403);
  });
});

describe('GET /api/v1/orgs/{orgId}', () => {
  it('returns the org to any member with their role, and to a scoped API key with role null', async () => {
    const owner = await createUser();
    const org = await createOrg(owner, { tier: 'pro' });
    const viewer = await createMember(org, 'viewer');
    const response = await api(`/api/v1/orgs/${org.id}`, { auth: viewer });
    expect(response.status).toBe(200);
    expect((await json<{ data: Org }>(response)).data).toEqual({
      id: org.id,
      name: org.name,
      slug: org.slug,
      subscriptionTier: 'pro',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      role: 'viewer',
    });
    const key = await createApiKey(org, { scopes: ['org:read'] });
    const byKey = await api(`/api/v1/orgs/${org.id}`, { auth: { apiKey: key.key } });
    expect((await json<{ data: Org }>(byKey)).data.role).toBeNull();
  });

  it('404s for a member of another org and for unknown or malformed ids; 401 anonymous; 403 for a key without org:read', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const stranger = await createUser();
    await createOrg(stranger);
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: stranger })).status).toBe(404);
    expect((await api(`/api/v1/orgs/${crypto.randomUUID()}`, { auth: owner })).status).toBe(404);
    expect((await api('/api/v1/orgs/not-a-uuid', { auth: owner })).status).toBe(404);
    expect((await api(`/api/v1/orgs/${org.id}`)).status).toBe(401);
    const key = await createApiKey(org, { scopes: ['members:read'] });
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: { apiKey: key.key } })).status).toBe(403);
  });
});

describe('PATCH /api/v1/orgs/{orgId}', () => {
  it('lets an admin rename the org and change its slug; one audit entry with the changes', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const admin = await createMember(org, 'admin');
    const slug = `renamed-${unique()}`;
    const response = await api(`/api/v1/orgs/${org.id}`, { method: 'PATCH', auth: admin, body: { name: 'Renamed', slug } });
    expect(response.status).toBe(200);
    expect((await json<{ data: Org }>(response)).data).toMatchObject({ id: org.id, name: 'Renamed', slug, role: 'admin' });
    const entries = await audit(org.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      action: 'organization.updated',
      actorId: admin.id,
      changes: { name: { from: org.name, to: 'Renamed' }, slug: { from: org.slug, to: slug } },
    });
  });

  it('409s on a taken slug and changes nothing', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const other = await createOrg(owner);
    const response = await api(`/api/v1/orgs/${org.id}`, { method: 'PATCH', auth: owner, body: { name: 'Half done', slug: other.slug } });
    expect(response.status).toBe(409);
    expect((await json<ErrorBody>(response)).error.message).toBe(`The slug "${other.slug}" is already taken.`);
    const [row] = await ownerDb.http.select().from(organizations).where(eq(organizations.id, org.id));
    expect(row).toMatchObject({ name: org.name, slug: org.slug });
    expect(await audit(org.id)).toEqual([]);
  });

  it('an empty body changes nothing; the tier and unknown fields are rejected; fields are validated', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const empty = await api(`/api/v1/orgs/${org.id}`, { method: 'PATCH', auth: owner, body: {} });
    expect(empty.status).toBe(200);
    expect((await json<{ data: Org }>(empty)).data).toMatchObject({ name: org.name, slug: org.slug });
    const tier = await api(`/api/v1/orgs/${org.id}`, { method: 'PATCH', auth: owner, body: { subscriptionTier: 'enterprise' } });
    expect(tier.status).toBe(400);
    const badSlug = await api(`/api/v1/orgs/${org.id}`, { method: 'PATCH', auth: owner, body: { slug: 'no spaces' } });
    expect(issuePaths(await json<ErrorBody>(badSlug))).toEqual(['slug']);
    const badName = await api(`/api/v1/orgs/${org.id}`, { method: 'PATCH', auth: owner, body: { name: '' } });
    expect(issuePaths(await json<ErrorBody>(badName))).toEqual(['name']);
    const [row] = await ownerDb.http.select().from(organizations).where(eq(organizations.id, org.id));
    expect(row?.subscriptionTier).toBe('free');
    expect(await audit(org.id)).toEqual([]);
  });

  it('403 for members and viewers and for a key without org:update; 404 for outsiders; 401 anonymous; a scoped key works', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const stranger = await createUser();
    const patch = (auth: Auth) => api(`/api/v1/orgs/${org.id}`, { method: 'PATCH', auth, body: { name: 'Hacked' } });
    expect((await patch(await createMember(org, 'member'))).status).toBe(403);
    expect((await patch(await createMember(org, 'viewer'))).status).toBe(403);
    expect((await patch(stranger)).status).toBe(404);
    expect((await patch(undefined)).status).toBe(401);
    expect((await patch({ apiKey: (await createApiKey(org, { scopes: ['org:read'] })).key })).status).toBe(403);
    expect(await audit(org.id)).toEqual([]);
    const key = await createApiKey(org, { scopes: ['org:update'] });
    expect((await patch({ apiKey: key.key })).status).toBe(200);
    expect((await audit(org.id)).map((entry) => [entry.action, entry.actorType, entry.actorId])).toEqual([['organization.updated', 'api_key', key.id]]);
  });
});

describe('DELETE /api/v1/orgs/{orgId}', () => {
  it('soft-deletes: afterwards every route of the org answers 404, even to its owner, and pending invitations are revoked', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const member = await createMember(org, 'member');
    const project = await createProject(org);
    const [invitation] = await ownerDb.http
      .insert(invitations)
      .values({ orgId: org.id, email: `x-${unique()}@example.com`, role: 'member', tokenHash: unique(), expiresAt: new Date(Date.now() + 86_400_000) })
      .returning();
    const response = await api(`/api/v1/orgs/${org.id}`, { method: 'DELETE', auth: owner });
    expect(response.status).toBe(204);

    const [row] = await ownerDb.http.select().from(organizations).where(eq(organizations.id, org.id));
    expect(row?.deletedAt).toBeInstanceOf(Date);
    const [revoked] = await ownerDb.http.select().from(invitations).where(and(eq(invitations.id, invitation?.id ?? '')));
    expect(revoked?.revokedAt).toBeInstanceOf(Date);
    expect((await audit(org.id)).map((entry) => [entry.action, entry.actorId])).toEqual([
      ['organization.deleted', owner.id],
      ['invitation.revoked', owner.id],
    ]);

    const calls: Array<[string, string, unknown?]> = [
      ['GET', `/api/v1/orgs/${org.id}`],
      ['PATCH', `/api/v1/orgs/${org.id}`, { name: 'Back' }],
      ['DELETE', `/api/v1/orgs/${org.id}`],
      ['GET', `/api/v1/orgs/${org.id}/members`],
      ['PATCH', `/api/v1/orgs/${org.id}/members/${member.id}`, { role: 'admin' }],
      ['DELETE', `/api/v1/orgs/${org.id}/members/${member.id}`],
      ['POST', `/api/v1/orgs/${org.id}/leave`],
      ['GET', `/api/v1/orgs/${org.id}/invitations`],
      ['POST', `/api/v1/orgs/${org.id}/invitations`, { email: `y-${unique()}@example.com`, role: 'member' }],
      ['GET', `/api/v1/orgs/${org.id}/projects/${project.id}`],
    ];
    for (const [method, path, body] of calls) {
      const result = await api(path, { method, auth: owner, body });
      expect({ method, path, status: result.status }).toEqual({ method, path, status: 404 });
    }
    const mine = await json<Page<Org>>(await api('/api/v1/orgs?limit=100', { auth: owner }));
    expect(mine.data.map((listed) => listed.id)).not.toContain(org.id);
    expect(await audit(org.id)).toHaveLength(2);
  });

  it('is for owners only: 403 for an admin and for a key without org:delete; 404 for outsiders; 401 anonymous', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const stranger = await createUser();
    const remove = (auth: Auth) => api(`/api/v1/orgs/${org.id}`, { method: 'DELETE', auth });
    expect((await remove(await createMember(org, 'admin'))).status).toBe(403);
    expect((await remove({ apiKey: (await createApiKey(org, { scopes: ['org:update', 'org:read'] })).key })).status).toBe(403);
    expect((await remove(stranger)).status).toBe(404);
    expect((await remove(undefined)).status).toBe(401);
    const [row] = await ownerDb.http.select().from(organizations).where(eq(organizations.id, org.id));
    expect(row?.deletedAt).toBeNull();
    expect(await audit(org.id)).toEqual([]);
  });
});
