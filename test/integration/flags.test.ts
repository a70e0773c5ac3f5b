import { z } from '@hono/zod-openapi';
import { asc, eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { featureFlags, platformAdmins, platformAuditLog } from '../../src/db/schema/index.ts';
import { jsonContent } from '../../src/lib/envelope.ts';
import { flagEnabled } from '../../src/middleware/flags.ts';
import { orgRoute } from '../../src/routes/route-kinds.ts';
import { FLAGS_KV_KEY, flagSnapshotSchema } from '../../src/services/flags-edge.ts';
import { api, createApiKey, createOrg, createUser, json, ownerDb, type Credential, type TestUser } from '../helpers/factories.ts';
import { postgresCalls } from '../helpers/round-trips.ts';
import { env, request } from '../helpers/worker.ts';

type Flag = { key: string; enabled: boolean; version: number; rules: Record<string, unknown>; value: unknown; variants: unknown; updatedBy: string | null };
type Evaluation = { key: string; enabled: boolean; value: unknown; variant?: string; reason: string; errorCode?: string };

const newKey = () => `t-${crypto.randomUUID().slice(0, 13)}`;
let admin: TestUser;

beforeAll(async () => {
  admin = await createUser();
  await ownerDb.http.insert(platformAdmins).values({ userId: admin.id });
});
const createFlag = async (body: Record<string, unknown>, auth: Credential = admin) => api('/api/v1/admin/flags', { body, auth });
const patchFlag = (key: string, body: Record<string, unknown>, auth: Credential = admin) => api(`/api/v1/admin/flags/${key}`, { method: 'PATCH', body, auth });
const edgeCopy = async () => flagSnapshotSchema.parse(await env.FLAGS.get(FLAGS_KV_KEY, 'json'));
const auditEntries = (key: string) => ownerDb.http.select().from(platformAuditLog).where(eq(platformAuditLog.targetId, key)).orderBy(asc(platformAuditLog.id));
/** The SQL the Worker sent to Postgres while `work` ran (an interactive transaction's connection counts as `websocket`). */
const queriesDuring = postgresCalls;
/** Evaluation reads no flag from Postgres: every query is the grant check (the gate) or the key's last-use touch. */
const grantChecksOnly = (queries: string[]) => queries.filter((query) => !/app_enter_user\(|app_enter\(|api_key_touch\(/.test(query) || /feature_flags/.test(query));

const evaluations = async (auth: Credential) => {
  const response = await api('/api/v1/flags', { auth });
  expect(response.status).toBe(200);
  return new Map((await json<{ data: Evaluation[] }>(response)).data.map((evaluation) => [evaluation.key, evaluation]));
};

describe('admin CRUD', () => {
  it('creates, reads, lists, changes (version + 1) and deletes a flag', async () => {
    const key = newKey();
    const created = await createFlag({ key, description: 'A test flag.', enabled: true, rules: { percentage: 12.5 }, value: 'blue' });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/api/v1/admin/flags/${key}`);
    expect((await json<{ data: Flag }>(created)).data).toMatchObject({ key, enabled: true, version: 1, rules: { percentage: 12.5 }, value: 'blue', variants: null, updatedBy: admin.id });

    expect((await json<{ data: Flag }>(await api(`/api/v1/admin/flags/${key}`, { auth: admin }))).data).toMatchObject({ key, description: 'A test flag.' });
    expect((await json<{ data: Flag[] }>(await api('/api/v1/admin/flags', { auth: admin }))).data.map((flag) => flag.key)).toContain(key);

    const variants = [{ key: 'a', weight: 50, value: 1 }, { key: 'b', weight: 50, value: 2 }];
    const changed = await patchFlag(key, { enabled: false, variants });
    expect(changed.status).toBe(200);
    // Variants replace the value.
    expect((await json<{ data: Flag }>(changed)).data).toMatchObject({ enabled: false, version: 2, value: null, variants, rules: { percentage: 12.5 } });

    // A change that changes nothing writes nothing.
    const same = await patchFlag(key, { enabled: false, rules: { percentage: 12.5 } });
    expect((await json<{ data: Flag }>(same)).data.version).toBe(2);

    expect((await api(`/api/v1/admin/flags/${key}`, { method: 'DELETE', auth: admin })).status).toBe(204);
    expect((await api(`/api/v1/admin/flags/${key}`, { auth: admin })).status).toBe(404);
    expect(await ownerDb.http.select().from(featureFlags).where(eq(featureFlags.key, key))).toEqual([]);
  });

  it('every change writes one platform audit entry, in the same transaction; a no-op and a refused change write none', async () => {
    const key = newKey();
    await createFlag({ key, enabled: false });
    await patchFlag(key, { enabled: true, rules: { userIds: [admin.id] } });
    await patchFlag(key, { enabled: true });
    expect((await createFlag({ key })).status).toBe(409);
    await api(`/api/v1/admin/flags/${key}`, { method: 'DELETE', auth: admin });
    expect((await patchFlag(key, { enabled: false })).status).toBe(404);

    const entries = await auditEntries(key);
    expect(entries.map((entry) => entry.action)).toEqual(['flag.created', 'flag.updated', 'flag.deleted']);
    for (const entry of entries) expect(entry).toMatchObject({ actorId: admin.id, targetType: 'flag', requestId: expect.any(String) });
    expect(entries[1]?.changes).toEqual({ enabled: { from: false, to: true }, rules: { from: {}, to: { userIds: [admin.id] } } });
    expect(entries[2]?.changes).toMatchObject({ enabled: true, version: 2 });
  });

  it('refuses bad input with 400 and the envelope, unknown keys with 404, a taken key with 409', async () => {
    const key = newKey();
    expect((await createFlag({ key })).status).toBe(201);
    const duplicate = await createFlag({ key });
    expect(duplicate.status).toBe(409);
    expect(await duplicate.json()).toMatchObject({ error: { code: 'CONFLICT' } });

    for (const body of [
      { key: 'Upper-Case' },
      { key: '-leading-dash' },
      { key: 'x'.repeat(65) },
      { key: newKey(), colour: 'blue' },
      { key: newKey(), rules: { percentage: 12.345 } },
      { key: newKey(), rules: { percentage: 101 } },
      { key: newKey(), rules: { tiers: ['gold'] } },
      { key: newKey(), rules: { environments: ['prod'] } },
      { key: newKey(), rules: { userIds: ['nobody'] } },
      { key: newKey(), value: { color: 'blue' } },
      { key: newKey(), variants: null },
      { key: newKey(), value: true, variants: [{ key: 'a', weight: 50 }, { key: 'b', weight: 50 }] },
      { key: newKey(), variants: [{ key: 'a', weight: 60 }, { key: 'b', weight: 50 }] },
    ]) {
      const response = await createFlag(body);
      expect({ body, status: response.status }).toEqual({ body, status: 400 });
      expect(await response.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    }
    expect((await patchFlag(key, { enabled: 'yes' })).status).toBe(400);
    expect((await patchFlag(key, { version: 9 })).status).toBe(400);

    const missing = newKey();
    expect((await api(`/api/v1/admin/flags/${missing}`, { auth: admin })).status).toBe(404);
    expect((await patchFlag(missing, { enabled: true })).status).toBe(404);
    expect((await api(`/api/v1/admin/flags/${missing}`, { method: 'DELETE', auth: admin })).status).toBe(404);
    expect((await api('/api/v1/admin/flags/Not_A_Key', { auth: admin })).status).toBe(400);
    expect(await auditEntries(missing)).toEqual([]);
  });

  it('does not exist for tenants: an org owner gets 404 on every admin route and changes nothing; API keys 403; no credentials 401', async () => {
    const key = newKey();
    await createFlag({ key, enabled: false });
    const owner = await createUser();
    const org = await createOrg(owner, { tier: 'enterprise' });
    const apiKey = await createApiKey(org, { scopes: ['org:read', 'org:update', 'org:delete'] });
    const attempts = (auth: Credential) => [
      api('/api/v1/admin/flags', { auth }),
      api(`/api/v1/admin/flags/${key}`, { auth }),
      api('/api/v1/admin/flags', { body: { key: newKey() }, auth }),
      api(`/api/v1/admin/flags/${key}`, { method: 'PATCH', body: { enabled: true }, auth }),
      api(`/api/v1/admin/flags/${key}`, { method: 'DELETE', auth }),
    ];
    for (const [auth, status] of [[owner, 404], [{ apiKey: apiKey.key }, 403], [undefined, 401]] as const) {
      for (const response of await Promise.all(attempts(auth))) {
        expect(response.status).toBe(status);
        expect(JSON.stringify(await response.json())).not.toContain(key);
      }
    }
    const [flag] = await ownerDb.http.select().from(featureFlags).where(eq(featureFlags.key, key));
    expect(flag).toMatchObject({ enabled: false, version: 1 });
    expect((await auditEntries(key)).map((entry) => entry.action)).toEqual(['flag.created']);
  });
});

describe('the edge copy', () => {
  it('is written to KV by every change before the change answers', async () => {
    const key = newKey();
    await createFlag({ key, enabled: true, rules: { percentage: 5 } });
    const afterCreate = await edgeCopy();
    expect(afterCreate.flags.find((flag) => flag.key === key)).toEqual({ key, enabled: true, rules: { percentage: 5 }, value: null, variants: null, version: 1 });

    await patchFlag(key, { rules: { percentage: 50 } });
    const afterPatch = await edgeCopy();
    expect(afterPatch.flags.find((flag) => flag.key === key)).toMatchObject({ version: 2, rules: { percentage: 50 } });
    expect(afterPatch.version).not.toBe(afterCreate.version);

    await api(`/api/v1/admin/flags/${key}`, { method: 'DELETE', auth: admin });
    expect((await edgeCopy()).flags.map((flag) => flag.key)).not.toContain(key);
  });
});

describe('GET /api/v1/flags', () => {
  it('evaluates every flag for a user from the edge copy: Postgres only checks the session', async () => {
    const [listed, off, everyone] = [newKey(), newKey(), newKey()];
    const user = await createUser();
    await createFlag({ key: listed, enabled: true, rules: { userIds: [user.id] }, value: 'hello' });
    await createFlag({ key: off, enabled: false });
    await createFlag({ key: everyone, enabled: true, variants: [{ key: 'a', weight: 50 }, { key: 'b', weight: 50 }] });

    let mine = new Map<string, Evaluation>();
    const queries = await queriesDuring(async () => (mine = await evaluations(user)));
    expect(grantChecksOnly(queries)).toEqual([]);
    expect(queries.length).toBeLessThanOrEqual(1);
    expect(mine.get(listed)).toEqual({ key: listed, enabled: true, value: 'hello', reason: 'TARGETING_MATCH' });
    expect(mine.get(off)).toEqual({ key: off, enabled: false, value: null, reason: 'DISABLED' });
    expect(mine.get(everyone)).toMatchObject({ enabled: true, reason: 'STATIC', variant: expect.stringMatching(/^[ab]$/) });
    // Sticky: asked again, the same answers.
    expect(await evaluations(user)).toEqual(mine);
    expect((await evaluations(admin)).get(listed)).toMatchObject({ enabled: false, reason: 'DEFAULT' });
  });

  it('evaluates an API key as its org (org targeting); Postgres only checks the key', async () => {
    const key = newKey();
    const owner = await createUser();
    const org = await createOrg(owner);
    const apiKey = { apiKey: (await createApiKey(org, { scopes: ['projects:read'] })).key };
    await createFlag({ key, enabled: true, rules: { orgIds: [org.id] } });

    await evaluations(apiKey); // the key's lookup is cached after its first use
    const queries = await queriesDuring(async () => expect((await evaluations(apiKey)).get(key)).toMatchObject({ enabled: true, reason: 'TARGETING_MATCH' }));
    expect(grantChecksOnly(queries)).toEqual([]);
    expect((await evaluations(owner)).get(key)).toMatchObject({ enabled: false, reason: 'DEFAULT' });
  });

  it('needs live credentials: none, a logged-out session and a revoked key get 401; no query parameters', async () => {
    expect((await api('/api/v1/flags')).status).toBe(401);
    const user = await createUser();
    expect((await api('/api/v1/flags', { auth: user })).status).toBe(200);
    expect((await api('/api/v1/auth/logout', { method: 'POST', auth: user })).status).toBe(204);
    const loggedOut = await api('/api/v1/flags', { auth: user });
    expect(loggedOut.status).toBe(401);
    expect(await loggedOut.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    const owner = await createUser();
    const org = await createOrg(owner);
    const { id, key } = await createApiKey(org, { scopes: ['projects:read'] });
    expect((await api('/api/v1/flags', { auth: { apiKey: key } })).status).toBe(200);
    expect((await api(`/api/v1/orgs/${org.id}/api-keys/${id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect((await api('/api/v1/flags', { auth: { apiKey: key } })).status).toBe(401);
    expect((await api('/api/v1/flags?orgId=x', { auth: admin })).status).toBe(400);
  });
});

describe('route code on an org route', () => {
  const tieredKey = newKey();
  const tiered = orgRoute('org:read', {
    method: 'get',
    path: '/api/v1/orgs/{orgId}/test/tiered',
    request: { params: z.object({ orgId: z.uuid() }) },
    responses: { 200: jsonContent(z.object({ data: z.object({ on: z.boolean() }) }), 'Whether the flag is on.') },
  });
  const app = createApp();
  app.openapi(tiered, async (c) => c.json({ data: { on: await flagEnabled(c, tieredKey) } }, 200));

  it('targets tiers with no more said: the org\'s tier comes from its edge authority', async () => {
    expect((await createFlag({ key: tieredKey, enabled: true, rules: { tiers: ['enterprise'] } })).status).toBe(201);
    const ask = async (user: TestUser, orgId: string) =>
      (await json<{ data: { on: boolean } }>(await request(`/api/v1/orgs/${orgId}/test/tiered`, { headers: { authorization: `Bearer ${user.accessToken}` } }, { app }))).data.on;
    const small = await createUser();
    const large = await createUser();
    expect(await ask(small, (await createOrg(small)).id)).toBe(false);
    expect(await ask(large, (await createOrg(large, { tier: 'enterprise' })).id)).toBe(true);
  });
});

describe('a route kind that requires a flag', () => {
  const ok = { 200: jsonContent(z.object({ data: z.object({ ok: z.literal(true) }) }), 'The handler ran.') };
  const flagKey = newKey();
  const flagged = orgRoute('projects:read', { method: 'get', path: '/api/v1/orgs/{orgId}/test/flagged', 'x-flag': flagKey, request: { params: z.object({ orgId: z.uuid() }) }, responses: ok });
  const app = createApp();
  app.openapi(flagged, (c) => c.json({ data: { ok: true as const } }, 200));

  it('answers 404 while the flag is off for the caller (no round trip), 200 once it is on; x-flag is published', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const call = () => request(`/api/v1/orgs/${org.id}/test/flagged`, { headers: { authorization: `Bearer ${owner.accessToken}` } }, { app });

    let missing!: Response;
    expect(await queriesDuring(async () => (missing = await call()))).toEqual([]);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });

    await createFlag({ key: flagKey, enabled: false, rules: { orgIds: [org.id] } });
    expect((await call()).status).toBe(404);
    await patchFlag(flagKey, { enabled: true });
    expect((await call()).status).toBe(200);
    // Targeted at another org: off for this one again.
    await patchFlag(flagKey, { rules: { orgIds: [crypto.randomUUID()] } });
    expect((await call()).status).toBe(404);

    const document = app.getOpenAPI31Document({ openapi: '3.1.0', info: { title: 'flags', version: '1' } });
    expect((document.paths?.['/api/v1/orgs/{orgId}/test/flagged']?.get as Record<string, unknown>)['x-flag']).toBe(flagKey);
  });

  it('targets tiers: the org\'s tier comes from its authority, so on for an enterprise org\'s member, 404 for a free org\'s and for a stranger', async () => {
    const tieredKey = newKey();
    const tiered = orgRoute('projects:read', { method: 'get', path: '/api/v1/orgs/{orgId}/test/tier-flagged', 'x-flag': tieredKey, request: { params: z.object({ orgId: z.uuid() }) }, responses: ok });
    const tieredApp = createApp();
    tieredApp.openapi(tiered, (c) => c.json({ data: { ok: true as const } }, 200));
    const call = (user: TestUser, orgId: string) => request(`/api/v1/orgs/${orgId}/test/tier-flagged`, { headers: { authorization: `Bearer ${user.accessToken}` } }, { app: tieredApp });
    const small = await createUser();
    const smallOrg = await createOrg(small);
    const large = await createUser();
    const largeOrg = await createOrg(large, { tier: 'enterprise' });

    // Off whatever the tier: refused before the gate, even for a cold grant.
    expect((await createFlag({ key: tieredKey, enabled: false, rules: { tiers: ['enterprise'] } })).status).toBe(201);
    let off!: Response;
    expect(await queriesDuring(async () => (off = await call(large, largeOrg.id)))).toEqual([]);
    expect(off.status).toBe(404);

    await patchFlag(tieredKey, { enabled: true });
    expect((await call(large, largeOrg.id)).status).toBe(200);
    expect((await call(small, smallOrg.id)).status).toBe(404);
    expect((await call(small, largeOrg.id)).status).toBe(404); // not a member: the gate's 404, as before
    // Warm, the authority gives the tier: no Postgres either way.
    let answers: number[] = [];
    expect(await queriesDuring(async () => (answers = [(await call(large, largeOrg.id)).status, (await call(small, smallOrg.id)).status]))).toEqual([]);
    expect(answers).toEqual([200, 404]);
  });

  it('refuses a route declared with something that is not a flag key', () => {
    expect(() => orgRoute('projects:read', { method: 'get', path: '/x', 'x-flag': 'Not A Key', responses: ok })).toThrow(/not a flag key/);
  });
});
