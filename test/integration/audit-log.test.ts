import { asc, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, projects } from '../../src/db/schema/index.ts';
import { sqlState } from '../../src/db/errors.ts';
import { createScopedDatabase } from '../../src/db/tenant.ts';
import { GENESIS_HASH, verifyAuditChain } from '../../src/services/audit.ts';
import { api, createApiKey, createMember, createOrg, createProject, createUser, json, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { testDb } from '../helpers/worker.ts';
import { roundTrips } from '../helpers/round-trips.ts';

type Entry = {
  id: number;
  seq: number;
  actorType: string;
  actorId: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  changes: Record<string, unknown>;
  createdAt: string;
  hash: string;
  prevHash: string;
};
type Page = { data: Entry[]; meta: { nextCursor: string | null; limit: number } };
type Verdict = { data: { valid: boolean; entries: number; firstBrokenId?: number } };
type Auth = TestUser | { apiKey: string };

const logUrl = (org: TestOrg) => `/api/v1/orgs/${org.id}/audit-logs`;
const verifyUrl = (org: TestOrg) => `${logUrl(org)}/verify`;
const stored = (org: TestOrg) => ownerDb.http.select().from(auditLogs).where(eq(auditLogs.orgId, org.id)).orderBy(asc(auditLogs.seq));
const verify = async (org: TestOrg, auth: Auth) => {
  const response = await api(verifyUrl(org), { auth });
  expect(response.status).toBe(200);
  return (await json<Verdict>(response)).data;
};

async function setup() {
  const owner = await createUser();
  const org = await createOrg(owner);
  return { owner, org };
}

/** Every entry, following cursors. */
async function readAll(org: TestOrg, auth: Auth, query = '', from: string | null = null): Promise<Entry[]> {
  const entries: Entry[] = [];
  let cursor = from;
  for (let pages = 0; pages < 100; pages++) {
    const response = await api(`${logUrl(org)}?limit=3${query}${cursor ? `&cursor=${cursor}` : ''}`, { auth });
    expect(response.status).toBe(200);
    const page = await json<Page>(response);
    entries.push(...page.data);
    cursor = page.meta.nextCursor;
    if (!cursor) return entries;
  }
  throw new Error('pagination did not end');
}

/**
 * A handful of mutations through the API. Each request also sends a client-chosen `X-Request-Id`, which
 * the server must ignore: `ids` maps each label to the id the server generated (its response header).
 */
async function mutate(org: TestOrg, owner: TestUser) {
  const ids: Record<string, string> = {};
  const call = async (label: string, path: string, options: Parameters<typeof api>[1]) => {
    const headers = { 'x-request-id': `client-${label}`, 'cf-connecting-ip': '198.51.100.4', 'user-agent': 'audit-test/2.0' };
    const response = await api(path, { ...options, headers });
    ids[label] = response.headers.get('x-request-id') ?? '';
    return response;
  };
  const created = await call('m-create', `/api/v1/orgs/${org.id}/projects`, { auth: owner, body: { name: 'Audited' } });
  const project = (await json<{ data: { id: string } }>(created)).data;
  const member = await createMember(org, 'member');
  const base = `/api/v1/orgs/${org.id}/projects/${project.id}`;
  await call('m-patch', base, { auth: owner, method: 'PATCH', body: { description: 'described' } });
  await call('m-put', base, { auth: owner, method: 'PUT', body: { name: 'Audited 2', description: null } });
  await call('m-role', `${base}/members/${member.id}`, { auth: owner, method: 'PUT', body: { role: 'editor' } });
  await call('m-unrole', `${base}/members/${member.id}`, { auth: owner, method: 'DELETE' });
  const keyResponse = await call('m-key', `/api/v1/orgs/${org.id}/api-keys`, { auth: owner, body: { name: 'k', scopes: ['projects:write'] } });
  const key = (await json<{ data: { id: string; key: string } }>(keyResponse)).data;
  await call('m-keypatch', base, { auth: { apiKey: key.key }, method: 'PATCH', body: { name: 'By key' } });
  await call('m-rotate', `/api/v1/orgs/${org.id}/api-keys/${key.id}/rotate`, { auth: owner, method: 'POST' });
  await call('m-revoke', `/api/v1/orgs/${org.id}/api-keys/${key.id}`, { auth: owner, method: 'DELETE' });
  await call('m-delete', base, { auth: owner, method: 'DELETE' });
  return { project, member, key, ids };
}

describe('GET /orgs/{orgId}/audit-logs', () => {
  it('records every API mutation exactly once, with actor, ip, user agent, request id and changed fields', async () => {
    const { owner, org } = await setup();
    const { project, member, key, ids } = await mutate(org, owner);
    const entries = await readAll(org, owner);
    const byRequest = (label: string) => entries.filter((entry) => entry.requestId === ids[label]);
    // The server's ids, never the client's.
    expect(Object.values(ids).every((id) => /^[0-9a-f-]{36}$/.test(id))).toBe(true);
    expect(entries.filter((entry) => entry.requestId?.startsWith('client-'))).toEqual([]);
    const common = { ip: '198.51.100.4', userAgent: 'audit-test/2.0' };
    const user = { actorType: 'user', actorId: owner.id };

    expect(byRequest('m-create')).toEqual([expect.objectContaining({ ...common, ...user, action: 'project.created', targetType: 'project', targetId: project.id, changes: expect.objectContaining({ name: 'Audited', description: null }) })]);
    expect(byRequest('m-patch')).toEqual([expect.objectContaining({ ...common, ...user, action: 'project.updated', changes: { description: { from: null, to: 'described' } } })]);
    expect(byRequest('m-put')).toEqual([expect.objectContaining({ action: 'project.updated', changes: { name: { from: 'Audited', to: 'Audited 2' }, description: { from: 'described', to: null } } })]);
    expect(byRequest('m-role')).toEqual([expect.objectContaining({ ...user, action: 'project_member.created', targetId: member.id, changes: expect.objectContaining({ role: 'editor' }) })]);
    expect(byRequest('m-unrole')).toEqual([expect.objectContaining({ action: 'project_member.deleted', targetId: member.id })]);
    expect(byRequest('m-key')).toEqual([expect.objectContaining({ action: 'api_key.created', targetId: key.id })]);
    expect(byRequest('m-keypatch')).toEqual([expect.objectContaining({ ...common, actorType: 'api_key', actorId: key.id, action: 'project.updated', changes: { name: { from: 'Audited 2', to: 'By key' } } })]);
    expect(byRequest('m-rotate')).toEqual([expect.objectContaining({ action: 'api_key.rotated', targetId: key.id })]);
    expect(byRequest('m-revoke')).toEqual([expect.objectContaining({ action: 'api_key.revoked', targetId: key.id })]);
    expect(byRequest('m-delete')).toEqual([expect.objectContaining({ action: 'project.deleted', targetId: project.id, changes: { deletedAt: { from: null, to: expect.any(String) } } })]);
    // No secret or hash ever reaches the log.
    const text = JSON.stringify(entries);
    expect(text).not.toContain(key.key);
    expect(text).not.toContain('key_hash');
    expect(Object.keys(entries[0] ?? {}).sort()).toEqual(
      ['action', 'actorId', 'actorType', 'changes', 'createdAt', 'hash', 'id', 'ip', 'prevHash', 'requestId', 'seq', 'targetId', 'targetType', 'userAgent'].sort(),
    );
  });

  it('serves entries newest first by seq; pages have no duplicates or gaps, even with entries added between pages', async () => {
    const { owner, org } = await setup();
    for (let i = 0; i < 5; i++) await createProject(org);
    const first = await json<Page>(await api(`${logUrl(org)}?limit=3`, { auth: owner }));
    await createProject(org); // newer than the cursor: not on later pages
    const rest = await readAll(org, owner, '', first.meta.nextCursor);
    const seqs = [...first.data, ...rest].map((entry) => entry.seq);
    expect(seqs).toEqual([7, 6, 5, 4, 3, 2, 1]);
  });

  it('filters by action, actor and time (from inclusive, to exclusive)', async () => {
    const { owner, org } = await setup();
    const key = await createApiKey(org, { scopes: ['projects:write'] });
    const project = await createProject(org);
    for (const name of ['a', 'b', 'c']) await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: owner, method: 'PATCH', body: { name } });
    await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: { apiKey: key.key }, method: 'PATCH', body: { name: 'k' } });
    const all = await readAll(org, owner);

    const updated = await readAll(org, owner, '&action=project.updated');
    expect(updated.map((entry) => entry.seq)).toEqual(all.filter((entry) => entry.action === 'project.updated').map((entry) => entry.seq));
    expect(updated).toHaveLength(4);
    expect((await readAll(org, owner, `&actorId=${key.id}`)).map((entry) => entry.actorId)).toEqual([key.id]);
    expect((await readAll(org, owner, `&actorId=${owner.id}&action=project.updated`)).map((entry) => entry.changes)).toEqual([
      { name: { from: 'b', to: 'c' } },
      { name: { from: 'a', to: 'b' } },
      { name: { from: project.name, to: 'a' } },
    ]);

    const pivot = all[2];
    if (!pivot) throw new Error('expected entries');
    const at = encodeURIComponent(pivot.createdAt);
    expect((await readAll(org, owner, `&from=${at}`)).map((entry) => entry.seq)).toEqual(all.filter((entry) => entry.createdAt >= pivot.createdAt).map((entry) => entry.seq));
    expect((await readAll(org, owner, `&to=${at}`)).map((entry) => entry.seq)).toEqual(all.filter((entry) => entry.createdAt < pivot.createdAt).map((entry) => entry.seq));
    expect(await readAll(org, owner, '&from=2999-01-01')).toEqual([]);
  });

  it('400s bad filters and cursors, naming the field', async () => {
    const { owner, org } = await setup();
    for (const [query, path] of [
      ['limit=0', 'limit'],
      ['from=last-week', 'from'],
      ['to=2025-02-30T00:00:00Z', 'to'],
      ['cursor=WyJ4Il0', 'cursor'],
      [`action=${'a'.repeat(101)}`, 'action'],
    ] as const) {
      const response = await api(`${logUrl(org)}?${query}`, { auth: owner });
      expect(response.status, query).toBe(400);
      expect((await json<{ error: { details: { issues: Array<{ path: string }> } } }>(response)).error.details.issues.map((i) => i.path)).toEqual([path]);
    }
  });

  it('is for managers: 401 anonymous, 403 members and keys without the scope or limited to a project, 404 strangers', async () => {
    const { org } = await setup();
    const project = await createProject(org);
    const admin = await createMember(org, 'admin');
    const member = await createMember(org, 'member');
    const { owner: stranger } = await setup();
    const reader = await createApiKey(org, { scopes: ['audit_logs:read'] });
    const wrongScope = await createApiKey(org, { scopes: ['projects:read'] });
    const limited = await createApiKey(org, { scopes: ['audit_logs:read'], projectId: project.id });
    for (const url of [logUrl(org), verifyUrl(org)]) {
      expect((await api(url)).status, url).toBe(401);
      expect((await api(url, { auth: member })).status, url).toBe(403);
      expect((await api(url, { auth: stranger })).status, url).toBe(404);
      expect((await api(url, { auth: { apiKey: wrongScope.key } })).status, url).toBe(403);
      expect((await api(url, { auth: { apiKey: limited.key } })).status, url).toBe(403);
      expect((await api(url, { auth: admin })).status, url).toBe(200);
      expect((await api(url, { auth: { apiKey: reader.key } })).status, url).toBe(200);
    }
  });

  it("never shows another org's entries", async () => {
    const { owner, org } = await setup();
    const { org: other } = await setup();
    await createProject(other, { name: 'Other org secret' });
    const entries = await readAll(org, owner);
    expect(JSON.stringify(entries)).not.toContain('Other org secret');
    expect(entries.every((entry) => entry.targetId !== other.id)).toBe(true);
  });
});

describe('atomicity', () => {
  it('a mutation whose audit entry cannot be written is rolled back: neither change nor entry', async () => {
    const { owner, org } = await setup();
    const project = await createProject(org, { name: 'Unchanged' });
    // Occupy the next seq behind the trigger's back, so the next entry's insert violates (org_id, seq).
    const head = (await stored(org)).at(-1);
    await ownerDb.http.insert(auditLogs).values({
      orgId: org.id, seq: (head?.seq ?? 0) + 1, actorType: 'system', action: 'test.blocker', targetType: 'test', changes: {}, prevHash: GENESIS_HASH, hash: GENESIS_HASH,
    });
    const response = await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: owner, method: 'PATCH', body: { name: 'Changed' }, headers: { 'x-request-id': 'doomed' } });
    expect(response.status).toBe(409);
    expect((await ownerDb.http.select().from(projects).where(eq(projects.id, project.id)))[0]?.name).toBe('Unchanged');
    expect((await stored(org)).filter((entry) => entry.requestId === 'doomed')).toEqual([]);
  });

  it('an entry whose changes are not a JSON object is refused, even from the schema owner (CHECK audit_logs_changes_object)', async () => {
    const { org } = await setup();
    for (const changes of ['[]', '"text"', 'null', '1']) {
      const blocked = ownerDb.http.execute(
        sql`insert into audit_logs (org_id, seq, actor_type, action, target_type, changes, prev_hash, hash) values (${org.id}, 999, 'system', 'x', 'x', ${changes}::jsonb, '', '')`,
      );
      const error = await blocked.then(() => undefined, (caught: unknown) => caught);
      expect(sqlState(error), changes).toBe('23514'); // check_violation
    }
  });

  it('a mutation refused by validation writes neither change nor entry', async () => {
    const { owner, org } = await setup();
    const before = await stored(org);
    expect((await api(`/api/v1/orgs/${org.id}/projects`, { auth: owner, body: { name: '' } })).status).toBe(400);
    expect(await stored(org)).toEqual(before);
  });
});

describe('GET /orgs/{orgId}/audit-logs/verify', () => {
  it('is valid after many mutations, including ≥10 truly concurrent ones; seq stays contiguous', async () => {
    const { owner, org } = await setup();
    await mutate(org, owner);
    const targets = await Promise.all([createProject(org), createProject(org), createProject(org)]);
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        api(`/api/v1/orgs/${org.id}/projects/${targets[i % 3]?.id}`, { auth: owner, method: 'PATCH', body: { name: `concurrent ${i}` } }),
      ),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(12).fill(200));

    const rows = await stored(org);
    expect(rows.map((row) => row.seq)).toEqual(rows.map((_, i) => i + 1));
    expect(rows.filter((row) => row.action === 'project.updated' && row.changes && JSON.stringify(row.changes).includes('concurrent'))).toHaveLength(12);
    expect(await verify(org, owner)).toEqual({ valid: true, entries: rows.length });
  });

  it('finds an edited action, reporting that entry', async () => {
    const { owner, org } = await setup();
    await mutate(org, owner);
    const target = (await stored(org))[4];
    if (!target) throw new Error('expected entries');
    await ownerDb.http.update(auditLogs).set({ action: 'project.viewed' }).where(eq(auditLogs.id, target.id));
    expect(await verify(org, owner)).toEqual({ valid: false, entries: 5, firstBrokenId: target.id });
  });

  it('finds edited changes, even in the first entry', async () => {
    const { owner, org } = await setup();
    await mutate(org, owner);
    const first = (await stored(org))[0];
    if (!first) throw new Error('expected entries');
    await ownerDb.http.update(auditLogs).set({ changes: sql`${auditLogs.changes} || '{"name":"forged"}'::jsonb` }).where(eq(auditLogs.id, first.id));
    expect(await verify(org, owner)).toEqual({ valid: false, entries: 1, firstBrokenId: first.id });
  });

  it('finds a deleted entry, reporting the entry after the gap', async () => {
    const { owner, org } = await setup();
    await mutate(org, owner);
    const rows = await stored(org);
    const [removed, next] = [rows[6], rows[7]];
    if (!removed || !next) throw new Error('expected entries');
    await ownerDb.http.delete(auditLogs).where(eq(auditLogs.id, removed.id));
    expect(await verify(org, owner)).toEqual({ valid: false, entries: 7, firstBrokenId: next.id });
  });

  it('finds the newest entries deleted: the chain ends short of its head', async () => {
    const { owner, org } = await setup();
    await mutate(org, owner);
    const rows = await stored(org);
    const newest = rows.at(-1);
    if (!newest) throw new Error('expected entries');
    expect(await verify(org, owner)).toEqual({ valid: true, entries: rows.length });
    await ownerDb.http.delete(auditLogs).where(eq(auditLogs.id, newest.id));
    expect(await verify(org, owner)).toEqual({ valid: false, entries: rows.length - 1 });
  });

  it('finds an entry rewritten with a recomputed hash, at the next link', async () => {
    const { owner, org } = await setup();
    await mutate(org, owner);
    const rows = await stored(org);
    const [forged, next] = [rows[3], rows[4]];
    if (!forged || !next) throw new Error('expected entries');
    // A forger who rehashes the entry they edit still breaks the link to the entry after it.
    await ownerDb.http
      .update(auditLogs)
      .set({ actorId: 'someone-else' })
      .where(eq(auditLogs.id, forged.id));
    await ownerDb.http.execute(
      sql`update audit_logs a set hash = encode(sha256(convert_to(a.prev_hash || E'\n' || audit_canonical(a), 'UTF8')), 'hex') where a.id = ${forged.id}`,
    );
    expect(await verify(org, owner)).toEqual({ valid: false, entries: 5, firstBrokenId: next.id });
  });

  it('reads the chain in pages and still finds a break on a later page', async () => {
    const { owner, org } = await setup();
    await mutate(org, owner);
    const rows = await stored(org);
    const tenant = createScopedDatabase(testDb(), { type: 'user', id: owner.id, sessionId: owner.sessionId }, { requestId: 'verify-pages', ip: null, userAgent: null }, {
      kind: 'org', orgId: org.id, permission: 'audit_logs:read',
    });
    for (const pageSize of [1, 2, 3, rows.length, rows.length + 1]) {
      expect(await verifyAuditChain(tenant, org.id, pageSize), `page size ${pageSize}`).toEqual({ valid: true, entries: rows.length });
    }
    const late = rows[rows.length - 2];
    if (!late) throw new Error('expected entries');
    await ownerDb.http.update(auditLogs).set({ targetType: 'tampered' }).where(eq(auditLogs.id, late.id));
    expect(await verifyAuditChain(tenant, org.id, 3)).toEqual({ valid: false, entries: rows.length - 1, firstBrokenId: late.id });
  });
});

describe('the app database role', () => {
  it('cannot update, delete or insert audit entries (append-only, written only by the trigger)', async () => {
    const { owner, org } = await setup();
    await createProject(org);
    const db = testDb();
    const attempts = [
      sql`update audit_logs set action = 'x' where org_id = ${org.id}`,
      sql`delete from audit_logs where org_id = ${org.id}`,
      sql`insert into audit_logs (org_id, seq, actor_type, action, target_type, changes, prev_hash, hash) values (${org.id}, 999, 'user', 'x', 'x', '{}', '', '')`,
      sql`update audit_chain_heads set seq = 0`,
    ];
    for (const attempt of attempts) {
      const error = await db.http.execute(attempt).then(() => undefined, (caught: unknown) => caught);
      expect(sqlState(error)).toBe('42501'); // insufficient_privilege
    }
    expect(await verify(org, owner)).toMatchObject({ valid: true });
  });
});

describe('round trips', () => {
  it('listing is one round trip; verifying is one per 1,000 entries (once the caller is admitted at the edge)', async () => {
    const { owner, org } = await setup();
    await createProject(org);
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(200);
    const trips = (url: string) => roundTrips(async () => expect((await api(url, { auth: owner })).status).toBe(200));
    expect(await trips(`${logUrl(org)}?action=project.created`)).toBe(1);
    expect(await trips(verifyUrl(org))).toBe(1);
  });
});
