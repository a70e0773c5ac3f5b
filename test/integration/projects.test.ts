import { asc, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, projects } from '../../src/db/schema/index.ts';
import { api, createApiKey, createMember, createOrg, createProject, createUser, json, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { roundTrips } from '../helpers/round-trips.ts';

type Project = { id: string; orgId: string; name: string; description: string | null; createdAt: string; updatedAt: string };
type Page = { data: Project[]; meta: { nextCursor: string | null; limit: number } };
type ErrorBody = { error: { code: string; details?: { issues: Array<{ path: string }> } } };
type Auth = TestUser | { apiKey: string };

const base = (org: TestOrg) => `/api/v1/orgs/${org.id}/projects`;

async function orgWithOwner() {
  const owner = await createUser();
  return { owner, org: await createOrg(owner) };
}

/** Projects with chosen names and creation times, written as the schema owner. */
async function insertProjects(org: TestOrg, rows: Array<{ name: string; createdAt: string; deleted?: boolean }>) {
  return ownerDb.http
    .insert(projects)
    .values(rows.map((row) => ({ orgId: org.id, name: row.name, createdAt: new Date(row.createdAt), deletedAt: row.deleted ? new Date() : null })))
    .returning();
}

/** Follows `nextCursor` to the end; returns every id in the order served. */
async function walk(auth: Auth, url: string, from: string | null = null): Promise<string[]> {
  const ids: string[] = [];
  let cursor = from;
  for (let pages = 0; pages < 50; pages++) {
    const response = await api(cursor ? `${url}&cursor=${cursor}` : url, { auth });
    expect(response.status).toBe(200);
    const page = await json<Page>(response);
    ids.push(...page.data.map((project) => project.id));
    cursor = page.meta.nextCursor;
    if (!cursor) return ids;
  }
  throw new Error('pagination did not end');
}

const names = async (response: Response) => (await json<Page>(response)).data.map((project) => project.name);
const issuePaths = async (response: Response) => ((await json<ErrorBody>(response)).error.details?.issues ?? []).map((issue) => issue.path);
const auditOf = (org: TestOrg) => ownerDb.http.select().from(auditLogs).where(eq(auditLogs.orgId, org.id)).orderBy(asc(auditLogs.seq));
const stored = async (id: string) => (await ownerDb.http.select().from(projects).where(eq(projects.id, id)))[0];

describe('GET /orgs/{orgId}/projects', () => {
  it("lists the org's live projects, newest first, in the list envelope", async () => {
    const { org } = await orgWithOwner();
    await insertProjects(org, [
      { name: 'Old', createdAt: '2025-01-01T00:00:00Z' },
      { name: 'New', createdAt: '2025-03-01T00:00:00Z' },
      { name: 'Middle', createdAt: '2025-02-01T00:00:00Z' },
      { name: 'Gone', createdAt: '2025-04-01T00:00:00Z', deleted: true },
    ]);
    const { org: otherOrg } = await orgWithOwner();
    await createProject(otherOrg, { name: 'Foreign' });
    const viewer = await createMember(org, 'viewer');

    const response = await api(base(org), { auth: viewer });
    expect(response.status).toBe(200);
    const page = await json<Page>(response);
    expect(page.data.map((project) => project.name)).toEqual(['New', 'Middle', 'Old']);
    expect(page.meta).toEqual({ nextCursor: null, limit: 20 });
    expect(Object.keys(page.data[0] ?? {}).sort()).toEqual(['createdAt', 'description', 'id', 'name', 'orgId', 'updatedAt']);
  });

  it('walks every page with no duplicates or gaps under each sort, ties broken by id', async () => {
    const { owner, org } = await orgWithOwner();
    // Equal timestamps and names equal but for case, so the id tie-break decides.
    const rows = await insertProjects(org, [
      { name: 'delta', createdAt: '2025-01-01T00:00:00.000Z' },
      { name: 'Alpha', createdAt: '2025-01-01T00:00:00.000Z' },
      { name: 'alpha', createdAt: '2025-01-01T00:00:00.000Z' },
      { name: 'charlie', createdAt: '2025-01-02T00:00:00.000Z' },
      { name: 'bravo', createdAt: '2025-01-02T00:00:00.000Z' },
      { name: 'ALPHA', createdAt: '2025-01-03T00:00:00.000Z' },
      { name: 'echo', createdAt: '2025-01-04T00:00:00.000Z' },
    ]);
    const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const byTime = [...rows].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || byId(a, b)).map((row) => row.id);
    const byName = [...rows].sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()) || byId(a, b)).map((row) => row.id);
    const expected = { createdAt: byTime, '-createdAt': [...byTime].reverse(), name: byName, '-name': [...byName].reverse() };

    for (const [sort, order] of Object.entries(expected)) {
      for (const limit of [1, 2, 3, 7]) {
        expect(await walk(owner, `${base(org)}?sort=${sort}&limit=${limit}`), `${sort}, limit ${limit}`).toEqual(order);
      }
    }
    expect(await walk(owner, `${base(org)}?limit=2`)).toEqual(expected['-createdAt']);
  });

  it('keeps microsecond precision in the cursor (rows within one millisecond are neither repeated nor skipped)', async () => {
    const { owner, org } = await orgWithOwner();
    const micros = ['000300', '000100', '000200', '000100'];
    const rows = await ownerDb.http
      .insert(projects)
      .values(micros.map((us, i) => ({ orgId: org.id, name: `p${i}`, createdAt: sql`${`2025-01-01T00:00:00.${us}Z`}::timestamptz` })))
      .returning();
    const key = (i: number) => `${micros[i]}|${rows[i]?.id}`;
    const ascending = rows.map((row, i) => ({ id: row.id, key: key(i) })).sort((a, b) => (a.key < b.key ? -1 : 1)).map((row) => row.id);
    expect(await walk(owner, `${base(org)}?sort=createdAt&limit=1`)).toEqual(ascending);
    expect(await walk(owner, `${base(org)}?sort=-createdAt&limit=1`)).toEqual([...ascending].reverse());
  });

  it('is stable when projects are created between pages', async () => {
    const { owner, org } = await orgWithOwner();
    const rows = await insertProjects(
      org,
      ['a', 'b', 'c', 'd'].map((name, i) => ({ name, createdAt: `2025-01-0${i + 1}T00:00:00Z` })),
    );
    const first = await json<Page>(await api(`${base(org)}?sort=createdAt&limit=2`, { auth: owner }));
    // A newer project lands after the cursor (and is served); an older one lands before it (and is not).
    const [late] = await insertProjects(org, [{ name: 'late', createdAt: '2025-02-01T00:00:00Z' }]);
    await insertProjects(org, [{ name: 'early', createdAt: '2024-12-01T00:00:00Z' }]);
    const rest = await walk(owner, `${base(org)}?sort=createdAt&limit=2`, first.meta.nextCursor);
    expect([...first.data.map((project) => project.id), ...rest]).toEqual([...rows.map((row) => row.id), late?.id]);
  });

  it('q is a case-insensitive substring in which %, _ and \\ match literally', async () => {
    const { owner, org } = await orgWithOwner();
    await insertProjects(
      org,
      ['100% Organic', '100 Organic', 'snake_case', 'snakeXcase', 'back\\slash', 'backslash'].map((name, i) => ({ name, createdAt: `2025-01-0${i + 1}T00:00:00Z` })),
    );
    const search = async (q: string) => (await api(`${base(org)}?q=${encodeURIComponent(q)}`, { auth: owner }).then(names)).sort();
    expect(await search('%')).toEqual(['100% Organic']);
    expect(await search('_')).toEqual(['snake_case']);
    expect(await search('\\')).toEqual(['back\\slash']);
    expect(await search('0% ORG')).toEqual(['100% Organic']);
    expect(await search('organic')).toEqual(['100 Organic', '100% Organic'].sort());
    expect(await search('  SNAKE ')).toEqual(['snake_case', 'snakeXcase'].sort());
  });

  it('filters by creation time: createdAfter inclusive, createdBefore exclusive, dates or date-times', async () => {
    const { owner, org } = await orgWithOwner();
    await insertProjects(org, [
      { name: 'jan1', createdAt: '2025-01-01T00:00:00Z' },
      { name: 'jan15', createdAt: '2025-01-15T00:00:00Z' },
      { name: 'feb1', createdAt: '2025-02-01T00:00:00Z' },
    ]);
    const list = (query: string) => api(`${base(org)}?sort=createdAt&${query}`, { auth: owner }).then(names);
    expect(await list('createdAfter=2025-01-15')).toEqual(['jan15', 'feb1']);
    expect(await list('createdBefore=2025-02-01T00:00:00Z')).toEqual(['jan1', 'jan15']);
    expect(await list('createdAfter=2025-01-02&createdBefore=2025-01-31T23:00:00%2B01:00')).toEqual(['jan15']);
  });

  it('400s bad query parameters, naming each field', async () => {
    const { owner, org } = await orgWithOwner();
    await createProject(org);
    const cases: Array<[string, string]> = [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['sort=createdat', 'sort'],
      ['createdAfter=yesterday', 'createdAfter'],
      ['createdBefore=2025-13-01', 'createdBefore'],
      [`q=${'x'.repeat(101)}`, 'q'],
      ['cursor=not%20a%20cursor', 'cursor'],
      ['cursor=bm9wZQ', 'cursor'],
    ];
    for (const [query, path] of cases) {
      const response = await api(`${base(org)}?${query}`, { auth: owner });
      expect(response.status, query).toBe(400);
      expect(await issuePaths(response), query).toEqual([path]);
    }
    // A cursor only continues the sort it was made for.
    await createProject(org);
    const page = await json<Page>(await api(`${base(org)}?limit=1&sort=name`, { auth: owner }));
    expect(page.meta.nextCursor).toEqual(expect.any(String));
    const crossed = await api(`${base(org)}?limit=1&sort=createdAt&cursor=${page.meta.nextCursor}`, { auth: owner });
    expect(crossed.status).toBe(400);
    expect(await issuePaths(crossed)).toEqual(['cursor']);
  });

  it('401s without credentials; 404s a member of another org; 403s a key without the scope', async () => {
    const { org } = await orgWithOwner();
    await createProject(org);
    const { owner: stranger } = await orgWithOwner();
    const writer = await createApiKey(org, { scopes: ['projects:write'] });
    const { org: otherOrg } = await orgWithOwner();
    const foreignKey = await createApiKey(otherOrg, { scopes: ['projects:read'] });
    expect((await api(base(org))).status).toBe(401);
    expect((await api(base(org), { auth: stranger })).status).toBe(404);
    expect((await api(base(org), { auth: { apiKey: writer.key } })).status).toBe(403);
    expect((await api(base(org), { auth: { apiKey: foreignKey.key } })).status).toBe(404);
  });

  it('shows a project-limited key only its own project, whatever the filters', async () => {
    const { org } = await orgWithOwner();
    const mine = await createProject(org, { name: 'Mine' });
    await createProject(org, { name: 'Mine too?' });
    const reader = await createApiKey(org, { scopes: ['projects:read'], projectId: mine.id });
    const orgReader = await createApiKey(org, { scopes: ['projects:read'] });
    expect(await api(base(org), { auth: { apiKey: reader.key } }).then(names)).toEqual(['Mine']);
    expect(await api(`${base(org)}?q=mine&sort=name&limit=1`, { auth: { apiKey: reader.key } }).then(names)).toEqual(['Mine']);
    expect(await api(`${base(org)}?sort=name`, { auth: { apiKey: orgReader.key } }).then(names)).toEqual(['Mine', 'Mine too?']);
  });
});

describe('POST /orgs/{orgId}/projects', () => {
  it('creates a project (201, Location) and writes exactly one audit entry with the request facts', async () => {
    const { org } = await orgWithOwner();
    const member = await createMember(org, 'member');
    const before = (await auditOf(org)).length;
    const response = await api(base(org), {
      auth: member,
      body: { name: '  Website  ', description: 'Marketing' },
      headers: { 'cf-connecting-ip': '203.0.113.7', 'user-agent': 'projects-test/1.0', 'x-request-id': 'req-create-1' },
    });
    expect(response.status).toBe(201);
    const { data } = await json<{ data: Project }>(response);
    expect(data).toEqual({ id: expect.any(String), orgId: org.id, name: 'Website', description: 'Marketing', createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect(response.headers.get('location')).toBe(`${base(org)}/${data.id}`);
    expect((await api(`${base(org)}/${data.id}`, { auth: member })).status).toBe(200);

    const entries = (await auditOf(org)).slice(before);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      action: 'project.created',
      actorType: 'user',
      actorId: member.id,
      targetType: 'project',
      targetId: data.id,
      ip: '203.0.113.7',
      userAgent: 'projects-test/1.0',
      requestId: response.headers.get('x-request-id'),
      changes: expect.objectContaining({ name: 'Website', description: 'Marketing' }),
    });
  });

  it('records an API key as the actor', async () => {
    const { org } = await orgWithOwner();
    const key = await createApiKey(org, { scopes: ['projects:write'] });
    const response = await api(base(org), { auth: { apiKey: key.key }, body: { name: 'By key' } });
    expect(response.status).toBe(201);
    const { data } = await json<{ data: Project }>(response);
    expect(data.description).toBeNull();
    const entries = (await auditOf(org)).filter((entry) => entry.targetId === data.id);
    expect(entries).toEqual([expect.objectContaining({ action: 'project.created', actorType: 'api_key', actorId: key.id })]);
  });

  it('400s an invalid body, naming each field, and writes neither a project nor an audit entry', async () => {
    const { owner, org } = await orgWithOwner();
    const before = (await auditOf(org)).length;
    const cases: Array<[unknown, string[]]> = [
      [{}, ['name']],
      [{ name: '   ' }, ['name']],
      [{ name: 'x'.repeat(101) }, ['name']],
      [{ name: 'ok', description: 'x'.repeat(2001) }, ['description']],
      [{ name: 'nul\u0000byte' }, ['name']],
      [{ name: 42, description: 7 }, ['name', 'description']],
    ];
    for (const [body, paths] of cases) {
      const response = await api(base(org), { auth: owner, body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((await issuePaths(response)).sort(), JSON.stringify(body)).toEqual([...paths].sort());
    }
    expect((await api(base(org), { auth: owner, method: 'POST' })).status).toBe(400);
    expect((await ownerDb.http.select().from(projects).where(eq(projects.orgId, org.id))).length).toBe(0);
    expect((await auditOf(org)).length).toBe(before);
  });

  it('accepts a 100-character name and a 2000-character description', async () => {
    const { owner, org } = await orgWithOwner();
    const response = await api(base(org), { auth: owner, body: { name: 'n'.repeat(100), description: 'd'.repeat(2000) } });
    expect(response.status).toBe(201);
  });

  it('refuses viewers (403), strangers (404), anonymous callers (401), keys without the scope or limited to a project (403)', async () => {
    const { org } = await orgWithOwner();
    const project = await createProject(org);
    const viewer = await createMember(org, 'viewer');
    const { owner: stranger } = await orgWithOwner();
    const reader = await createApiKey(org, { scopes: ['projects:read'] });
    const limited = await createApiKey(org, { scopes: ['projects:write'], projectId: project.id });
    const body = { name: 'Nope' };
    expect((await api(base(org), { body })).status).toBe(401);
    expect((await api(base(org), { auth: viewer, body })).status).toBe(403);
    expect((await api(base(org), { auth: stranger, body })).status).toBe(404);
    expect((await api(base(org), { auth: { apiKey: reader.key }, body })).status).toBe(403);
    expect((await api(base(org), { auth: { apiKey: limited.key }, body })).status).toBe(403);
    expect((await ownerDb.http.select().from(projects).where(eq(projects.orgId, org.id))).map((row) => row.id)).toEqual([project.id]);
  });
});

describe('PATCH and PUT /orgs/{orgId}/projects/{projectId}', () => {
  it('PATCH changes only the given fields and audits exactly those changes', async () => {
    const { owner, org } = await orgWithOwner();
    const project = await createProject(org, { name: 'Before', description: 'Keep me' });
    const before = (await auditOf(org)).length;
    const response = await api(`${base(org)}/${project.id}`, { auth: owner, method: 'PATCH', body: { name: 'After' }, headers: { 'x-request-id': 'req-patch-1' } });
    expect(response.status).toBe(200);
    const { data } = await json<{ data: Project }>(response);
    expect(data).toMatchObject({ id: project.id, name: 'After', description: 'Keep me' });
    expect(Date.parse(data.updatedAt)).toBeGreaterThan(project.updatedAt.getTime());
    const entries = (await auditOf(org)).slice(before);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ action: 'project.updated', targetId: project.id, actorId: owner.id, requestId: response.headers.get('x-request-id'), changes: { name: { from: 'Before', to: 'After' } } });

    const cleared = await api(`${base(org)}/${project.id}`, { auth: owner, method: 'PATCH', body: { description: null } });
    expect((await json<{ data: Project }>(cleared)).data).toMatchObject({ name: 'After', description: null });
  });

  it('PUT replaces name and description together and requires both', async () => {
    const { owner, org } = await orgWithOwner();
    const project = await createProject(org, { name: 'Old', description: 'Old text' });
    const url = `${base(org)}/${project.id}`;
    const missing = await api(url, { auth: owner, method: 'PUT', body: { name: 'New' } });
    expect(missing.status).toBe(400);
    expect(await issuePaths(missing)).toEqual(['description']);
    const response = await api(url, { auth: owner, method: 'PUT', body: { name: 'New', description: null } });
    expect(response.status).toBe(200);
    expect((await json<{ data: Project }>(response)).data).toMatchObject({ name: 'New', description: null });
    expect(await stored(project.id)).toMatchObject({ name: 'New', description: null });
  });

  it('treats an empty PATCH or an identical PUT as a no-op (200, updatedAt kept, nothing audited); 400s invalid fields', async () => {
    const { owner, org } = await orgWithOwner();
    const project = await createProject(org, { name: 'Same', description: 'Text' });
    const before = (await auditOf(org)).length;
    const url = `${base(org)}/${project.id}`;
    const empty = await api(url, { auth: owner, method: 'PATCH', body: {} });
    expect(empty.status).toBe(200);
    expect((await json<{ data: Project }>(empty)).data).toMatchObject({ name: 'Same', description: 'Text', updatedAt: project.updatedAt.toISOString() });
    expect((await api(url, { auth: owner, method: 'PUT', body: { name: 'Same', description: 'Text' } })).status).toBe(200);
    const tooLong = await api(url, { auth: owner, method: 'PATCH', body: { name: 'ok', description: 'x'.repeat(2001) } });
    expect(tooLong.status).toBe(400);
    expect(await issuePaths(tooLong)).toEqual(['description']);
    expect(await stored(project.id)).toMatchObject({ name: 'Same', description: 'Text', updatedAt: project.updatedAt });
    expect((await auditOf(org)).length).toBe(before);
  });

  it('404s unknown, deleted and foreign projects; 403s viewers; keys follow scope and project limits', async () => {
    const { owner, org } = await orgWithOwner();
    const project = await createProject(org);
    const other = await createProject(org);
    const [deleted] = await insertProjects(org, [{ name: 'Deleted', createdAt: '2025-01-01T00:00:00Z', deleted: true }]);
    const { owner: stranger, org: strangerOrg } = await orgWithOwner();
    const foreign = await createProject(strangerOrg);
    const viewer = await createMember(org, 'viewer');
    const reader = await createApiKey(org, { scopes: ['projects:read'] });
    const limited = await createApiKey(org, { scopes: ['projects:write'], projectId: project.id });
    const patch = (path: string, auth?: Auth) => api(path, { auth, method: 'PATCH', body: { name: 'Changed' } }).then((response) => response.status);

    expect(await patch(`${base(org)}/${crypto.randomUUID()}`, owner)).toBe(404);
    expect(await patch(`${base(org)}/${deleted?.id}`, owner)).toBe(404);
    expect(await patch(`${base(org)}/${foreign.id}`, owner)).toBe(404);
    expect(await patch(`${base(org)}/${project.id}`, stranger)).toBe(404);
    expect(await patch(`${base(org)}/${project.id}`)).toBe(401);
    expect(await patch(`${base(org)}/${project.id}`, viewer)).toBe(403);
    expect(await patch(`${base(org)}/${project.id}`, { apiKey: reader.key })).toBe(403);
    expect(await patch(`${base(org)}/${other.id}`, { apiKey: limited.key })).toBe(404);
    expect((await stored(other.id))?.name).toBe(other.name);
    expect(await patch(`${base(org)}/${project.id}`, { apiKey: limited.key })).toBe(200);
    expect((await stored(project.id))?.name).toBe('Changed');
  });
});

describe('DELETE /orgs/{orgId}/projects/{projectId}', () => {
  it('soft-deletes for managers: then 404 everywhere, gone from the list, still in the database and audited once', async () => {
    const { org } = await orgWithOwner();
    const admin = await createMember(org, 'admin');
    const project = await createProject(org);
    const keep = await createProject(org);
    const url = `${base(org)}/${project.id}`;
    const before = (await auditOf(org)).length;
    const response = await api(url, { auth: admin, method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');

    expect((await api(url, { auth: admin })).status).toBe(404);
    expect((await api(url, { auth: admin, method: 'PATCH', body: { name: 'x' } })).status).toBe(404);
    expect((await api(url, { auth: admin, method: 'DELETE' })).status).toBe(404);
    expect((await json<Page>(await api(base(org), { auth: admin }))).data.map((row) => row.id)).toEqual([keep.id]);
    expect((await stored(project.id))?.deletedAt).toBeInstanceOf(Date);
    const entries = (await auditOf(org)).slice(before);
    expect(entries).toEqual([expect.objectContaining({ action: 'project.deleted', targetId: project.id, actorId: admin.id })]);
  });

  it('403s members and keys without projects:delete; 404s strangers; a key limited to the project may delete it', async () => {
    const { org } = await orgWithOwner();
    const project = await createProject(org);
    const member = await createMember(org, 'member');
    const { owner: stranger } = await orgWithOwner();
    const writer = await createApiKey(org, { scopes: ['projects:write'] });
    const deleter = await createApiKey(org, { scopes: ['projects:delete'], projectId: project.id });
    const url = `${base(org)}/${project.id}`;
    expect((await api(url, { method: 'DELETE' })).status).toBe(401);
    expect((await api(url, { auth: member, method: 'DELETE' })).status).toBe(403);
    expect((await api(url, { auth: stranger, method: 'DELETE' })).status).toBe(404);
    expect((await api(url, { auth: { apiKey: writer.key }, method: 'DELETE' })).status).toBe(403);
    expect((await stored(project.id))?.deletedAt).toBeNull();
    expect((await api(url, { auth: { apiKey: deleter.key }, method: 'DELETE' })).status).toBe(204);
    expect((await stored(project.id))?.deletedAt).toBeInstanceOf(Date);
  });
});

describe('round trips', () => {
  it('each project route is one round trip once the caller is admitted at the edge: the work and the audit entry in one transaction', async () => {
    const { owner, org } = await orgWithOwner();
    const project = await createProject(org);
    // A grant-changing write (project members, deleting a project) drops the org's grants at the edge, so each
    // measured call first warms the caller's grant for the project (or the org) it acts on.
    const trips = async (url: string, method: string, status: number, body?: unknown) => {
      expect((await api(url.includes(project.id) ? `${base(org)}/${project.id}/members` : base(org), { auth: owner })).status).toBe(200);
      return roundTrips(async () => expect((await api(url, { auth: owner, method, body })).status).toBe(status));
    };
    expect(await trips(`${base(org)}?q=x&sort=name`, 'GET', 200)).toBe(1);
    expect(await trips(base(org), 'POST', 201, { name: 'One trip' })).toBe(1);
    expect(await trips(`${base(org)}/${project.id}`, 'PATCH', 200, { name: 'Patched' })).toBe(1);
    expect(await trips(`${base(org)}/${project.id}`, 'PUT', 200, { name: 'Put', description: null })).toBe(1);
    expect(await trips(`${base(org)}/${project.id}/members`, 'GET', 200)).toBe(1);
    expect(await trips(`${base(org)}/${project.id}/members/${owner.id}`, 'PUT', 200, { role: 'viewer' })).toBe(1);
    expect(await trips(`${base(org)}/${project.id}/members/${owner.id}`, 'DELETE', 204)).toBe(1);
    expect(await trips(`${base(org)}/${project.id}`, 'DELETE', 204)).toBe(1);
  });
});
