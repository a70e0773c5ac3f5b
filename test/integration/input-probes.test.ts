import { SELF } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { projects, users } from '../../src/db/schema/index.ts';
import { encodeCursor } from '../../src/lib/pagination.ts';
import { api, createApiKey, createMember, createOrg, createProject, createUser, json, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';

/**
 * The holes the schema-driven fuzzer and the hand probes found (issue #6), each as the exact request
 * that used to answer 500 or 200: now a 400 in the error envelope, while valid input still works.
 */
type ErrorBody = { error: { code: string; requestId: string; details?: { issues?: Array<{ path: string; code: string }>; reason?: string } } };

let owner: TestUser;
let org: TestOrg;
let project: { id: string; name: string };

beforeAll(async () => {
  owner = await createUser();
  org = await createOrg(owner);
  project = await createProject(org, { name: 'Probe target' });
  await createMember(org, 'member');
  await createApiKey(org, { scopes: ['projects:read'] });
});

async function expect400(response: Response, path: string, code = 'VALIDATION_FAILED') {
  const body = await json<ErrorBody>(response);
  expect({ status: response.status, code: body.error.code }).toEqual({ status: 400, code });
  expect(body.error.requestId).toEqual(expect.any(String));
  if (code === 'VALIDATION_FAILED') expect(body.error.details?.issues?.map((issue) => issue.path)).toContain(path);
}

describe('strict bodies', () => {
  it('a typo on a project PATCH is a 400 naming the key, and changes nothing', async () => {
    const url = `/api/v1/orgs/${org.id}/projects/${project.id}`;
    await expect400(await api(url, { method: 'PATCH', body: { nmae: 'x' }, auth: owner }), 'nmae');
    const [row] = await ownerDb.http.select({ name: projects.name }).from(projects).where(eq(projects.id, project.id));
    expect(row?.name).toBe('Probe target');
    expect((await api(url, { method: 'PATCH', body: { name: 'Still editable' }, auth: owner })).status).toBe(200);
  });
});

describe('limit is digits only', () => {
  it.each(['0x10', '1e1', '%2016', '016', '16.0', '0', '101', '-5', ''])('limit=%s is a 400', async (limit) => {
    await expect400(await api(`/api/v1/orgs/${org.id}/projects?limit=${limit}`, { auth: owner }), 'limit');
  });

  it('limit=16 and no limit (20) still work', async () => {
    const page = await json<{ meta: { limit: number } }>(await api(`/api/v1/orgs/${org.id}/projects?limit=16`, { auth: owner }));
    expect(page.meta.limit).toBe(16);
    expect((await json<{ meta: { limit: number } }>(await api(`/api/v1/orgs/${org.id}/projects`, { auth: owner }))).meta.limit).toBe(20);
  });
});

describe('dates are bounded to the years 0001–9999', () => {
  const lists = () => [`/api/v1/orgs/${org.id}/projects?createdAfter=`, `/api/v1/orgs/${org.id}/projects?createdBefore=`, `/api/v1/orgs/${org.id}/audit-logs?from=`, `/api/v1/orgs/${org.id}/audit-logs?to=`];
  const refused = ['0000-01-01', '0000-01-01T00:00:00Z', '0001-01-01T00:00:00%2B01:00', '9999-12-31T23:00:00-14:00', '2025-02-30', '2025-01-01t00:00:00z', '+012025-01-01'];
  const accepted = ['0001-01-01', '9999-12-31', '9999-12-31T23:59:59.999999Z', '2025-06-01T12:00:00%2B02:00'];

  it.each(refused)('%s is a 400 on every date filter', async (value) => {
    for (const list of lists()) await expect400(await api(`${list}${value}`, { auth: owner }), list.split('?')[1]?.replace('=', '') ?? '');
  });

  it.each(accepted)('%s is accepted on every date filter', async (value) => {
    for (const list of lists()) expect((await api(`${list}${value}`, { auth: owner })).status, list).toBe(200);
  });
});

describe('forged cursors are a 400, never a 500', () => {
  const lists = () => [
    `/api/v1/orgs/${org.id}/api-keys`,
    `/api/v1/orgs/${org.id}/projects`,
    `/api/v1/orgs/${org.id}/projects?sort=name`,
    `/api/v1/orgs/${org.id}/members`,
    `/api/v1/orgs/${org.id}/invitations`,
    `/api/v1/orgs/${org.id}/audit-logs`,
    `/api/v1/orgs/${org.id}/projects/${project.id}/members`,
    '/api/v1/orgs',
  ];
  const withCursor = (list: string, cursor: string) => `${list}${list.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`;
  const uuid = '00000000-0000-4000-8000-000000000000';
  const yearZero = '0000-01-01T00:00:00.000000Z';

  it('a year-0000 timestamp in the api-keys, projects, members and invitations cursors (the reported 500s)', async () => {
    const probes = [
      [`/api/v1/orgs/${org.id}/api-keys`, [yearZero, uuid]],
      [`/api/v1/orgs/${org.id}/projects`, ['-createdAt', yearZero, uuid]],
      [`/api/v1/orgs/${org.id}/members`, [yearZero, uuid]],
      [`/api/v1/orgs/${org.id}/invitations`, [yearZero, uuid]],
    ] as const;
    for (const [list, value] of probes) await expect400(await api(withCursor(list, encodeCursor(value)), { auth: owner }), 'cursor');
  });

  const forged = [
    ['-createdAt', '0000-12-31T23:59:59.999999Z', uuid],
    ['name', '\u0000', uuid],
    ['-createdAt', '\ud800', uuid],
    ['\udc00x', uuid],
    ['9999-12-31T23:59:59.999999Z', uuid],
    [1e308],
    [Number.MAX_SAFE_INTEGER + 2],
    [-1],
    [{}, uuid],
    { a: 1 },
    null,
    'x'.repeat(2000),
  ];

  it.each(forged.map((value) => [JSON.stringify(value).slice(0, 60), value] as const))('%s: every list answers 200 or a 400 on `cursor`', async (_, value) => {
    for (const list of lists()) {
      const response = await api(withCursor(list, encodeCursor(value)), { auth: owner });
      if (response.status !== 200) await expect400(response, 'cursor');
    }
  });

  it('random strings and random JSON (fast-check, seeded) never make a list fail', async () => {
    const timestamp = fc
      .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }))
      .map(([y, m, d]) => `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T00:00:00.000000Z`);
    const part = fc.oneof(fc.jsonValue(), timestamp, fc.uuid(), fc.string(), fc.double(), fc.constantFrom('name', '-name', 'createdAt', '-createdAt'));
    const cursor = fc.oneof(
      fc.string({ maxLength: 1100 }),
      fc.jsonValue().map(encodeCursor),
      fc.array(part, { maxLength: 4 }).map(encodeCursor),
    );
    await fc.assert(
      fc.asyncProperty(cursor, fc.constantFrom(...lists()), async (value, list) => {
        const response = await api(withCursor(list, value), { auth: owner });
        expect([200, 400]).toContain(response.status);
      }),
      { seed: 6, numRuns: 150 },
    );
  });
});

describe('names refuse NUL and control characters', () => {
  const bad = ['a\u0000b', '\u0000', 'tab\there', 'bell\u0007', 'line\nbreak', 'c1\u0085', 'lone \ud800', '   '];

  it.each(bad.map((name) => [JSON.stringify(name), name] as const))('%s: signup, PUT/PATCH user, POST/PATCH org are 400s', async (_, name) => {
    const email = `nul-${crypto.randomUUID().slice(0, 8)}@example.com`;
    await expect400(await api('/api/v1/auth/signup', { body: { email, password: 'correct horse battery staple', name } }), 'name');
    await expect400(await api(`/api/v1/users/${owner.id}`, { method: 'PUT', body: { name }, auth: owner }), 'name');
    await expect400(await api(`/api/v1/users/${owner.id}`, { method: 'PATCH', body: { name }, auth: owner }), 'name');
    await expect400(await api('/api/v1/orgs', { body: { name }, auth: owner }), 'name');
    await expect400(await api(`/api/v1/orgs/${org.id}`, { method: 'PATCH', body: { name }, auth: owner }), 'name');
    const [row] = await ownerDb.http.select({ id: users.id }).from(users).where(eq(users.email, email));
    expect(row).toBeUndefined();
  });

  it('names with accents, emoji and inner spaces still work, and are stored trimmed', async () => {
    const response = await api(`/api/v1/users/${owner.id}`, { method: 'PATCH', body: { name: '  Zoë 🚀 Ada  ' }, auth: owner });
    expect(response.status).toBe(200);
    expect((await json<{ data: { name: string } }>(response)).data.name).toBe('Zoë 🚀 Ada');
  });

  it('a project description may hold line breaks and tabs, not NUL', async () => {
    const url = `/api/v1/orgs/${org.id}/projects/${project.id}`;
    expect((await api(url, { method: 'PATCH', body: { description: 'line one\n\tline two\r\n' }, auth: owner })).status).toBe(200);
    await expect400(await api(url, { method: 'PATCH', body: { description: 'a\u0000b' }, auth: owner }), 'description');
  });
});

describe('emails follow the published rule', () => {
  it.each(['0@com', 'a@b', 'a..b@example.com', '.a@example.com', 'a@-example.com', 'ada@example.c0m'])('%s is a 400 on signup', async (email) => {
    await expect400(await api('/api/v1/auth/signup', { body: { email, password: 'correct horse battery staple', name: 'Ada' } }), 'email');
  });

  it('surrounding spaces and capitals are accepted and normalised', async () => {
    const local = `Probe.${crypto.randomUUID().slice(0, 8)}`;
    const response = await api('/api/v1/auth/signup', { body: { email: `  ${local}@Example.COM `, password: 'correct horse battery staple', name: 'Ada' } });
    expect(response.status).toBe(201);
    expect((await json<{ data: { user: { email: string } } }>(response)).data.user.email).toBe(`${local.toLowerCase()}@example.com`);
  });
});

describe('request-only enums', () => {
  it('PATCH …/members/{userId} refuses role: null', async () => {
    const member = await createMember(org, 'viewer');
    await expect400(await api(`/api/v1/orgs/${org.id}/members/${member.id}`, { method: 'PATCH', body: { role: null }, auth: owner }), 'role');
  });
});

describe('malformed UTF-8', () => {
  it('a JSON body with invalid UTF-8 is a 400 and nothing is stored', async () => {
    const name = `utf8-${crypto.randomUUID().slice(0, 8)}`;
    const bytes = new Uint8Array([...new TextEncoder().encode(`{"name":"${name}`), 0xff, 0xfe, ...new TextEncoder().encode('"}')]);
    const response = await SELF.fetch(`http://example.com/api/v1/orgs/${org.id}/projects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' },
      body: bytes,
    });
    await expect400(response, '', 'BAD_REQUEST');
    const names = await ownerDb.http.select({ name: projects.name }).from(projects).where(eq(projects.orgId, org.id));
    expect(names.map((row) => row.name).some((stored) => stored.startsWith(name))).toBe(false);
  });

  it('valid multi-byte UTF-8 is still read as written', async () => {
    const response = await api(`/api/v1/orgs/${org.id}/projects`, { body: { name: 'Café ☕ 🚀' }, auth: owner });
    expect(response.status).toBe(201);
    expect((await json<{ data: { name: string } }>(response)).data.name).toBe('Café ☕ 🚀');
  });
});

describe('routes that take no query', () => {
  it.each(['/api/v1/me/sessions?limit=5', '/api/v1/me?x=1'])('%s is a 400 naming the parameter', async (url) => {
    await expect400(await api(url, { auth: owner }), url.split('?')[1]?.split('=')[0] ?? '');
  });

  it('an unauthenticated caller still gets 401 first', async () => {
    expect((await api('/api/v1/me?x=1')).status).toBe(401);
  });
});
