import { and, asc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, projectMembers, projects } from '../../src/db/schema/index.ts';
import type { OrgRole, ProjectRole } from '../../src/lib/permissions.ts';
import { addMember, api, createApiKey, createMember, createOrg, createProject, createUser, json, ownerDb, setProjectRole, type TestOrg, type TestUser } from '../helpers/factories.ts';

type Member = { userId: string; name: string; role: ProjectRole };
type Page = { data: Member[]; meta: { nextCursor: string | null; limit: number } };
type Project = { id: string; orgId: string };
type Auth = TestUser | { apiKey: string };

const membersUrl = (project: Project) => `/api/v1/orgs/${project.orgId}/projects/${project.id}/members`;
const memberUrl = (project: Project, user: { id: string }) => `${membersUrl(project)}/${user.id}`;
const auditOf = (org: TestOrg) => ownerDb.http.select().from(auditLogs).where(eq(auditLogs.orgId, org.id)).orderBy(asc(auditLogs.seq));
const storedRole = async (project: Project, user: { id: string }) =>
  (await ownerDb.http.select().from(projectMembers).where(and(eq(projectMembers.projectId, project.id), eq(projectMembers.userId, user.id))))[0]?.role;
const put = (project: Project, user: { id: string }, auth: Auth | undefined, body: unknown) => api(memberUrl(project, user), { auth, method: 'PUT', body });
const patchProject = (project: Project, auth: Auth) =>
  api(`/api/v1/orgs/${project.orgId}/projects/${project.id}`, { auth, method: 'PATCH', body: { name: `renamed ${crypto.randomUUID().slice(0, 4)}` } }).then((r) => r.status);

async function setup() {
  const owner = await createUser();
  const org = await createOrg(owner);
  const project = await createProject(org);
  return { owner, org, project };
}

describe('GET /orgs/{orgId}/projects/{projectId}/members', () => {
  it("lists this project's roles by name, paginated, to any org member", async () => {
    const { org, project } = await setup();
    const other = await createProject(org);
    const users = await Promise.all(['Carol', 'alice', 'Bob'].map((name) => createUser({ name })));
    const roles: ProjectRole[] = ['admin', 'editor', 'viewer'];
    for (const [i, user] of users.entries()) {
      await addMember(org, user, 'member');
      await setProjectRole(project, user, roles[i] ?? 'viewer');
    }
    const outsider = await createMember(org, 'member');
    await setProjectRole(other, outsider, 'admin');
    const viewer = await createMember(org, 'viewer');

    const response = await api(membersUrl(project), { auth: viewer });
    expect(response.status).toBe(200);
    const page = await json<Page>(response);
    expect(page.data).toEqual([
      { userId: users[1]?.id, name: 'alice', role: 'editor' },
      { userId: users[2]?.id, name: 'Bob', role: 'viewer' },
      { userId: users[0]?.id, name: 'Carol', role: 'admin' },
    ]);
    expect(page.meta).toEqual({ nextCursor: null, limit: 20 });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const next: Page = await json<Page>(await api(`${membersUrl(project)}?limit=1${cursor ? `&cursor=${cursor}` : ''}`, { auth: viewer }));
      seen.push(...next.data.map((member) => member.name));
      cursor = next.meta.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['alice', 'Bob', 'Carol']);
  });

  it('401s anonymous, 404s strangers, deleted and foreign projects, 403s a key without the scope', async () => {
    const { org, project } = await setup();
    const other = await createProject(org);
    const { project: foreign } = await setup();
    const stranger = await createUser();
    await createOrg(stranger);
    const noScope = await createApiKey(org, { scopes: ['projects:read'] });
    const reader = await createApiKey(org, { scopes: ['project_members:read'], projectId: other.id });
    const owner = await createMember(org, 'owner');
    expect((await api(membersUrl(project))).status).toBe(401);
    expect((await api(membersUrl(project), { auth: stranger })).status).toBe(404);
    expect((await api(membersUrl({ id: foreign.id, orgId: org.id }), { auth: owner })).status).toBe(404);
    expect((await api(membersUrl(project), { auth: { apiKey: noScope.key } })).status).toBe(403);
    expect((await api(membersUrl(project), { auth: { apiKey: reader.key } })).status).toBe(404);
    expect((await api(membersUrl(other), { auth: { apiKey: reader.key } })).status).toBe(200);
    await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: owner, method: 'DELETE' });
    expect((await api(membersUrl(project), { auth: owner })).status).toBe(404);
  });
});

describe('PUT /orgs/{orgId}/projects/{projectId}/members/{userId}', () => {
  it('creates, then changes, a role, auditing each change once and a no-op not at all', async () => {
    const { owner, org, project } = await setup();
    const user = await createMember(org, 'member');
    const before = (await auditOf(org)).length;

    const created = await put(project, user, owner, { role: 'viewer' });
    expect(created.status).toBe(200);
    expect((await json<{ data: Member }>(created)).data).toEqual({ userId: user.id, name: user.name, role: 'viewer' });
    const changed = await put(project, user, owner, { role: 'editor' });
    expect((await json<{ data: Member }>(changed)).data.role).toBe('editor');
    expect((await put(project, user, owner, { role: 'editor' })).status).toBe(200);

    expect(await storedRole(project, user)).toBe('editor');
    const entries = (await auditOf(org)).slice(before);
    expect(entries).toEqual([
      expect.objectContaining({ action: 'project_member.created', targetId: user.id, actorId: owner.id, changes: expect.objectContaining({ role: 'viewer', project_id: project.id }) }),
      expect.objectContaining({ action: 'project_member.updated', targetId: user.id, changes: { role: { from: 'viewer', to: 'editor' } } }),
    ]);
  });

  it('404s a user who is not a member of the org (existing or not) and writes nothing', async () => {
    const { owner, org, project } = await setup();
    const outsider = await createUser();
    await createOrg(outsider);
    const before = (await auditOf(org)).length;
    for (const user of [outsider, { id: crypto.randomUUID() }]) {
      const response = await put(project, user, owner, { role: 'admin' });
      expect(response.status).toBe(404);
      expect((await json<{ error: { code: string } }>(response)).error.code).toBe('NOT_FOUND');
      expect(await storedRole(project, user)).toBeUndefined();
    }
    expect((await auditOf(org)).length).toBe(before);
  });

  it('400s an invalid role or user id, naming the field', async () => {
    const { owner, org, project } = await setup();
    const user = await createMember(org, 'member');
    for (const body of [{ role: 'owner' }, {}, { role: null }]) {
      const response = await put(project, user, owner, body);
      expect(response.status).toBe(400);
      expect((await json<{ error: { details: { issues: Array<{ path: string }> } } }>(response)).error.details.issues.map((i) => i.path)).toEqual(['role']);
    }
    expect((await put(project, { id: 'not-a-uuid' }, owner, { role: 'viewer' })).status).toBe(400);
    expect(await storedRole(project, user)).toBeUndefined();
  });

  it('lets org managers and project admins set roles; refuses members (403), strangers (404), anonymous (401), keys without the scope (403)', async () => {
    const { org, project } = await setup();
    const admin = await createMember(org, 'admin');
    const projectAdmin = await createMember(org, 'viewer');
    await setProjectRole(project, projectAdmin, 'admin');
    const member = await createMember(org, 'member');
    const target = await createMember(org, 'member');
    const stranger = await createUser();
    await createOrg(stranger);
    const writer = await createApiKey(org, { scopes: ['project_members:write'] });
    const reader = await createApiKey(org, { scopes: ['project_members:read'] });

    expect((await put(project, target, undefined, { role: 'viewer' })).status).toBe(401);
    expect((await put(project, target, member, { role: 'viewer' })).status).toBe(403);
    expect((await put(project, target, stranger, { role: 'viewer' })).status).toBe(404);
    expect((await put(project, target, { apiKey: reader.key }, { role: 'viewer' })).status).toBe(403);
    expect(await storedRole(project, target)).toBeUndefined();
    expect((await put(project, target, admin, { role: 'viewer' })).status).toBe(200);
    expect((await put(project, target, projectAdmin, { role: 'editor' })).status).toBe(200);
    expect((await put(project, target, { apiKey: writer.key }, { role: 'admin' })).status).toBe(200);
    expect(await storedRole(project, target)).toBe('admin');
    const keyEntry = (await auditOf(org)).at(-1);
    expect(keyEntry).toMatchObject({ action: 'project_member.updated', actorType: 'api_key', actorId: writer.id });
  });

  it('404s an unknown or deleted project', async () => {
    const { owner, org, project } = await setup();
    const user = await createMember(org, 'member');
    expect((await put({ id: crypto.randomUUID(), orgId: org.id }, user, owner, { role: 'viewer' })).status).toBe(404);
    await ownerDb.http.update(projects).set({ deletedAt: new Date() }).where(eq(projects.id, project.id));
    expect((await put(project, user, owner, { role: 'viewer' })).status).toBe(404);
    expect(await storedRole(project, user)).toBeUndefined();
  });
});

describe('DELETE /orgs/{orgId}/projects/{projectId}/members/{userId}', () => {
  it('removes the role (audited once); a second delete 404s', async () => {
    const { owner, org, project } = await setup();
    const user = await createMember(org, 'member');
    await setProjectRole(project, user, 'viewer');
    const before = (await auditOf(org)).length;
    const response = await api(memberUrl(project, user), { auth: owner, method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(await storedRole(project, user)).toBeUndefined();
    expect((await auditOf(org)).slice(before)).toEqual([expect.objectContaining({ action: 'project_member.deleted', targetId: user.id, actorId: owner.id })]);
    expect((await api(memberUrl(project, user), { auth: owner, method: 'DELETE' })).status).toBe(404);
  });

  it('refuses members (403), strangers (404), anonymous (401) and keeps the role', async () => {
    const { org, project } = await setup();
    const user = await createMember(org, 'member');
    await setProjectRole(project, user, 'viewer');
    const member = await createMember(org, 'member');
    const stranger = await createUser();
    await createOrg(stranger);
    expect((await api(memberUrl(project, user), { method: 'DELETE' })).status).toBe(401);
    expect((await api(memberUrl(project, user), { auth: member, method: 'DELETE' })).status).toBe(403);
    expect((await api(memberUrl(project, user), { auth: stranger, method: 'DELETE' })).status).toBe(404);
    expect(await storedRole(project, user)).toBe('viewer');
  });
});

describe('project roles narrow and widen the org role on one project', () => {
  async function withRoles(orgRole: OrgRole, projectRole: ProjectRole) {
    const { owner, org, project } = await setup();
    const other = await createProject(org);
    const user = await createMember(org, orgRole);
    const response = await put(project, user, owner, { role: projectRole });
    expect(response.status).toBe(200);
    return { owner, org, project, other, user };
  }

  it('narrows: an org member who is a project viewer cannot PATCH that project, but can PATCH another', async () => {
    const { owner, project, other, user } = await withRoles('member', 'viewer');
    expect(await patchProject(project, user)).toBe(403);
    expect(await patchProject(other, user)).toBe(200);
    // Removing the project role restores the org role there.
    expect((await api(memberUrl(project, user), { auth: owner, method: 'DELETE' })).status).toBe(204);
    expect(await patchProject(project, user)).toBe(200);
  });

  it('widens: an org viewer who is a project editor can PATCH that project, not others', async () => {
    const { project, other, user } = await withRoles('viewer', 'editor');
    expect(await patchProject(project, user)).toBe(200);
    expect(await patchProject(other, user)).toBe(403);
  });

  it('widens to project admin: an org viewer may then delete that project and manage its roles', async () => {
    const { org, project, other, user } = await withRoles('viewer', 'admin');
    const target = await createMember(org, 'member');
    expect((await put(project, target, user, { role: 'viewer' })).status).toBe(200);
    expect((await put(other, target, user, { role: 'viewer' })).status).toBe(403);
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: user, method: 'DELETE' })).status).toBe(204);
  });

  it.each(['owner', 'admin'] as const)('an org %s keeps their rights despite a project viewer role', async (orgRole) => {
    const { project, user } = await withRoles(orgRole, 'viewer');
    expect(await patchProject(project, user)).toBe(200);
  });
});
