import { describe, expect, it } from 'vitest';
import { api, createApiKey, createMember, createOrg, createProject, createUser, ownerDb, type Credential } from '../helpers/factories.ts';
import { auditLogs } from '../../src/db/schema/index.ts';
import { asc, eq } from 'drizzle-orm';
import { roundTrips } from '../helpers/round-trips.ts';

async function readTwice(path: string, auth: Credential) {
  const cold = await roundTrips(async () => expect((await api(path, { auth })).status).toBe(200));
  const warm = await roundTrips(async () => {
    const response = await api(path, { auth });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-cache')).toBe('HIT');
  });
  return { cold, warm };
}

describe('round trips', () => {
  it('a warm authenticated, rate-limited read of a project costs no Postgres round trip; the cold one two', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const member = await createMember(org, 'member');
    expect(await readTwice(`/api/v1/orgs/${org.id}/projects/${project.id}`, member)).toEqual({ cold: 2, warm: 0 });
  });

  it('the same with an API key (its lookup too is served from the edge copies)', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const { key } = await createApiKey(org, { scopes: ['projects:read'] });
    const path = `/api/v1/orgs/${org.id}/projects/${project.id}`;
    // The first call also looks the key up and records its use.
    expect((await api(path, { auth: { apiKey: key } })).status).toBe(200);
    expect(await roundTrips(async () => expect((await api(path, { auth: { apiKey: key } })).headers.get('x-cache')).toBe('HIT'))).toBe(0);
  });

  it('a refused read costs one round trip, and a repeated refusal none', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const stranger = await createUser();
    const path = `/api/v1/orgs/${org.id}/projects/${project.id}`;
    expect(await roundTrips(async () => expect((await api(path, { auth: stranger })).status).toBe(404))).toBe(1);
    expect(await roundTrips(async () => expect((await api(path, { auth: stranger })).status).toBe(404))).toBe(0);
  });

  it('a warm mutation and its audit entry cost one round trip', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const path = `/api/v1/orgs/${org.id}/projects/${project.id}`;
    expect((await api(path, { auth: owner })).status).toBe(200);
    expect(await roundTrips(async () => expect((await api(path, { method: 'PATCH', body: { name: 'Renamed' }, auth: owner })).status).toBe(200))).toBe(1);
    const entries = await ownerDb.http.select().from(auditLogs).where(eq(auditLogs.targetId, project.id)).orderBy(asc(auditLogs.seq));
    expect(entries.map((entry) => entry.action)).toEqual(['project.created', 'project.updated']);
  });

  it('with an Idempotency-Key a warm mutation costs two: the claim rides with the work, storing the answer is the second; a replay one', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const path = `/api/v1/orgs/${org.id}/projects/${project.id}`;
    expect((await api(path, { auth: owner })).status).toBe(200);
    const headers = { 'idempotency-key': crypto.randomUUID() };
    expect(await roundTrips(async () => expect((await api(path, { method: 'PATCH', body: { name: 'Keyed' }, auth: owner, headers })).status).toBe(200))).toBe(2);
    expect(await roundTrips(async () => expect((await api(path, { method: 'PATCH', body: { name: 'Keyed' }, auth: owner, headers })).headers.get('idempotent-replayed')).toBe('true'))).toBe(1);
  });
});
