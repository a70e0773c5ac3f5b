import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { eq, sql } from 'drizzle-orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sqlState } from '../../src/db/errors.ts';
import { organizations } from '../../src/db/schema/index.ts';
import { COLD_ADMISSIONS_PER_MINUTE, MAX_RATE_LIMIT, ORG_CALLER_RATE_LIMITS } from '../../src/lib/limits.ts';
import { orgAuthorityFor } from '../../durable-objects/org-authority/index.ts';
import { rateLimiterFor } from '../../durable-objects/rate-limiter/index.ts';
import { ORG_ROLES, orgRolesFor, PERMISSIONS, PROJECT_ROLES, projectRolesFor, roleAdmits, type ProjectRole } from '../../src/lib/permissions.ts';
import {
  api,
  createApiKey,
  createMember,
  createOrg,
  createPlatformAdmin,
  createProject,
  createUser,
  grantsChanged,
  json,
  ownerDb,
  setProjectRole,
  TEST_PASSWORD,
  type Credential,
  type TestOrg,
  type TestUser,
} from '../helpers/factories.ts';
import { callAs, deadDatabase } from '../helpers/database-faults.ts';
import { roundTrips } from '../helpers/round-trips.ts';
import { env, request, testDb } from '../helpers/worker.ts';

// The edge authority (durable-objects/org-authority) decides warm requests without Postgres. These tests
// hold it to its two promises: a revocation acts on the very next request (whatever the grant change), and
// a write is visible to the very next read.

afterEach(() => {
  vi.restoreAllMocks();
  // The driver's endpoint is isolate-wide: point it back at the real proxy after a dead-database test.
  testDb();
});

async function warmProject() {
  const owner = await createUser();
  const org = await createOrg(owner);
  const project = await createProject(org);
  return { owner, org, project, path: `/api/v1/orgs/${org.id}/projects/${project.id}` };
}

/** Reads until the read is served from the edge (no Postgres), proving the grant is warm. */
async function expectWarm(path: string, auth: Credential) {
  expect((await api(path, { auth })).status).toBe(200);
  expect(await roundTrips(async () => expect((await api(path, { auth })).headers.get('x-cache')).toBe('HIT'))).toBe(0);
}

/** The same for the user's own edge authority (durable-objects/user-authority): the flags, with no Postgres. */
async function expectWarmSession(auth: Credential) {
  expect((await api(FLAGS, { auth })).status).toBe(200);
  expect(await roundTrips(async () => expect((await api(FLAGS, { auth })).status).toBe(200))).toBe(0);
}
const FLAGS = '/api/v1/flags';

async function signIn(user: TestUser): Promise<{ accessToken: string; refreshToken: string }> {
  const response = await api('/api/v1/auth/login', { body: { email: user.email, password: TEST_PASSWORD } });
  expect(response.status).toBe(200);
  return (await json<{ data: { tokens: { accessToken: string; refreshToken: string } } }>(response)).data.tokens;
}

async function memberOf(org: TestOrg, role: 'admin' | 'member' | 'viewer' = 'member') {
  return createMember(org, role);
}

describe('revocation is immediate at the edge (the org\'s authority and the user\'s own)', () => {
  it('logout: the next request with the same access token is 401', async () => {
    const { org, path } = await warmProject();
    const member = await memberOf(org);
    const { accessToken } = await signIn(member);
    await expectWarm(path, { token: accessToken });
    await expectWarmSession({ token: accessToken });
    expect((await api('/api/v1/auth/logout', { method: 'POST', auth: { token: accessToken } })).status).toBe(204);
    expect((await api(path, { auth: { token: accessToken } })).status).toBe(401);
    expect((await api(FLAGS, { auth: { token: accessToken } })).status).toBe(401);
  });

  it('revoking a session from another one', async () => {
    const { org, path } = await warmProject();
    const member = await memberOf(org);
    await expectWarm(path, member);
    const other = await signIn(member);
    await expectWarmSession(member);
    await expectWarmSession({ token: other.accessToken });
    expect((await api(`/api/v1/me/sessions/${member.sessionId}`, { method: 'DELETE', auth: { token: other.accessToken } })).status).toBe(204);
    expect((await api(path, { auth: member })).status).toBe(401);
    expect((await api(FLAGS, { auth: member })).status).toBe(401);
    expect((await api(path, { auth: { token: other.accessToken } })).status).toBe(200);
    expect((await api(FLAGS, { auth: { token: other.accessToken } })).status).toBe(200);
  });

  it('deactivating the account', async () => {
    const { org, path } = await warmProject();
    const member = await memberOf(org);
    const second = await signIn(member);
    await expectWarm(path, member);
    await expectWarm(path, { token: second.accessToken });
    await expectWarmSession({ token: second.accessToken });
    expect((await api(`/api/v1/users/${member.id}`, { method: 'DELETE', auth: member })).status).toBe(204);
    expect((await api(path, { auth: { token: second.accessToken } })).status).toBe(401);
    expect((await api(FLAGS, { auth: { token: second.accessToken } })).status).toBe(401);
  });

  it('a password reset ends every session', async () => {
    const { org, path } = await warmProject();
    const member = await memberOf(org);
    await expectWarm(path, member);
    await expectWarmSession(member);
    expect((await api('/api/v1/auth/forgot-password', { body: { email: member.email } })).status).toBe(202);
    const token = await resetToken(member.email);
    expect((await api('/api/v1/auth/reset-password', { body: { token, password: 'another correct horse battery' } })).status).toBe(204);
    expect((await api(path, { auth: member })).status).toBe(401);
    expect((await api(FLAGS, { auth: member })).status).toBe(401);
  });

  it('a reused refresh token revokes its session', async () => {
    const { org, path } = await warmProject();
    const member = await memberOf(org);
    const tokens = await signIn(member);
    await expectWarm(path, { token: tokens.accessToken });
    await expectWarmSession({ token: tokens.accessToken });
    const refresh = (refreshToken: string) => api('/api/v1/auth/refresh', { body: { refreshToken } });
    const first = await refresh(tokens.refreshToken);
    expect(first.status).toBe(200);
    const next = (await json<{ data: { tokens: { refreshToken: string } } }>(first)).data.tokens;
    expect((await refresh(next.refreshToken)).status).toBe(200);
    expect((await refresh(tokens.refreshToken)).status).toBe(401); // reuse of a spent token: theft, the session ends
    expect((await api(path, { auth: { token: tokens.accessToken } })).status).toBe(401);
    expect((await api(FLAGS, { auth: { token: tokens.accessToken } })).status).toBe(401);
  });

  it('removing a member, and changing a role', async () => {
    const { owner, org, path } = await warmProject();
    const removed = await memberOf(org);
    const demoted = await memberOf(org, 'admin');
    const orgPath = `/api/v1/orgs/${org.id}`;
    const roleIn = async (response: Response) => (await json<{ data: { role: string } }>(response)).data.role;
    await expectWarm(path, removed);
    await expectWarm(path, demoted);
    // The org's body carries the caller's role and is served from the edge: what the authority holds is what it says.
    await expectWarm(orgPath, demoted);
    expect(await roleIn(await api(orgPath, { auth: demoted }))).toBe('admin');
    const create = (auth: Credential) => api(`/api/v1/orgs/${org.id}/projects`, { body: { name: 'New' }, auth });
    expect((await create(demoted)).status).toBe(201);
    expect((await api(`/api/v1/orgs/${org.id}/members/${removed.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect((await api(path, { auth: removed })).status).toBe(404);
    expect((await api(`/api/v1/orgs/${org.id}/members/${demoted.id}`, { method: 'PATCH', body: { role: 'viewer' }, auth: owner })).status).toBe(200);
    expect(await roleIn(await api(orgPath, { auth: demoted }))).toBe('viewer');
    // Warm again on the new grant: the edge itself now serves the viewer's body, and refuses the viewer's write.
    await expectWarm(orgPath, demoted);
    expect(await roleIn(await api(orgPath, { auth: demoted }))).toBe('viewer');
    let refused!: Response;
    expect(await roundTrips(async () => (refused = await create(demoted)))).toBe(0);
    expect(refused.status).toBe(403);
    expect((await api(path, { auth: demoted })).status).toBe(200);
  });

  it('a write whose authority cannot be told before it answers still revokes: the tell goes on in the background, logged', async () => {
    const { owner, org, path } = await warmProject();
    const removed = await memberOf(org);
    await expectWarm(path, removed);
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    // The org's authority, whose first two `changed` calls are lost (both tries before the response).
    let lost = 2;
    const flaky = {
      getByName(name: string) {
        const stub = env.ORG_AUTHORITY.getByName(name);
        return {
          admit: (...args: Parameters<typeof stub.admit>) => stub.admit(...args),
          fill: (...args: Parameters<typeof stub.fill>) => stub.fill(...args),
          refuse: (...args: Parameters<typeof stub.refuse>) => stub.refuse(...args),
          changed: (kind: 'grants' | 'data') => (lost-- > 0 ? Promise.reject(new Error('lost on the way')) : stub.changed(kind)),
        };
      },
    };
    const bindings = { ...env, ORG_AUTHORITY: flaky } as unknown as Env;
    const removal = await request(`/api/v1/orgs/${org.id}/members/${removed.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${owner.accessToken}` } }, { bindings });
    expect(removal.status).toBe(204);
    expect(lost).toBeLessThan(0); // told on the third try, after the response (request() waits for waitUntil work)
    expect(errors.mock.calls.some(([line]) => String(line).includes('not told of a committed write before its response'))).toBe(true);
    expect((await api(path, { auth: removed })).status).toBe(404);
  });

  it('leaving the org', async () => {
    const { org, path } = await warmProject();
    const member = await memberOf(org);
    await expectWarm(path, member);
    expect((await api(`/api/v1/orgs/${org.id}/leave`, { method: 'POST', auth: member })).status).toBe(204);
    expect((await api(path, { auth: member })).status).toBe(404);
  });

  it('a project role that narrows a member on one project', async () => {
    const { owner, org, project, path } = await warmProject();
    const member = await memberOf(org);
    const rename = () => api(path, { method: 'PATCH', body: { name: `Renamed ${crypto.randomUUID()}` }, auth: member });
    await expectWarm(path, member);
    expect((await rename()).status).toBe(200);
    const put = await api(`/api/v1/orgs/${org.id}/projects/${project.id}/members/${member.id}`, { method: 'PUT', body: { role: 'viewer' }, auth: owner });
    expect(put.status).toBe(200);
    expect((await rename()).status).toBe(403);
    // A 403 alone does not show the edge knows: a stale authority would admit the rename and the gate in the
    // handler's batch would still refuse it. Project roles change no body (every project role reads), so what
    // the edge shows is its own refusal: warm the member's new grant with a read, then the rename is refused
    // with no Postgres at all, which only an authority holding the project role can do.
    await expectWarm(path, member);
    let refused!: Response;
    expect(await roundTrips(async () => (refused = await rename()))).toBe(0);
    expect(refused.status).toBe(403);
  });

  it('revoking and rotating an API key', async () => {
    const { owner, org, path } = await warmProject();
    const revoked = await createApiKey(org, { scopes: ['projects:read'] });
    const rotated = await createApiKey(org, { scopes: ['projects:read'] });
    await expectWarm(path, { apiKey: revoked.key });
    await expectWarm(path, { apiKey: rotated.key });
    expect((await api(`/api/v1/orgs/${org.id}/api-keys/${revoked.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect((await api(path, { auth: { apiKey: revoked.key } })).status).toBe(401);
    const rotation = await api(`/api/v1/orgs/${org.id}/api-keys/${rotated.id}/rotate`, { method: 'POST', body: { gracePeriodSeconds: 0 }, auth: owner });
    expect(rotation.status).toBe(200);
    expect((await api(path, { auth: { apiKey: rotated.key } })).status).toBe(401);
    const { key } = (await json<{ data: { key: string } }>(rotation)).data;
    expect((await api(path, { auth: { apiKey: key } })).status).toBe(200);
  });

  it('deleting the org', async () => {
    const { owner, org, path } = await warmProject();
    const member = await memberOf(org);
    await expectWarm(path, member);
    expect((await api(`/api/v1/orgs/${org.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect((await api(path, { auth: member })).status).toBe(404);
  });

  it('a grant read before a change is never kept after it: a fill carrying the old epoch is decided once, not remembered', async () => {
    const { owner, org } = await warmProject();
    const authority = orgAuthorityFor(env, org.id);
    const request = { subject: { type: 'user' as const, userId: owner.id, sessionId: owner.sessionId }, permission: 'org:read' as const, routeClass: 'read' as const };
    const cold = await authority.admit(request);
    if (cold.status !== 'unknown') throw new Error(`expected a cold authority, got ${cold.status}`);
    await authority.changed('grants'); // a revocation commits while the gate's answer is on its way
    const grant = { type: 'user' as const, tier: 'free' as const, overrides: {}, validUntil: null, role: 'owner' as const, projectRoles: {} };
    expect((await authority.fill(cold.grantEpoch, request, grant)).status).toBe('admitted');
    expect((await authority.admit(request)).status).toBe('unknown');
  });

  it('deleting a project', async () => {
    const { owner, path } = await warmProject();
    await expectWarm(path, owner);
    expect((await api(path, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect((await api(path, { auth: owner })).status).toBe(404);
  });
});

describe('the authority decides as the gate does', () => {
  it('roleAdmits agrees with app_enter for every org role × project role × permission, on the org and on a project', { timeout: 90_000 }, async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const cases: Array<{ user: TestUser; role: (typeof ORG_ROLES)[number]; projectRole: ProjectRole | undefined }> = [];
    for (const role of ORG_ROLES) {
      for (const projectRole of [undefined, ...PROJECT_ROLES]) {
        const user = await createMember(org, role);
        if (projectRole) await setProjectRole(project, user, projectRole);
        cases.push({ user, role, projectRole });
      }
    }
    const db = testDb();
    const disagreements: string[] = [];
    for (const { user, role, projectRole } of cases) {
      const actor = JSON.stringify({ type: 'user', id: user.id, sessionId: user.sessionId, requestId: 'agreement', ip: null, userAgent: null });
      // One member's checks at once: each is a round trip of its own, and 640 in a row take a while.
      const checks = PERMISSIONS.flatMap((permission) => [false, true].map((onProject) => ({ permission, onProject })));
      await Promise.all(
        checks.map(async ({ permission, onProject }) => {
          const gate = sql`select app_enter(${org.id}::uuid, ${actor}::jsonb, ${sql.param(orgRolesFor(permission))}::text[], ${onProject ? project.id : null}::uuid, ${sql.param(projectRolesFor(permission))}::text[])`;
          const gateAdmits = await db.http.execute(gate).then(
            () => true,
            (error: unknown) => {
              expect(sqlState(error)).toBe('AP403');
              return false;
            },
          );
          const edgeAdmits = roleAdmits(role, onProject ? projectRole : undefined, permission);
          if (gateAdmits !== edgeAdmits) disagreements.push(`${role}/${projectRole ?? '-'} ${permission} ${onProject ? 'on the project' : 'on the org'}: gate ${gateAdmits}, edge ${edgeAdmits}`);
        }),
      );
    }
    expect(cases).toHaveLength(16);
    expect(disagreements).toEqual([]);
  });

  it('one org, however its id is spelled: an upper-case path reaches the same authority, and a revocation through either spelling holds', async () => {
    const { owner, org, project } = await warmProject();
    const member = await memberOf(org);
    const upper = `/api/v1/orgs/${org.id.toUpperCase()}/projects/${project.id.toUpperCase()}`;
    await expectWarm(upper, member);
    expect((await api(`/api/v1/orgs/${org.id.toUpperCase()}/members/${member.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect((await api(upper, { auth: member })).status).toBe(404);
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: member })).status).toBe(404);
  });
});

describe('reads at the edge', () => {
  it('read-your-writes: a write is visible to the next read, and the ETag moves with it', async () => {
    const { owner, path } = await warmProject();
    await expectWarm(path, owner);
    const before = await api(path, { auth: owner });
    const etag = before.headers.get('etag');
    expect(etag).toMatch(/^"[^"]+"$/); // strong
    expect((await api(path, { auth: owner, headers: { 'if-none-match': etag ?? '' } })).status).toBe(304);
    expect((await api(path, { method: 'PATCH', body: { name: 'After the write' }, auth: owner })).status).toBe(200);
    const after = await api(path, { auth: owner, headers: { 'if-none-match': etag ?? '' } });
    expect(after.status).toBe(200);
    expect(after.headers.get('x-cache')).toBe('MISS');
    expect((await json<{ data: { name: string } }>(after)).data.name).toBe('After the write');
    expect(after.headers.get('cache-control')).toContain('no-store');
  });

  it('a failing KV is a cache miss, never a failed read', async () => {
    const { owner, path } = await warmProject();
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    // An R2 bucket in KV's place: every KV call the cache makes throws.
    const brokenKv = { ...env, CACHE: env.FILES } as unknown as Env;
    const read = () => request(path, { headers: { authorization: `Bearer ${owner.accessToken}` } }, { bindings: brokenKv });
    expect((await read()).status).toBe(200);
    expect((await api(path, { method: 'PATCH', body: { name: 'Moved on' }, auth: owner })).status).toBe(200);
    const after = await read();
    expect(after.status).toBe(200);
    expect((await json<{ data: { name: string } }>(after)).data.name).toBe('Moved on');
  });

  it('keeps bodies per role: the org read says each caller\'s own role', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const viewer = await createMember(org, 'viewer');
    const path = `/api/v1/orgs/${org.id}`;
    await expectWarm(path, owner);
    await expectWarm(path, viewer);
    expect((await json<{ data: { role: string } }>(await api(path, { auth: owner }))).data.role).toBe('owner');
    expect((await json<{ data: { role: string } }>(await api(path, { auth: viewer }))).data.role).toBe('viewer');
  });

  it('stale-if-error: with Postgres unreachable, a warm caller still gets the last body, marked stale; writes get 503 with Retry-After', async () => {
    const { owner, path } = await warmProject();
    await expectWarm(path, owner);
    const renamed = await api(path, { method: 'PATCH', body: { name: 'Not yet read back' }, auth: owner });
    expect(renamed.status).toBe(200);
    const dead = await deadDatabase();
    const stale = await callAs(dead, owner, path);
    expect(stale.status).toBe(200);
    expect(stale.headers.get('x-cache')).toBe('STALE');
    expect((await json<{ data: { name: string } }>(stale)).data.name).not.toBe('Not yet read back');
    const write = await callAs(dead, owner, path, { method: 'PATCH', body: { name: 'x' } });
    expect(write.status).toBe(503);
    expect(Number(write.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Once read back, the fresh body is served even with the database down.
    expect((await api(path, { auth: owner })).status).toBe(200);
    const fresh = await callAs(dead, owner, path);
    expect(fresh.headers.get('x-cache')).toBe('HIT');
    expect((await json<{ data: { name: string } }>(fresh)).data.name).toBe('Not yet read back');
  });
});

describe('rate limits at the edge', () => {
  async function limitedOrg(read: number) {
    const owner = await createUser();
    const org = await createOrg(owner);
    await ownerDb.http.update(organizations).set({ limitOverrides: { rateLimits: { read: read } } }).where(eq(organizations.id, org.id));
    await grantsChanged(org.id);
    return { owner, org };
  }

  it('N = 10 × L truly concurrent requests admit exactly L, cold or warm, across callers of one org', async () => {
    for (let trial = 0; trial < 10; trial++) {
      const limit = 3;
      const { owner, org } = await limitedOrg(limit);
      const member = await createMember(org, 'member');
      const callers = [owner, member];
      const responses = await Promise.all(Array.from({ length: 10 * limit }, (_, i) => api(`/api/v1/orgs/${org.id}`, { auth: callers[i % 2] })));
      const statuses = responses.map((response) => response.status);
      expect(statuses.filter((status) => status === 200)).toHaveLength(limit);
      expect(statuses.filter((status) => status === 429)).toHaveLength(9 * limit);
    }
  });

  it('an authority evicted mid-window keeps counting: RateLimit remaining carries on, and a limit of L still admits exactly L', async () => {
    const limit = 5;
    const { owner, org } = await limitedOrg(limit);
    const read = () => api(`/api/v1/orgs/${org.id}`, { auth: owner });
    const remaining = (response: Response) => response.headers.get('ratelimit')?.match(/;r=(\d+);/)?.[1];
    const before = [await read(), await read()];
    expect(before.map((response) => [response.status, remaining(response)])).toEqual([[200, '4'], [200, '3']]);
    const authority = orgAuthorityFor(env, org.id);
    await evictDurableObject(authority);
    // A new instance: the grants (memory only) are gone, so the gate runs again; the log (storage) is not.
    let first!: Response;
    expect(await roundTrips(async () => (first = await read()))).toBeGreaterThan(0);
    const after = [first, await read(), await read(), await read()];
    expect(after.map((response) => [response.status, remaining(response)])).toEqual([[200, '2'], [200, '1'], [200, '0'], [429, '0']]);
  });

  it('a platform admin\'s change of an org\'s limits applies from the next request, with no redeploy (an isolate that saw the org spent elsewhere: within a window)', async () => {
    const { owner, org } = await limitedOrg(1);
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(200);
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(429);
    const admin = await createPlatformAdmin();
    const raised = await api(`/api/v1/admin/orgs/${org.id}`, { method: 'PATCH', body: { limitOverrides: { rateLimits: { read: 10 } } }, auth: admin });
    expect(raised.status).toBe(200);
    const next = await api(`/api/v1/orgs/${org.id}`, { auth: owner });
    expect(next.status).toBe(200);
    expect(next.headers.get('ratelimit-policy')).toBe('"read";q=10;w=60');
  });

  it('a 429 carries the envelope, the policy, Retry-After and the RateLimit fields; an admitted request its RateLimit fields', async () => {
    const { owner, org } = await limitedOrg(1);
    const ok = await api(`/api/v1/orgs/${org.id}`, { auth: owner });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('ratelimit-policy')).toBe('"read";q=1;w=60');
    expect(ok.headers.get('ratelimit')).toMatch(/^"read";r=0;t=\d+$/);
    const refused = await api(`/api/v1/orgs/${org.id}`, { auth: owner });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('ratelimit-policy')).toBe('"read";q=1;w=60');
    const body = await json<{ error: { code: string; details: unknown } }>(refused);
    expect(body.error.code).toBe('RATE_LIMITED');
    expect(body.error.details).toEqual({ policy: { name: 'read', scope: 'org', limit: 1, windowSeconds: 60 }, retryAfterSeconds: expect.any(Number) });
    // Writes have their own class and budget.
    expect((await api(`/api/v1/orgs/${org.id}/projects`, { body: { name: 'Still allowed' }, auth: owner })).status).toBe(201);
  });

  it('a stranger\'s requests never spend the org\'s budget', async () => {
    const { owner, org } = await limitedOrg(2);
    const stranger = await createUser();
    for (let i = 0; i < 5; i++) expect((await api(`/api/v1/orgs/${org.id}`, { auth: stranger })).status).toBe(404);
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(200);
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(200);
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(429);
    // And a spent org tells a stranger nothing of its traffic: still the 404 of an org they cannot see.
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: stranger })).status).toBe(404);
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: await createUser() })).status).toBe(404);
  });

  it('a caller cycling through grants the authority does not hold is stopped by its cold-admission budget; warm requests go on', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    await expectWarm(`/api/v1/orgs/${org.id}`, owner);
    // Spend the rest of the session's budget (its one cold admission above counted) as that many made-up org
    // ids would, straight on its limiter object.
    const rule = { key: 'cold-admissions', limit: COLD_ADMISSIONS_PER_MINUTE, windowMs: 60_000 };
    const spent = await rateLimiterFor(env, `caller:session:${owner.sessionId}`).limit([rule], COLD_ADMISSIONS_PER_MINUTE - 1);
    expect(spent).toMatchObject({ allowed: true, remaining: 0 });
    const cold = await api(`/api/v1/orgs/${crypto.randomUUID()}`, { auth: owner });
    expect(cold.status).toBe(429);
    expect(await json<{ error: { code: string; details: { policy: { name: string } } } }>(cold)).toMatchObject({ error: { code: 'RATE_LIMITED', details: { policy: { name: 'cold-admissions' } } } });
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(200);
  });

  it('one caller cannot spend a large org\'s whole budget: its own limit refuses it, other callers go on, and what it was refused spent nothing of the org\'s', async () => {
    // The org's own figure one above each caller's (a platform admin's overrides; by default ORG_CALLER_RATE_LIMITS).
    const own = 5;
    const owner = await createUser();
    const org = await createOrg(owner);
    await ownerDb.http.update(organizations).set({ limitOverrides: { rateLimits: { read: own + 1 }, callerRateLimits: { read: own } } }).where(eq(organizations.id, org.id));
    await grantsChanged(org.id);
    const member = await createMember(org, 'member');
    const path = `/api/v1/orgs/${org.id}`;
    const statuses = await Promise.all(Array.from({ length: 4 * own }, async () => (await api(path, { auth: owner })).status));
    expect(statuses.filter((status) => status === 200)).toHaveLength(own);
    const refused = await api(path, { auth: owner });
    expect(refused.status).toBe(429);
    expect((await json<{ error: { details: { policy: { name: string; limit: number } } } }>(refused)).error.details.policy).toEqual({ name: 'read', scope: 'caller', limit: own, windowSeconds: 60 });
    // The org has one request left: the owner's refusals did not take it, and this isolate does not hold the
    // owner's refusal against the org.
    expect((await api(path, { auth: member })).status).toBe(200);
    const orgSpent = await api(path, { auth: member });
    expect(orgSpent.status).toBe(429);
    expect((await json<{ error: { details: { policy: { limit: number } } } }>(orgSpent)).error.details.policy).toEqual({ name: 'read', scope: 'org', limit: own + 1, windowSeconds: 60 });
  });

  it('a platform admin\'s raise of the callers\' figure applies from the next request, in the isolate that held the refusal too', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    await ownerDb.http.update(organizations).set({ limitOverrides: { callerRateLimits: { read: 1 } } }).where(eq(organizations.id, org.id));
    await grantsChanged(org.id);
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(200);
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(429);
    const admin = await createPlatformAdmin();
    const raised = await api(`/api/v1/admin/orgs/${org.id}`, { method: 'PATCH', body: { limitOverrides: { callerRateLimits: { read: 10 } } }, auth: admin });
    expect(raised.status).toBe(200);
    const next = await api(`/api/v1/orgs/${org.id}`, { auth: owner });
    expect(next.status).toBe(200);
    expect(next.headers.get('ratelimit-policy')).toBe('"read";q=10;w=60');
  });

  it('by default each caller may send ORG_CALLER_RATE_LIMITS a minute, also on an org whose own figures are higher', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    await ownerDb.http.update(organizations).set({ limitOverrides: { rateLimits: { read: MAX_RATE_LIMIT } } }).where(eq(organizations.id, org.id));
    await grantsChanged(org.id);
    const response = await api(`/api/v1/orgs/${org.id}`, { auth: owner });
    expect(response.status).toBe(200);
    expect(response.headers.get('ratelimit-policy')).toBe(`"read";q=${ORG_CALLER_RATE_LIMITS.read};w=60`);
    expect(response.headers.get('ratelimit')).toMatch(new RegExp(`^"read";r=${ORG_CALLER_RATE_LIMITS.read - 1};t=\\d+$`));
  });

  it('a caller\'s own limit is counted only where it can refuse (below the org\'s): one log entry per request, not two', async () => {
    const { owner, org } = await limitedOrg(ORG_CALLER_RATE_LIMITS.read);
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(200);
    const keys = await runInDurableObject(orgAuthorityFor(env, org.id), (_, state) => state.storage.sql.exec<{ key: string }>('SELECT DISTINCT key FROM sliding_log').toArray().map((row) => row.key));
    expect(keys).toEqual(['org:read']);
  });

  it('an alarm sweeps the log: entries that left their window (a caller gone quiet) are deleted, live ones kept', async () => {
    const { owner, org } = await limitedOrg(ORG_CALLER_RATE_LIMITS.read + 1);
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(200);
    const stub = orgAuthorityFor(env, org.id);
    const rows = (key: string) => runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM sliding_log WHERE key = ?', key).one().n);
    expect(await runInDurableObject(stub, (_, state) => state.storage.getAlarm())).toEqual(expect.any(Number));
    await runInDurableObject(stub, (_, state) => state.storage.sql.exec("INSERT INTO sliding_log (key, until) VALUES ('caller:user:gone:read', ?)", Date.now() - 1));
    expect(await rows('caller:user:gone:read')).toBe(1);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await rows('caller:user:gone:read')).toBe(0);
    expect(await rows('org:read')).toBe(1);
    expect(await rows(`caller:user:${owner.id}:read`)).toBe(1);
    // What is left is swept when it leaves its window.
    expect(await runInDurableObject(stub, (_, state) => state.storage.getAlarm())).toEqual(expect.any(Number));
  });

  it('fails open to the Postgres gate when the authority cannot be reached, and logs it', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const broken = { ...env, ORG_AUTHORITY: env.CACHE } as unknown as Env;
    const response = await request(`/api/v1/orgs/${org.id}`, { headers: { authorization: `Bearer ${owner.accessToken}` } }, { bindings: broken });
    expect(response.status).toBe(200);
    expect(response.headers.get('ratelimit')).toBeNull();
    expect(errors.mock.calls.some(([line]) => String(line).includes('edge authority unreachable'))).toBe(true);
    const stranger = await createUser();
    const refused = await request(`/api/v1/orgs/${org.id}`, { headers: { authorization: `Bearer ${stranger.accessToken}` } }, { bindings: broken });
    expect(refused.status).toBe(404);
  });
});

async function resetToken(email: string): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const response = await api(`/api/dev/outbox?to=${encodeURIComponent(email)}`);
    const { data } = await json<{ data: Array<{ subject: string; data: { token?: string } }> }>(response);
    const reset = data.find((message) => message.subject === 'Reset your password');
    if (reset?.data.token) return reset.data.token;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('no reset email');
}
