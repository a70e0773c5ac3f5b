import { asc, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { apiKeys, auditLogs, projects } from '../../src/db/schema/index.ts';
import { sha256Hex } from '../../src/lib/crypto.ts';
import type { Permission } from '../../src/lib/permissions.ts';
import { API_KEY_PATTERN } from '../../src/middleware/auth.ts';
import { api, createApiKey, createMember, createOrg, createProject, createUser, json, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { env, request } from '../helpers/worker.ts';
import { roundTrips } from '../helpers/round-trips.ts';

type ApiKey = {
  id: string;
  name: string;
  prefix: string;
  scopes: Permission[];
  projectId: string | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  createdBy: string | null;
};
type Created = { data: ApiKey & { key: string } };
type Auth = TestUser | { apiKey: string };
type ErrorBody = { error: { code: string; details?: { issues: Array<{ path: string }> } } };

const keysUrl = (org: TestOrg) => `/api/v1/orgs/${org.id}/api-keys`;
const auditOf = (org: TestOrg) => ownerDb.http.select().from(auditLogs).where(eq(auditLogs.orgId, org.id)).orderBy(asc(auditLogs.seq));
const storedKey = async (id: string) => (await ownerDb.http.select().from(apiKeys).where(eq(apiKeys.id, id)))[0];
const issuePaths = async (response: Response) => ((await json<ErrorBody>(response)).error.details?.issues ?? []).map((issue) => issue.path);

async function setup() {
  const owner = await createUser();
  const org = await createOrg(owner);
  const project = await createProject(org);
  return { owner, org, project };
}

async function createKey(org: TestOrg, auth: Auth, body: Record<string, unknown>): Promise<Created['data']> {
  const response = await api(keysUrl(org), { auth, body: { name: 'key', ...body } });
  expect(response.status).toBe(201);
  return (await json<Created>(response)).data;
}

/** Status of reading a project with `key` (scope projects:read). */
const readProject = (project: { id: string; orgId: string }, key: string) =>
  api(`/api/v1/orgs/${project.orgId}/projects/${project.id}`, { auth: { apiKey: key } }).then((response) => response.status);

const rotate = (org: TestOrg, keyId: string, auth: Auth, body?: unknown) => api(`${keysUrl(org)}/${keyId}/rotate`, { auth, method: 'POST', body });
const revoke = (org: TestOrg, keyId: string, auth?: Auth) => api(`${keysUrl(org)}/${keyId}`, { auth, method: 'DELETE' });

describe('POST /orgs/{orgId}/api-keys', () => {
  it('creates a key shown once (sk_test_ outside production), stores only its hash, and it works at once', async () => {
    const { owner, org, project } = await setup();
    const before = (await auditOf(org)).length;
    const response = await api(keysUrl(org), { auth: owner, body: { name: ' CI ', scopes: ['projects:read', 'projects:read'] } });
    expect(response.status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const { data } = await json<Created>(response);
    expect(data).toEqual({
      id: expect.any(String),
      name: 'CI',
      prefix: data.key.slice(0, 12),
      scopes: ['projects:read'],
      projectId: null,
      expiresAt: null,
      lastUsedAt: null,
      revokedAt: null,
      previousSecretExpiresAt: null,
      createdAt: expect.any(String),
      createdBy: owner.id,
      key: expect.stringMatching(/^sk_test_/),
    });
    expect(data.key).toMatch(API_KEY_PATTERN);

    const row = await storedKey(data.id);
    expect(row?.keyHash).toBe(await sha256Hex(data.key));
    expect(JSON.stringify(row)).not.toContain(data.key);
    expect(await readProject(project, data.key)).toBe(200);

    const entries = (await auditOf(org)).slice(before);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ action: 'api_key.created', actorId: owner.id, targetId: data.id, changes: expect.objectContaining({ name: 'CI', scopes: ['projects:read'] }) });
    expect(entries[0]?.changes).not.toHaveProperty('key_hash');
    expect(JSON.stringify(entries[0])).not.toContain(row?.keyHash);
  });

  it('issues sk_live_ keys in production', async () => {
    const { owner, org } = await setup();
    const response = await request(
      keysUrl(org),
      { method: 'POST', headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'live', scopes: ['org:read'] }) },
      { bindings: { ...env, APP_ENV: 'production', DEV_OUTBOX: 'off' } },
    );
    expect(response.status).toBe(201);
    const { data } = await json<Created>(response);
    expect(data.key).toMatch(/^sk_live_/);
    expect(data.key).toMatch(API_KEY_PATTERN);
    expect(data.prefix).toBe(data.key.slice(0, 12));
  });

  it('400s invalid bodies, naming each field, and creates nothing', async () => {
    const { owner, org, project } = await setup();
    const future = new Date(Date.now() + 86_400_000).toISOString();
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ name: 'k', scopes: [] }, ['scopes']],
      [{ name: 'k', scopes: ['projects:read', 'root'] }, ['scopes.1']],
      [{ name: 'k' }, ['scopes']],
      [{ scopes: ['org:read'] }, ['name']],
      [{ name: '', scopes: ['org:read'] }, ['name']],
      [{ name: 'k', scopes: ['org:read'], expiresAt: new Date(Date.now() - 1000).toISOString() }, ['expiresAt']],
      [{ name: 'k', scopes: ['org:read'], expiresAt: 'tomorrow' }, ['expiresAt']],
      [{ name: 'k', scopes: ['org:read'], projectId: 'nope' }, ['projectId']],
      [{ name: 'k', scopes: ['projects:read', 'members:write'], projectId: project.id, expiresAt: future }, ['scopes.1']],
    ];
    for (const [body, paths] of cases) {
      const response = await api(keysUrl(org), { auth: owner, body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(await issuePaths(response), JSON.stringify(body)).toEqual(paths);
    }
    expect(await ownerDb.http.select().from(apiKeys).where(eq(apiKeys.orgId, org.id))).toEqual([]);
  });

  it("403s scopes beyond the creator's own role and writes neither key nor audit entry", async () => {
    const { org } = await setup();
    const admin = await createMember(org, 'admin');
    const before = (await auditOf(org)).length;
    const response = await api(keysUrl(org), { auth: admin, body: { name: 'k', scopes: ['projects:read', 'org:delete'] } });
    expect(response.status).toBe(403);
    expect((await json<ErrorBody>(response)).error).toMatchObject({ code: 'FORBIDDEN', details: { scopes: ['org:delete'] } });
    expect(await ownerDb.http.select().from(apiKeys).where(eq(apiKeys.orgId, org.id))).toEqual([]);
    expect((await auditOf(org)).length).toBe(before);
    // Within the role it works; the owner holds everything.
    expect((await createKey(org, admin, { scopes: ['members:write', 'audit_logs:read'] })).scopes).toEqual(['members:write', 'audit_logs:read']);
  });

  it('lets the owner grant org:delete', async () => {
    const { owner, org } = await setup();
    expect((await createKey(org, owner, { scopes: ['org:delete'] })).scopes).toEqual(['org:delete']);
  });

  it('limits a key to a project of the org (404 for unknown, deleted or foreign projects)', async () => {
    const { owner, org, project } = await setup();
    const other = await createProject(org);
    const { project: foreign } = await setup();
    const [deleted] = await ownerDb.http.insert(projects).values({ orgId: org.id, name: 'gone', deletedAt: new Date() }).returning();
    for (const projectId of [crypto.randomUUID(), foreign.id, deleted?.id]) {
      const response = await api(keysUrl(org), { auth: owner, body: { name: 'k', scopes: ['projects:read'], projectId } });
      expect(response.status, projectId).toBe(404);
    }
    expect(await ownerDb.http.select().from(apiKeys).where(eq(apiKeys.orgId, org.id))).toEqual([]);

    const limited = await createKey(org, owner, { scopes: ['projects:read'], projectId: project.id });
    expect(limited.projectId).toBe(project.id);
    expect(await readProject(project, limited.key)).toBe(200);
    expect(await readProject(other, limited.key)).toBe(404);
  });

  it('honours expiresAt: the key works until then, and an expired key is refused', async () => {
    const { owner, org, project } = await setup();
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const key = await createKey(org, owner, { scopes: ['projects:read'], expiresAt });
    expect(key.expiresAt).toBe(expiresAt);
    expect(await readProject(project, key.key)).toBe(200);
    const expired = await createApiKey(org, { scopes: ['projects:read'], expiresAt: new Date(Date.now() - 1000) });
    expect(await readProject(project, expired.key)).toBe(401);
  });

  it('lets a key with api_keys:write create keys within its own scopes only (actor: the key)', async () => {
    const { org, project } = await setup();
    const manager = await createApiKey(org, { scopes: ['api_keys:write', 'projects:read'] });
    const child = await createKey(org, { apiKey: manager.key }, { scopes: ['projects:read'] });
    expect(child.createdBy).toBeNull();
    expect(await readProject(project, child.key)).toBe(200);
    expect((await auditOf(org)).at(-1)).toMatchObject({ action: 'api_key.created', actorType: 'api_key', actorId: manager.id, targetId: child.id });
    const wider = await api(keysUrl(org), { auth: { apiKey: manager.key }, body: { name: 'k', scopes: ['projects:write'] } });
    expect(wider.status).toBe(403);
  });

  it('401s anonymous, 403s members and keys without the scope or limited to a project, 404s strangers', async () => {
    const { org, project } = await setup();
    const member = await createMember(org, 'member');
    const stranger = await createUser();
    await createOrg(stranger);
    const reader = await createApiKey(org, { scopes: ['api_keys:read'] });
    const limited = await createApiKey(org, { scopes: ['api_keys:write'], projectId: project.id });
    const body = { name: 'k', scopes: ['projects:read'] };
    expect((await api(keysUrl(org), { body })).status).toBe(401);
    const refused = await api(keysUrl(org), { auth: member, body });
    expect(refused.status).toBe(403);
    expect((await json<ErrorBody>(refused)).error.details).toBeUndefined();
    expect((await api(keysUrl(org), { auth: stranger, body })).status).toBe(404);
    expect((await api(keysUrl(org), { auth: { apiKey: reader.key }, body })).status).toBe(403);
    expect((await api(keysUrl(org), { auth: { apiKey: limited.key }, body })).status).toBe(403);
    expect((await ownerDb.http.select().from(apiKeys).where(eq(apiKeys.orgId, org.id))).length).toBe(2);
  });
});

describe('GET /orgs/{orgId}/api-keys', () => {
  it('lists keys newest first, revoked ones included, paginated, never with a secret or hash', async () => {
    const { owner, org } = await setup();
    const first = await createKey(org, owner, { name: 'first', scopes: ['org:read'] });
    const second = await createKey(org, owner, { name: 'second', scopes: ['org:read'] });
    const third = await createKey(org, owner, { name: 'third', scopes: ['org:read'] });
    expect((await revoke(org, second.id, owner)).status).toBe(204);
    const admin = await createMember(org, 'admin');

    const response = await api(keysUrl(org), { auth: admin });
    expect(response.status).toBe(200);
    const page = await json<{ data: ApiKey[]; meta: { nextCursor: string | null; limit: number } }>(response);
    expect(page.data.map((key) => key.name)).toEqual(['third', 'second', 'first']);
    expect(page.meta).toEqual({ nextCursor: null, limit: 20 });
    expect(Object.keys(page.data[0] ?? {}).sort()).toEqual(['createdAt', 'createdBy', 'expiresAt', 'id', 'lastUsedAt', 'name', 'prefix', 'previousSecretExpiresAt', 'projectId', 'revokedAt', 'scopes']);
    expect(page.data[1]?.revokedAt).toEqual(expect.any(String));
    const text = JSON.stringify(page);
    for (const key of [first, second, third]) expect(text).not.toContain(key.key);
    for (const row of await ownerDb.http.select().from(apiKeys).where(eq(apiKeys.orgId, org.id))) expect(text).not.toContain(row.keyHash);

    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const next: { data: ApiKey[]; meta: { nextCursor: string | null } } = await json(await api(`${keysUrl(org)}?limit=1${cursor ? `&cursor=${cursor}` : ''}`, { auth: admin }));
      ids.push(...next.data.map((key) => key.id));
      cursor = next.meta.nextCursor;
    } while (cursor);
    expect(ids).toEqual([third.id, second.id, first.id]);
  });

  it('401s anonymous, 403s members and keys without the scope, 404s strangers; a key with the scope may list', async () => {
    const { org } = await setup();
    const member = await createMember(org, 'member');
    const stranger = await createUser();
    await createOrg(stranger);
    const writer = await createApiKey(org, { scopes: ['api_keys:write'] });
    const reader = await createApiKey(org, { scopes: ['api_keys:read'] });
    expect((await api(keysUrl(org))).status).toBe(401);
    expect((await api(keysUrl(org), { auth: member })).status).toBe(403);
    expect((await api(keysUrl(org), { auth: stranger })).status).toBe(404);
    expect((await api(keysUrl(org), { auth: { apiKey: writer.key } })).status).toBe(403);
    expect((await api(keysUrl(org), { auth: { apiKey: reader.key } })).status).toBe(200);
    expect((await api(`${keysUrl(org)}?limit=500`, { auth: { apiKey: reader.key } })).status).toBe(400);
  });

  it('records last use off the hot path, without an audit entry', async () => {
    const { org, project } = await setup();
    const key = await createApiKey(org, { scopes: ['projects:read'] });
    const before = (await auditOf(org)).length;
    expect(await readProject(project, key.key)).toBe(200);
    await expect.poll(async () => (await storedKey(key.id))?.lastUsedAt, { timeout: 5000 }).toBeInstanceOf(Date);
    expect((await auditOf(org)).length).toBe(before);
  });
});

describe('POST /orgs/{orgId}/api-keys/{keyId}/rotate', () => {
  it('issues a new secret; the old one keeps working through the grace period (default a day); audited once without hashes', async () => {
    const { owner, org, project } = await setup();
    const original = await createKey(org, owner, { scopes: ['projects:read'] });
    expect(await readProject(project, original.key)).toBe(200);
    const before = (await auditOf(org)).length;

    const response = await rotate(org, original.id, owner);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const { data } = await json<Created>(response);
    expect(data.id).toBe(original.id);
    expect(data.key).toMatch(API_KEY_PATTERN);
    expect(data.key).not.toBe(original.key);
    expect(data.prefix).toBe(data.key.slice(0, 12));
    expect(await readProject(project, data.key)).toBe(200);
    expect(await readProject(project, original.key)).toBe(200);

    const row = await storedKey(original.id);
    expect(row?.keyHash).toBe(await sha256Hex(data.key));
    expect(row?.previousKeyHash).toBe(await sha256Hex(original.key));
    const grace = (row?.previousExpiresAt?.getTime() ?? 0) - Date.now();
    expect(grace).toBeGreaterThan(86_400_000 - 60_000);
    expect(grace).toBeLessThanOrEqual(86_400_000);

    const entries = (await auditOf(org)).slice(before);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ action: 'api_key.rotated', targetId: original.id, actorId: owner.id });
    expect(Object.keys(entries[0]?.changes ?? {}).sort()).toEqual(['prefix', 'previous_expires_at']);
    expect(data.previousSecretExpiresAt).toBe(row?.previousExpiresAt?.toISOString());
    // The API names the changed fields as it names them everywhere (camelCase); storage keeps column names.
    const audit = await json<{ data: Array<{ changes: Record<string, unknown> }> }>(await api(`/api/v1/orgs/${org.id}/audit-logs?action=api_key.rotated`, { auth: owner }));
    expect(Object.keys(audit.data[0]?.changes ?? {}).sort()).toEqual(['prefix', 'previousExpiresAt']);
  });

  it('ends the old secret when the grace period ends: gracePeriodSeconds 0 stops it at once (401)', async () => {
    const { owner, org, project } = await setup();
    const original = await createKey(org, owner, { scopes: ['projects:read'] });
    const response = await rotate(org, original.id, owner, { gracePeriodSeconds: 0 });
    expect(response.status).toBe(200);
    const { data } = await json<Created>(response);
    expect(await readProject(project, original.key)).toBe(401);
    expect(await readProject(project, data.key)).toBe(200);
  });

  it('409s a second rotation while the first secret is in its grace: that secret keeps working until the time every answer shows', async () => {
    const { owner, org, project } = await setup();
    const original = await createKey(org, owner, { scopes: ['projects:read'] });
    expect(original.previousSecretExpiresAt).toBeNull();
    const second = (await json<Created>(await rotate(org, original.id, owner, { gracePeriodSeconds: 3_600 }))).data;
    const until = second.previousSecretExpiresAt;
    expect(Date.parse(until ?? '') - Date.now()).toBeGreaterThan(3_600_000 - 60_000);
    const before = (await auditOf(org)).length;

    const refused = await rotate(org, original.id, owner, { gracePeriodSeconds: 0 });
    expect(refused.status).toBe(409);
    const body = await json<{ error: { code: string; message: string; details: { previousSecretExpiresAt: string } } }>(refused);
    expect(body.error).toMatchObject({ code: 'CONFLICT', details: { previousSecretExpiresAt: until } });
    expect(body.error.message).toContain(until);
    // Nothing changed: both secrets work, no audit entry, the stored secret is still the second.
    expect(await readProject(project, original.key)).toBe(200);
    expect(await readProject(project, second.key)).toBe(200);
    expect((await auditOf(org)).length).toBe(before);
    expect((await storedKey(original.id))?.keyHash).toBe(await sha256Hex(second.key));

    // The list shows when the previous secret stops working.
    const listed = await json<{ data: ApiKey[] }>(await api(keysUrl(org), { auth: owner }));
    expect(listed.data.find((key) => key.id === original.id)?.previousSecretExpiresAt).toBe(until);
  });

  it('rotates again once the grace is over: the first secret is gone, the second now in its grace', async () => {
    const { owner, org, project } = await setup();
    const original = await createKey(org, owner, { scopes: ['projects:read'] });
    const second = (await json<Created>(await rotate(org, original.id, owner, { gracePeriodSeconds: 3_600 }))).data;
    // The grace ends (as time would end it).
    await ownerDb.http.update(apiKeys).set({ previousExpiresAt: sql`now() - interval '1 second'` }).where(eq(apiKeys.id, original.id));
    const listed = await json<{ data: ApiKey[] }>(await api(keysUrl(org), { auth: owner }));
    expect(listed.data.find((key) => key.id === original.id)?.previousSecretExpiresAt).toBeNull();
    const response = await rotate(org, original.id, owner);
    expect(response.status).toBe(200);
    const third = (await json<Created>(response)).data;
    expect(third.previousSecretExpiresAt).not.toBeNull();
    expect(await readProject(project, original.key)).toBe(401);
    expect(await readProject(project, second.key)).toBe(200);
    expect(await readProject(project, third.key)).toBe(200);
  });

  it('rotates again at once after a rotation with gracePeriodSeconds 0 (no previous secret works)', async () => {
    const { owner, org } = await setup();
    const original = await createKey(org, owner, { scopes: ['projects:read'] });
    const second = (await json<Created>(await rotate(org, original.id, owner, { gracePeriodSeconds: 0 }))).data;
    expect(second.previousSecretExpiresAt).toBeNull();
    expect((await rotate(org, original.id, owner)).status).toBe(200);
  });

  it("403s rotating a key with scopes beyond the caller's role (no new secret for an owner's org:delete key)", async () => {
    const { owner, org } = await setup();
    const ownersKey = await createKey(org, owner, { scopes: ['org:delete'] });
    const admin = await createMember(org, 'admin');
    const before = (await auditOf(org)).length;
    const hash = (await storedKey(ownersKey.id))?.keyHash;
    expect((await rotate(org, ownersKey.id, admin)).status).toBe(403);
    expect((await storedKey(ownersKey.id))?.keyHash).toBe(hash);
    expect((await auditOf(org)).length).toBe(before);
    const keyManager = await createApiKey(org, { scopes: ['api_keys:write'] });
    expect((await rotate(org, ownersKey.id, { apiKey: keyManager.key })).status).toBe(403);
    expect((await rotate(org, keyManager.id, { apiKey: keyManager.key })).status).toBe(200);
  });

  it('409s revoked and expired keys; 404s unknown and foreign keys; 400s a bad grace period', async () => {
    const { owner, org } = await setup();
    const revoked = await createApiKey(org, { scopes: ['org:read'], revoked: true });
    const expired = await createApiKey(org, { scopes: ['org:read'], expiresAt: new Date(Date.now() - 1000) });
    const live = await createApiKey(org, { scopes: ['org:read'] });
    const { org: otherOrg } = await setup();
    const foreign = await createApiKey(otherOrg, { scopes: ['org:read'] });
    expect((await rotate(org, revoked.id, owner)).status).toBe(409);
    expect((await rotate(org, expired.id, owner)).status).toBe(409);
    expect((await rotate(org, crypto.randomUUID(), owner)).status).toBe(404);
    expect((await rotate(org, foreign.id, owner)).status).toBe(404);
    for (const gracePeriodSeconds of [-1, 604_801, 1.5, '60']) {
      const response = await rotate(org, live.id, owner, { gracePeriodSeconds });
      expect(response.status).toBe(400);
      expect(await issuePaths(response)).toEqual(['gracePeriodSeconds']);
    }
    expect((await rotate(org, live.id, owner, { gracePeriodSeconds: 604_800 })).status).toBe(200);
  });

  it('401s anonymous, 403s members and keys without the scope, 404s strangers', async () => {
    const { org } = await setup();
    const key = await createApiKey(org, { scopes: ['org:read'] });
    const member = await createMember(org, 'member');
    const stranger = await createUser();
    await createOrg(stranger);
    const reader = await createApiKey(org, { scopes: ['api_keys:read'] });
    expect((await api(`${keysUrl(org)}/${key.id}/rotate`, { method: 'POST' })).status).toBe(401);
    expect((await rotate(org, key.id, member)).status).toBe(403);
    expect((await rotate(org, key.id, stranger)).status).toBe(404);
    expect((await rotate(org, key.id, { apiKey: reader.key })).status).toBe(403);
    expect((await storedKey(key.id))?.previousKeyHash).toBeNull();
  });
});

describe('DELETE /orgs/{orgId}/api-keys/{keyId}', () => {
  it('revokes: a key in use (its lookup cached by the auth middleware) fails on the very next request with 401', async () => {
    const { owner, org, project } = await setup();
    const key = await createKey(org, owner, { scopes: ['projects:read', 'projects:write'] });
    expect(await readProject(project, key.key)).toBe(200);
    const before = (await auditOf(org)).length;
    expect((await revoke(org, key.id, owner)).status).toBe(204);

    const read = await readProject(project, key.key);
    const write = await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: { apiKey: key.key }, method: 'PATCH', body: { name: 'after revoke' } });
    expect((await ownerDb.http.select().from(projects).where(eq(projects.id, project.id)))[0]?.name).toBe(project.name);
    expect((await auditOf(org)).slice(before)).toEqual([expect.objectContaining({ action: 'api_key.revoked', targetId: key.id, actorId: owner.id })]);
    expect({ read, write: write.status }).toEqual({ read: 401, write: 401 });
  });

  it('is idempotent: revoking again answers 204, keeps the first revokedAt and writes no second entry', async () => {
    const { owner, org } = await setup();
    const key = await createApiKey(org, { scopes: ['org:read'] });
    expect((await revoke(org, key.id, owner)).status).toBe(204);
    const first = (await storedKey(key.id))?.revokedAt;
    const before = (await auditOf(org)).length;
    expect((await revoke(org, key.id, owner)).status).toBe(204);
    expect((await storedKey(key.id))?.revokedAt).toEqual(first);
    expect((await auditOf(org)).length).toBe(before);
  });

  it('lets a key revoke itself; afterwards it is refused', async () => {
    const { org } = await setup();
    const key = await createApiKey(org, { scopes: ['api_keys:write'] });
    expect((await revoke(org, key.id, { apiKey: key.key })).status).toBe(204);
    expect((await revoke(org, key.id, { apiKey: key.key })).status).toBe(401);
  });

  it('404s unknown and foreign keys; 401s anonymous; 403s members and keys without the scope; 404s strangers', async () => {
    const { owner, org } = await setup();
    const key = await createApiKey(org, { scopes: ['org:read'] });
    const { org: otherOrg } = await setup();
    const foreign = await createApiKey(otherOrg, { scopes: ['org:read'] });
    const member = await createMember(org, 'member');
    const stranger = await createUser();
    await createOrg(stranger);
    const reader = await createApiKey(org, { scopes: ['api_keys:read'] });
    expect((await revoke(org, crypto.randomUUID(), owner)).status).toBe(404);
    expect((await revoke(org, foreign.id, owner)).status).toBe(404);
    expect((await storedKey(foreign.id))?.revokedAt).toBeNull();
    expect((await revoke(org, key.id)).status).toBe(401);
    expect((await revoke(org, key.id, member)).status).toBe(403);
    expect((await revoke(org, key.id, stranger)).status).toBe(404);
    expect((await revoke(org, key.id, { apiKey: reader.key })).status).toBe(403);
    expect((await storedKey(key.id))?.revokedAt).toBeNull();
  });
});

describe('round trips', () => {
  it('create, list, rotate and revoke are one round trip each once the caller is admitted at the edge (the checks ride in the same batch)', async () => {
    const { owner, org, project } = await setup();
    // Key writes change grants, which drops the org's grants at the edge: each measured call is warmed first.
    const warm = async () => expect((await api(keysUrl(org), { auth: owner })).status).toBe(200);
    const trips = async (url: string, method: string, status: number, body?: unknown) => {
      await warm();
      return roundTrips(async () => expect((await api(url, { auth: owner, method, body })).status).toBe(status));
    };
    let created: Created['data'] | undefined;
    const create = async () => {
      const response = await api(keysUrl(org), { auth: owner, body: { name: 'k', scopes: ['projects:read', 'org:delete', 'members:write'] } });
      expect(response.status).toBe(201);
      created = (await json<Created>(response)).data;
    };
    await warm();
    expect(await roundTrips(create)).toBe(1);
    expect(await trips(keysUrl(org), 'POST', 201, { name: 'p', scopes: ['projects:read'], projectId: project.id })).toBe(1);
    expect(await trips(keysUrl(org), 'GET', 200)).toBe(1);
    expect(await trips(`${keysUrl(org)}/${created?.id}/rotate`, 'POST', 200, { gracePeriodSeconds: 60 })).toBe(1);
    expect(await trips(`${keysUrl(org)}/${created?.id}`, 'DELETE', 204)).toBe(1);
  });
});
