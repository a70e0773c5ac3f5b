import { describe, expect, it } from 'vitest';
import { api, createApiKey, createMember, createOrg, createProject, createUser, json, setProjectRole } from '../helpers/factories.ts';

describe('GET /api/v1/orgs/{orgId}/projects/{projectId}', () => {
  it('returns the project to any member, in the envelope, without internal columns', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org, { name: 'Website' });
    const viewer = await createMember(org, 'viewer');
    const response = await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: viewer });
    expect(response.status).toBe(200);
    const body = await json<{ data: Record<string, unknown> }>(response);
    expect(body.data).toEqual({ id: project.id, orgId: org.id, name: 'Website', description: null, createdAt: expect.any(String), updatedAt: expect.any(String) });
  });

  it('answers 404, not 403, to a member of another org — and for a project of another org under your own org id', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const stranger = await createUser();
    const strangerOrg = await createOrg(stranger);
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: stranger })).status).toBe(404);
    expect((await api(`/api/v1/orgs/${strangerOrg.id}/projects/${project.id}`, { auth: stranger })).status).toBe(404);
  });

  it('401s without credentials or with a forged token', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`)).status).toBe(401);
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: { token: `${owner.accessToken}x` } })).status).toBe(401);
  });

  it('honours API key scopes and project limits', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const other = await createProject(org);
    const reader = await createApiKey(org, { scopes: ['projects:read'] });
    const writer = await createApiKey(org, { scopes: ['projects:write'] });
    const limited = await createApiKey(org, { scopes: ['projects:read'], projectId: other.id });
    const revoked = await createApiKey(org, { scopes: ['projects:read'], revoked: true });
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: { apiKey: reader.key } })).status).toBe(200);
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { headers: { 'x-api-key': reader.key } })).status).toBe(200);
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: { apiKey: writer.key } })).status).toBe(403);
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: { apiKey: limited.key } })).status).toBe(404);
    expect((await api(`/api/v1/orgs/${org.id}/projects/${other.id}`, { auth: { apiKey: limited.key } })).status).toBe(200);
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: { apiKey: revoked.key } })).status).toBe(401);
  });

  it('a project viewer role still reads; the gate raises 403 only for permissions the role lacks', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const member = await createMember(org, 'member');
    await setProjectRole(project, member, 'viewer');
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: member })).status).toBe(200);
  });
});
