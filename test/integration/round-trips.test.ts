import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, createMember, createOrg, createProject, createUser, ownerDb } from '../helpers/factories.ts';
import { auditLogs } from '../../src/db/schema/index.ts';
import { asc, eq } from 'drizzle-orm';
import { countRoundTrips } from '../helpers/round-trips.ts';

afterEach(() => vi.restoreAllMocks());

describe('round trips', () => {
  it('an authenticated read of one project costs one round trip (gate and read together)', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const member = await createMember(org, 'member');
    const roundTrips = countRoundTrips();
    const response = await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: member });
    expect(response.status).toBe(200);
    expect(roundTrips()).toBe(1);
  });

  it('a refused read also costs one round trip and returns nothing', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const stranger = await createUser();
    const roundTrips = countRoundTrips();
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: stranger })).status).toBe(404);
    expect(roundTrips()).toBe(1);
  });

  it('a mutation and its audit entry cost one round trip', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const roundTrips = countRoundTrips();
    const response = await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { method: 'PATCH', body: { name: 'Renamed' }, auth: owner });
    expect(response.status).toBe(200);
    expect(roundTrips()).toBe(1);
    const entries = await ownerDb.http.select().from(auditLogs).where(eq(auditLogs.targetId, project.id)).orderBy(asc(auditLogs.seq));
    expect(entries.map((entry) => entry.action)).toEqual(['project.created', 'project.updated']);
  });
});
