import { and, eq, isNull } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { apiKeys, invitations, organizations, projects } from '../../src/db/schema/index.ts';
import { FILE_LIMITS, type LimitOverrides, ORG_CALLER_RATE_LIMITS, QUOTAS, RATE_LIMITS, RATE_WINDOW_SECONDS } from '../../src/lib/limits.ts';
import { roundTrips } from '../helpers/round-trips.ts';
import { api, createApiKey, createMember, createOrg, createUser, json, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';

/**
 * Quotas: an org holds at most its tier's figure (or its override) of projects, API keys and members
 * (pending invitations included). The check runs in the create's own batch under the org row's lock, so
 * exactly `limit` creates succeed, however many race, and a refused create leaves nothing behind.
 */
const setOverrides = (org: TestOrg, overrides: LimitOverrides) => ownerDb.http.update(organizations).set({ limitOverrides: overrides }).where(eq(organizations.id, org.id));

const createProjectAs = (org: TestOrg, auth: TestUser, name = `P ${crypto.randomUUID().slice(0, 6)}`) => api(`/api/v1/orgs/${org.id}/projects`, { body: { name }, auth });
const createKeyAs = (org: TestOrg, auth: TestUser) => api(`/api/v1/orgs/${org.id}/api-keys`, { body: { name: 'k', scopes: ['projects:read'] }, auth });
const inviteAs = (org: TestOrg, auth: TestUser) => api(`/api/v1/orgs/${org.id}/invitations`, { body: { email: `q-${crypto.randomUUID().slice(0, 8)}@example.com`, role: 'member' }, auth });

const liveProjects = async (org: TestOrg) => (await ownerDb.http.select({ id: projects.id }).from(projects).where(and(eq(projects.orgId, org.id), isNull(projects.deletedAt)))).length;
const keyCount = async (org: TestOrg) => (await ownerDb.http.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.orgId, org.id))).length;
const invitationCount = async (org: TestOrg) => (await ownerDb.http.select({ id: invitations.id }).from(invitations).where(eq(invitations.orgId, org.id))).length;

async function expectQuotaExceeded(response: Response, details: { resource: string; limit: number; used: number }) {
  expect(response.status).toBe(403);
  expect(await response.json()).toMatchObject({ error: { code: 'QUOTA_EXCEEDED', details } });
}

async function freeOrg() {
  const owner = await createUser();
  return { owner, org: await createOrg(owner) };
}

describe('quotas', () => {
  it('a free org creates exactly its tier’s number of projects; the next is 403 QUOTA_EXCEEDED and creates nothing', async () => {
    const { owner, org } = await freeOrg();
    const limit = QUOTAS.free.projects;
    for (let i = 0; i < limit; i++) expect((await createProjectAs(org, owner)).status).toBe(201);
    await expectQuotaExceeded(await createProjectAs(org, owner, 'one too many'), { resource: 'projects', limit, used: limit });
    expect(await liveProjects(org)).toBe(limit);
    // A deleted project no longer counts.
    const [first] = await ownerDb.http.select({ id: projects.id }).from(projects).where(eq(projects.orgId, org.id)).limit(1);
    expect((await api(`/api/v1/orgs/${org.id}/projects/${first?.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect((await createProjectAs(org, owner)).status).toBe(201);
  });

  it('concurrent creates never exceed the quota: exactly `limit` of 20 racing requests succeed', async () => {
    const { owner, org } = await freeOrg();
    const limit = 5;
    await setOverrides(org, { quotas: { projects: limit } });
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => createProjectAs(org, owner, `race ${i}`)));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([...Array<number>(limit).fill(201), ...Array<number>(20 - limit).fill(403)]);
    for (const response of responses.filter((r) => r.status === 403)) expect(await response.json()).toMatchObject({ error: { code: 'QUOTA_EXCEEDED' } });
    expect(await liveProjects(org)).toBe(limit);
  });

  it('concurrent API key creates and invitations hold to their quotas too', async () => {
    const { owner, org } = await freeOrg();
    await setOverrides(org, { quotas: { apiKeys: 3, members: 4 } });
    const [keys, invites] = await Promise.all([
      Promise.all(Array.from({ length: 10 }, () => createKeyAs(org, owner))),
      Promise.all(Array.from({ length: 10 }, () => inviteAs(org, owner))),
    ]);
    expect(keys.filter((r) => r.status === 201)).toHaveLength(3);
    expect(keys.filter((r) => r.status === 403)).toHaveLength(7);
    // The owner is one member: three invitations fill a quota of four.
    expect(invites.filter((r) => r.status === 201)).toHaveLength(3);
    expect(invites.filter((r) => r.status === 403)).toHaveLength(7);
    expect([await keyCount(org), await invitationCount(org)]).toEqual([3, 3]);
  });

  it('API keys: live keys count; a revoked or expired one frees its place', async () => {
    const { owner, org } = await freeOrg();
    await setOverrides(org, { quotas: { apiKeys: 2 } });
    await createApiKey(org, { scopes: ['projects:read'], revoked: true });
    await createApiKey(org, { scopes: ['projects:read'], expiresAt: new Date(Date.now() - 1000) });
    expect((await createKeyAs(org, owner)).status).toBe(201);
    const second = await createKeyAs(org, owner);
    expect(second.status).toBe(201);
    await expectQuotaExceeded(await createKeyAs(org, owner), { resource: 'apiKeys', limit: 2, used: 2 });
    expect(await keyCount(org)).toBe(4);
    const { data } = await json<{ data: { id: string } }>(second);
    expect((await api(`/api/v1/orgs/${org.id}/api-keys/${data.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect((await createKeyAs(org, owner)).status).toBe(201);
  });

  it('members: members and pending invitations count; the invitation beyond is refused and none is stored', async () => {
    const { owner, org } = await freeOrg();
    await createMember(org, 'admin');
    await setOverrides(org, { quotas: { members: 3 } });
    expect((await inviteAs(org, owner)).status).toBe(201);
    await expectQuotaExceeded(await inviteAs(org, owner), { resource: 'members', limit: 3, used: 3 });
    expect(await invitationCount(org)).toBe(1);
    // A revoked invitation frees its place.
    const [pending] = await ownerDb.http.select({ id: invitations.id }).from(invitations).where(eq(invitations.orgId, org.id));
    expect((await api(`/api/v1/orgs/${org.id}/invitations/${pending?.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect((await inviteAs(org, owner)).status).toBe(201);
  });

  it('overrides raise and lower the tier’s figure, and a higher tier raises it', async () => {
    const { owner, org } = await freeOrg();
    await setOverrides(org, { quotas: { projects: 2 } });
    expect((await createProjectAs(org, owner)).status).toBe(201);
    expect((await createProjectAs(org, owner)).status).toBe(201);
    await expectQuotaExceeded(await createProjectAs(org, owner), { resource: 'projects', limit: 2, used: 2 });
    await setOverrides(org, { quotas: { projects: 3 } });
    expect((await createProjectAs(org, owner)).status).toBe(201);
    // Lowered below what the org holds: nothing is taken away, nothing more is created.
    await setOverrides(org, { quotas: { projects: 1 } });
    await expectQuotaExceeded(await createProjectAs(org, owner), { resource: 'projects', limit: 1, used: 3 });
    await setOverrides(org, {});
    await ownerDb.http.update(organizations).set({ subscriptionTier: 'pro' }).where(eq(organizations.id, org.id));
    expect((await createProjectAs(org, owner)).status).toBe(201);
    expect(await liveProjects(org)).toBe(4);
  });

  it('a zero quota refuses the first create', async () => {
    const { owner, org } = await freeOrg();
    await setOverrides(org, { quotas: { projects: 0 } });
    await expectQuotaExceeded(await createProjectAs(org, owner), { resource: 'projects', limit: 0, used: 0 });
  });
});

describe('GET /orgs/{orgId}/usage', () => {
  it('shows the tier, every rate limit and every quota with its use, overrides applied, to any member and to keys with org:read', async () => {
    const { owner, org } = await freeOrg();
    const viewer = await createMember(org, 'viewer');
    expect((await createProjectAs(org, owner)).status).toBe(201);
    expect((await inviteAs(org, owner)).status).toBe(201);
    await setOverrides(org, { rateLimits: { write: 7 }, callerRateLimits: { read: 9 }, quotas: { apiKeys: 4 }, files: { storageBytes: 5 * 2 ** 30 } });
    const key = await createApiKey(org, { scopes: ['org:read'] });
    const expected = {
      subscriptionTier: 'free',
      rateLimits: Object.fromEntries(Object.entries({ ...RATE_LIMITS.free, write: 7 }).map(([routeClass, limit]) => [routeClass, { limit, windowSeconds: RATE_WINDOW_SECONDS }])),
      callerRateLimits: Object.fromEntries(Object.entries({ ...ORG_CALLER_RATE_LIMITS, read: 9 }).map(([routeClass, limit]) => [routeClass, { limit, windowSeconds: RATE_WINDOW_SECONDS }])),
      quotas: {
        projects: { limit: QUOTAS.free.projects, used: 1 },
        members: { limit: QUOTAS.free.members, used: 3 },
        apiKeys: { limit: 4, used: 1 },
      },
      storage: { usedBytes: 0, limitBytes: 5 * 2 ** 30, maxUploadBytes: FILE_LIMITS.free.maxUploadBytes },
    };
    for (const auth of [viewer, { apiKey: key.key }]) {
      const response = await api(`/api/v1/orgs/${org.id}/usage`, { auth });
      expect(response.status).toBe(200);
      expect((await json(response)).data).toEqual(expected);
    }
    const stranger = await createUser();
    expect((await api(`/api/v1/orgs/${org.id}/usage`, { auth: stranger })).status).toBe(404);
  });

  it('costs one round trip once the caller is admitted at the edge, as does a create with its quota check', async () => {
    const { owner, org } = await freeOrg();
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(200);
    expect(await roundTrips(async () => expect((await api(`/api/v1/orgs/${org.id}/usage`, { auth: owner })).status).toBe(200))).toBe(1);
    expect(await roundTrips(async () => expect((await createProjectAs(org, owner)).status).toBe(201))).toBe(1);
    await setOverrides(org, { quotas: { projects: 1 } });
    expect(await roundTrips(async () => expect((await createProjectAs(org, owner)).status).toBe(403))).toBe(1);
  });
});
