import { and, eq, ne } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, memberships, projectMembers } from '../../src/db/schema/index.ts';
import { addMember, api, createApiKey, createMember, createOrg, createProject, createUser, json, ownerDb, setProjectRole, type TestOrg } from '../helpers/factories.ts';
import { roundTrips } from '../helpers/round-trips.ts';

type Auth = NonNullable<Parameters<typeof api>[1]>['auth'];
type Member = { userId: string; name: string; email: string; role: string; joinedAt: string };
type Page<T> = { data: T[]; meta: { nextCursor: string | null; limit: number } };
type ErrorBody = { error: { code: string; message: string; details?: { issues?: Array<{ path: string }> } } };

/** The org's audit entries written by the API (fixtures are written as 'system'). */
const audit = (orgId: string) =>
  ownerDb.http.select().from(auditLogs).where(and(eq(auditLogs.orgId, orgId), ne(auditLogs.actorType, 'system'))).orderBy(auditLogs.seq);
const roleOf = async (org: TestOrg, userId: string) =>
  (await ownerDb.http.select().from(memberships).where(and(eq(memberships.orgId, org.id), eq(memberships.userId, userId))))[0]?.role;
const owners = async (org: TestOrg) => ownerDb.http.select().from(memberships).where(and(eq(memberships.orgId, org.id), eq(memberships.role, 'owner')));

const setRole = (org: TestOrg, userId: string, role: string, auth: Auth) => api(`/api/v1/orgs/${org.id}/members/${userId}`, { method: 'PATCH', auth, body: { role } });
const remove = (org: TestOrg, userId: string, auth: Auth) => api(`/api/v1/orgs/${org.id}/members/${userId}`, { method: 'DELETE', auth });
const leave = (org: TestOrg, auth: Auth) => api(`/api/v1/orgs/${org.id}/leave`, { method: 'POST', auth });

describe('GET /api/v1/orgs/{orgId}/members', () => {
  it('lists members with their emails to any member, in the order they joined, page by page', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const admin = await createMember(org, 'admin');
    const viewer = await createMember(org, 'viewer');
    const member = await createMember(org, 'member');
    const outsider = await createUser();
    await createOrg(outsider);

    const seen: Member[] = [];
    let cursor: string | null = null;
    do {
      const response = await api(`/api/v1/orgs/${org.id}/members?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { auth: viewer });
      expect(response.status).toBe(200);
      const page = await json<Page<Member>>(response);
      seen.push(...page.data);
      cursor = page.meta.nextCursor;
    } while (cursor);
    const expected = (
      [
        [owner, 'owner'],
        [admin, 'admin'],
        [viewer, 'viewer'],
        [member, 'member'],
      ] as const
    ).map(([user, role]) => ({ userId: user.id, name: user.name, email: user.email, role, joinedAt: expect.stringMatching(/^\d{4}-.*Z$/) }));
    expect(seen).toEqual(expected);
  });

  it('does not show the caller’s memberships in other orgs (RLS alone would)', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const other = await createOrg(owner);
    const member = await createMember(other, 'member');
    const response = await json<Page<Member>>(await api(`/api/v1/orgs/${org.id}/members`, { auth: owner }));
    expect(response.data.map((row) => row.userId)).toEqual([owner.id]);
    expect(response.data.map((row) => row.userId)).not.toContain(member.id);
  });

  it('404s for outsiders, 401 anonymous, 403 for a key without members:read; 400 on a bad cursor', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const stranger = await createUser();
    expect((await api(`/api/v1/orgs/${org.id}/members`, { auth: stranger })).status).toBe(404);
    expect((await api(`/api/v1/orgs/${org.id}/members`)).status).toBe(401);
    expect((await api(`/api/v1/orgs/${org.id}/members`, { auth: { apiKey: (await createApiKey(org, { scopes: ['org:read'] })).key } })).status).toBe(403);
    const byKey = await api(`/api/v1/orgs/${org.id}/members`, { auth: { apiKey: (await createApiKey(org, { scopes: ['members:read'] })).key } });
    expect(byKey.status).toBe(200);
    const badCursor = await api(`/api/v1/orgs/${org.id}/members?cursor=${btoa(JSON.stringify(['yesterday', owner.id])).replace(/=+$/, '')}`, { auth: owner });
    expect(badCursor.status).toBe(400);
    expect((await json<ErrorBody>(badCursor)).error.details?.issues?.map((issue) => issue.path)).toEqual(['cursor']);
  });
});

describe('PATCH /api/v1/orgs/{orgId}/members/{userId}', () => {
  it('changes a role in one round trip (once the caller is admitted at the edge); one membership.updated entry by the caller', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const member = await createMember(org, 'member');
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(200);
    let response!: Response;
    expect(await roundTrips(async () => (response = await setRole(org, member.id, 'admin', owner)))).toBe(1);
    expect(response.status).toBe(200);
    expect((await json<{ data: Member }>(response)).data).toEqual({ userId: member.id, name: member.name, email: member.email, role: 'admin', joinedAt: expect.any(String) });
    expect(await roleOf(org, member.id)).toBe('admin');
    const entries = await audit(org.id);
    expect(entries.map((entry) => [entry.action, entry.actorId, entry.targetId, entry.changes])).toEqual([
      ['membership.updated', owner.id, member.id, { role: { from: 'member', to: 'admin' } }],
    ]);
  });

  it('only an owner may grant or take away the owner role: an admin gets 403 and nothing changes', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const coOwner = await createMember(org, 'owner');
    const admin = await createMember(org, 'admin');
    const member = await createMember(org, 'member');
    for (const [target, role] of [
      [member.id, 'owner'],
      [admin.id, 'owner'],
      [coOwner.id, 'admin'],
    ] as const) {
      const response = await setRole(org, target, role, admin);
      expect(response.status).toBe(403);
      expect((await json<ErrorBody>(response)).error.message).toMatch(/Only an owner/);
    }
    expect(await roleOf(org, admin.id)).toBe('admin');
    expect(await roleOf(org, coOwner.id)).toBe('owner');
    // Admins manage everyone else, themselves included.
    expect((await setRole(org, member.id, 'viewer', admin)).status).toBe(200);
    expect((await setRole(org, admin.id, 'member', admin)).status).toBe(200);
    // An owner may make an owner, and demote one while another remains.
    expect((await setRole(org, member.id, 'owner', owner)).status).toBe(200);
    expect((await setRole(org, coOwner.id, 'viewer', owner)).status).toBe(200);
    expect((await audit(org.id)).map((entry) => entry.action)).toEqual(Array(4).fill('membership.updated'));
  });

  it('409s when the last owner would be demoted, with a clear message', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const response = await setRole(org, owner.id, 'admin', owner);
    expect(response.status).toBe(409);
    expect((await json<ErrorBody>(response)).error).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('last owner') });
    expect(await roleOf(org, owner.id)).toBe('owner');
    expect(await audit(org.id)).toEqual([]);
  });

  it('an API key with members:write manages members but cannot touch owners', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const member = await createMember(org, 'member');
    const key = await createApiKey(org, { scopes: ['members:write'] });
    expect((await setRole(org, member.id, 'admin', { apiKey: key.key })).status).toBe(200);
    expect((await setRole(org, member.id, 'owner', { apiKey: key.key })).status).toBe(403);
    expect((await setRole(org, owner.id, 'viewer', { apiKey: key.key })).status).toBe(403);
    expect((await audit(org.id)).map((entry) => [entry.action, entry.actorType, entry.actorId])).toEqual([['membership.updated', 'api_key', key.id]]);
  });

  it('404 for a non-member and for outsiders; 403 for members, viewers and keys without the scope; 401; 400 with the field path', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const member = await createMember(org, 'member');
    const viewer = await createMember(org, 'viewer');
    const stranger = await createUser();
    const strangerOrg = await createOrg(stranger);
    const foreigner = await createMember(strangerOrg, 'member');
    expect((await setRole(org, foreigner.id, 'viewer', owner)).status).toBe(404);
    expect((await setRole(org, crypto.randomUUID(), 'viewer', owner)).status).toBe(404);
    expect((await setRole(org, member.id, 'viewer', stranger)).status).toBe(404);
    expect((await setRole(strangerOrg, foreigner.id, 'viewer', owner)).status).toBe(404);
    expect((await setRole(org, viewer.id, 'admin', member)).status).toBe(403);
    expect((await setRole(org, member.id, 'admin', viewer)).status).toBe(403);
    expect((await setRole(org, member.id, 'admin', { apiKey: (await createApiKey(org, { scopes: ['members:read'] })).key })).status).toBe(403);
    expect((await setRole(org, member.id, 'admin', undefined)).status).toBe(401);
    const invalid = await setRole(org, member.id, 'superuser', owner);
    expect(invalid.status).toBe(400);
    expect((await json<ErrorBody>(invalid)).error.details?.issues?.map((issue) => issue.path)).toEqual(['role']);
    expect(await roleOf(org, member.id)).toBe('member');
    expect(await roleOf(strangerOrg, foreigner.id)).toBe('member');
    expect(await audit(org.id)).toEqual([]);
  });
});

describe('DELETE /api/v1/orgs/{orgId}/members/{userId}', () => {
  it('removes the member and their project roles in one transaction, audited', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const admin = await createMember(org, 'admin');
    const member = await createMember(org, 'member');
    const [first, second] = [await createProject(org), await createProject(org)];
    await setProjectRole(first, member, 'editor');
    await setProjectRole(second, member, 'viewer');
    await setProjectRole(first, admin, 'admin');
    expect((await remove(org, member.id, admin)).status).toBe(204);
    expect(await roleOf(org, member.id)).toBeUndefined();
    const roles = await ownerDb.http.select().from(projectMembers).where(eq(projectMembers.orgId, org.id));
    expect(roles.map((role) => role.userId)).toEqual([admin.id]);
    const entries = await audit(org.id);
    expect(entries.map((entry) => [entry.action, entry.actorId, entry.targetId])).toEqual([
      ['membership.deleted', admin.id, member.id],
      ['project_member.deleted', admin.id, member.id],
      ['project_member.deleted', admin.id, member.id],
    ]);
    // The removed member is now an outsider.
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: member })).status).toBe(404);
  });

  it('a refused removal changes nothing: an admin cannot remove an owner (403), the last owner cannot be removed (409)', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    await setProjectRole(project, owner, 'admin');
    const admin = await createMember(org, 'admin');
    const forbidden = await remove(org, owner.id, admin);
    expect(forbidden.status).toBe(403);
    const last = await remove(org, owner.id, owner);
    expect(last.status).toBe(409);
    expect((await json<ErrorBody>(last)).error.message).toContain('last owner');
    expect(await roleOf(org, owner.id)).toBe('owner');
    expect(await ownerDb.http.select().from(projectMembers).where(eq(projectMembers.userId, owner.id))).toHaveLength(1);
    expect(await audit(org.id)).toEqual([]);
    // With a second owner, one owner may remove another.
    const coOwner = await createMember(org, 'owner');
    expect((await remove(org, owner.id, coOwner)).status).toBe(204);
  });

  it('404 for a non-member and for outsiders; 403 for members and keys without the scope; 401', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const member = await createMember(org, 'member');
    const viewer = await createMember(org, 'viewer');
    const stranger = await createUser();
    await createOrg(stranger);
    expect((await remove(org, stranger.id, owner)).status).toBe(404);
    expect((await remove(org, member.id, stranger)).status).toBe(404);
    expect((await remove(org, viewer.id, member)).status).toBe(403);
    expect((await remove(org, viewer.id, { apiKey: (await createApiKey(org, { scopes: ['members:read', 'org:read'] })).key })).status).toBe(403);
    expect((await remove(org, viewer.id, undefined)).status).toBe(401);
    expect(await roleOf(org, viewer.id)).toBe('viewer');
    const key = await createApiKey(org, { scopes: ['members:write'] });
    expect((await remove(org, owner.id, { apiKey: key.key })).status).toBe(403);
    expect((await remove(org, viewer.id, { apiKey: key.key })).status).toBe(204);
  });
});

describe('POST /api/v1/orgs/{orgId}/leave', () => {
  it('lets any member leave, taking their project roles with them', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const viewer = await createMember(org, 'viewer');
    const project = await createProject(org);
    await setProjectRole(project, viewer, 'editor');
    expect((await leave(org, viewer)).status).toBe(204);
    expect(await roleOf(org, viewer.id)).toBeUndefined();
    expect(await ownerDb.http.select().from(projectMembers).where(eq(projectMembers.userId, viewer.id))).toEqual([]);
    expect((await audit(org.id)).map((entry) => [entry.action, entry.actorId])).toEqual([
      ['membership.deleted', viewer.id],
      ['project_member.deleted', viewer.id],
    ]);
    expect((await leave(org, viewer)).status).toBe(404);
  });

  it('409s for the last owner; an owner may leave while another owner remains', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const response = await leave(org, owner);
    expect(response.status).toBe(409);
    expect((await json<ErrorBody>(response)).error.message).toBe(
      'The last owner of an organization cannot leave. Make another member an owner first, or delete the organization.',
    );
    const coOwner = await createMember(org, 'owner');
    expect((await leave(org, owner)).status).toBe(204);
    expect((await owners(org)).map((row) => row.userId)).toEqual([coOwner.id]);
  });

  it('a deactivated owner does not count: the last active owner cannot leave', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const coOwner = await createMember(org, 'owner');
    expect((await api(`/api/v1/users/${coOwner.id}`, { method: 'DELETE', auth: coOwner })).status).toBe(204);
    expect((await leave(org, owner)).status).toBe(409);
    expect((await owners(org)).map((row) => row.userId).sort()).toEqual([owner.id, coOwner.id].sort());
  });

  it('two owners, one deactivating while the other leaves at the same moment: one active owner remains', async () => {
    const cases = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const a = await createUser();
        const org = await createOrg(a);
        const b = await createMember(org, 'owner');
        return { org, a, b };
      }),
    );
    const results = await Promise.all(
      cases.map(async ({ org, a, b }) => {
        const [deactivation, leaving] = await Promise.all([api(`/api/v1/users/${a.id}`, { method: 'DELETE', auth: a }), leave(org, b)]);
        return [deactivation.status, leaving.status].sort();
      }),
    );
    // Whoever runs second under the org lock sees the other's change and is refused with 409.
    for (const statuses of results) expect(statuses).toEqual([204, 409]);
  });

  it('404 for outsiders, 401 anonymous, 403 for API keys (they are not members)', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const stranger = await createUser();
    expect((await leave(org, stranger)).status).toBe(404);
    expect((await leave(org, undefined)).status).toBe(401);
    expect((await leave(org, { apiKey: (await createApiKey(org, { scopes: ['org:read'] })).key })).status).toBe(403);
    expect((await leave(org, { apiKey: (await createApiKey(org, { scopes: ['members:read'] })).key })).status).toBe(403);
  });
});

describe('the last owner under concurrency', () => {
  // Several orgs at once, so the requests really overlap in Postgres; each org must keep exactly one owner.
  const ROUNDS = 6;

  async function twoOwners() {
    const a = await createUser();
    const org = await createOrg(a);
    const b = await createUser();
    await addMember(org, b, 'owner');
    return { org, a, b };
  }

  it('two owners demoting each other at the same time leave exactly one owner', async () => {
    const cases = await Promise.all(Array.from({ length: ROUNDS }, twoOwners));
    const results = await Promise.all(
      cases.map(async ({ org, a, b }) => {
        const [ab, ba] = await Promise.all([setRole(org, b.id, 'admin', a), setRole(org, a.id, 'admin', b)]);
        return { statuses: [ab.status, ba.status].sort(), owners: (await owners(org)).length };
      }),
    );
    // The loser runs after the winner committed (the org row lock) and is no longer an owner: 403.
    for (const result of results) expect(result).toEqual({ statuses: [200, 403], owners: 1 });
  });

  it('two owners leaving at the same time: one leaves, the other is the last owner (409)', async () => {
    const cases = await Promise.all(Array.from({ length: ROUNDS }, twoOwners));
    const results = await Promise.all(
      cases.map(async ({ org, a, b }) => {
        const responses = await Promise.all([leave(org, a), leave(org, b)]);
        return { statuses: responses.map((response) => response.status).sort(), owners: (await owners(org)).length };
      }),
    );
    for (const result of results) expect(result).toEqual({ statuses: [204, 409], owners: 1 });
  });

  it('an owner removing the other while being demoted by them: exactly one owner remains', async () => {
    const cases = await Promise.all(Array.from({ length: ROUNDS }, twoOwners));
    const results = await Promise.all(
      cases.map(async ({ org, a, b }) => {
        const [removal, demotion] = await Promise.all([remove(org, b.id, a), setRole(org, a.id, 'member', b)]);
        return { statuses: [removal.status, demotion.status].sort(), owners: (await owners(org)).length };
      }),
    );
    for (const result of results) {
      expect(result.owners).toBe(1);
      // Removal first: the demoter is gone by the time their change runs (404 from the gate, or 403 if the
      // gate passed before the removal committed). Demotion first: the remover is no longer an owner (403).
      expect([
        [204, 404],
        [204, 403],
        [200, 403],
      ]).toContainEqual(result.statuses);
    }
  });
});
