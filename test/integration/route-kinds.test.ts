import { z } from '@hono/zod-openapi';
import { eq, sql } from 'drizzle-orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/app.ts';
import { platformAdmins, sessions } from '../../src/db/schema/index.ts';
import { jsonContent } from '../../src/lib/envelope.ts';
import { orgRoute, platformRoute, publicRoute, streamRoute, userRoute } from '../../src/routes/route-kinds.ts';
import { api, createApiKey, createMember, createOrg, createUser, ownerDb, type Credential } from '../helpers/factories.ts';
import { roundTrips } from '../helpers/round-trips.ts';
import { env, request } from '../helpers/worker.ts';

/**
 * Route kinds decide what a handler may touch, and the gated kinds fail closed: a handler that never
 * queries (as a WebSocket connect or a signed URL will not) still cannot answer a caller the gate refuses.
 */
const ok = { 200: jsonContent(z.object({ data: z.object({ ok: z.literal(true) }) }), 'The handler ran.') };
const orgNoop = orgRoute('projects:read', { method: 'get', path: '/api/v1/orgs/{orgId}/test/noop', request: { params: z.object({ orgId: z.uuid() }) }, responses: ok });
const userNoop = userRoute({ method: 'get', path: '/api/v1/test/me/noop', responses: ok });
const publicNoop = publicRoute({ method: 'get', path: '/api/v1/test/public/noop', responses: ok });
const platformNoop = platformRoute({ method: 'get', path: '/api/v1/test/platform/noop', responses: ok });
/** A handler that swallows its batch's failure (here, the gate's refusal) and answers 200 anyway. */
const orgSwallow = orgRoute('projects:read', { method: 'get', path: '/api/v1/orgs/{orgId}/test/swallow', request: { params: z.object({ orgId: z.uuid() }) }, responses: ok });

/** Stream kinds act outside Postgres: this one records in KV that its handler ran, and how many bytes it read. */
const uploadProbe = streamRoute('upload', 'projects:write', { method: 'post', path: '/api/v1/orgs/{orgId}/test/upload', request: { params: z.object({ orgId: z.uuid() }) }, responses: ok });
const socketProbe = streamRoute('socket', 'projects:read', { method: 'get', path: '/api/v1/orgs/{orgId}/test/socket', request: { params: z.object({ orgId: z.uuid() }) }, responses: ok });
const ranKey = (orgId: string, kind: string) => `test:stream-kind-ran:${kind}:${orgId}`;

function appWithNoopRoutes() {
  const app = createApp();
  app.openapi(orgNoop, (c) => c.json({ data: { ok: true as const } }, 200));
  app.openapi(userNoop, (c) => c.json({ data: { ok: true as const } }, 200));
  app.openapi(publicNoop, (c) => c.json({ data: { ok: true as const } }, 200));
  app.openapi(platformNoop, (c) => c.json({ data: { ok: true as const } }, 200));
  app.openapi(uploadProbe, async (c) => {
    await c.env.CACHE.put(ranKey(c.req.valid('param').orgId, 'upload'), String((await c.req.arrayBuffer()).byteLength));
    return c.json({ data: { ok: true as const } }, 200);
  });
  app.openapi(socketProbe, async (c) => {
    await c.env.CACHE.put(ranKey(c.req.valid('param').orgId, 'socket'), 'ran');
    return c.json({ data: { ok: true as const } }, 200);
  });
  app.openapi(orgSwallow, async (c) => {
    await c.var.tenant.batch((db) => [db.execute(sql`select 1`)]).catch(() => undefined);
    return c.json({ data: { ok: true as const } }, 200);
  });
  return app;
}

const get = (path: string, auth?: Credential, bindings: Env = env) => {
  const headers: Record<string, string> = {};
  if (auth && 'accessToken' in auth) headers.authorization = `Bearer ${auth.accessToken}`;
  if (auth && 'apiKey' in auth) headers['x-api-key'] = auth.apiKey;
  return request(path, { headers }, { app: appWithNoopRoutes(), bindings });
};

/**
 * Org routes are admitted at the edge before their handler runs; when the org's authority cannot be reached,
 * the Postgres gate alone decides, inside the handler's batch: the case the fail-closed backstop is for.
 */
const withoutAuthority = { ...env, ORG_AUTHORITY: env.CACHE } as unknown as Env;

afterEach(() => vi.restoreAllMocks());

describe('gated route kinds fail closed', () => {
  it('an org route that queries nothing still runs the gate: members pass, everyone else gets the gate’s answer', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const viewer = await createMember(org, 'viewer');
    const stranger = await createUser();
    const otherOrgKey = await createApiKey(await createOrg(stranger), { scopes: ['projects:read'] });
    const path = `/api/v1/orgs/${org.id}/test/noop`;

    vi.spyOn(console, 'error').mockImplementation(() => {});
    // the gate alone, run after the handler, before the response leaves
    expect(await roundTrips(async () => expect((await get(path, viewer, withoutAuthority)).status).toBe(200))).toBe(1);

    expect((await get(path, stranger, withoutAuthority)).status).toBe(404);
    expect((await get(path, undefined, withoutAuthority)).status).toBe(401);
    expect((await get(path, { apiKey: otherOrgKey.key }, withoutAuthority)).status).toBe(404);
    await ownerDb.http.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.id, viewer.sessionId));
    const loggedOut = await get(path, viewer, withoutAuthority);
    expect(loggedOut.status).toBe(401);
    expect(await loggedOut.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
  });

  it('a handler that swallows the gate’s refusal still cannot answer the refused caller', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const stranger = await createUser();
    const path = `/api/v1/orgs/${org.id}/test/swallow`;
    vi.spyOn(console, 'error').mockImplementation(() => {});
    // admitted by the handler's own batch: no second gate
    expect(await roundTrips(async () => expect((await get(path, owner, withoutAuthority)).status).toBe(200))).toBe(1);
    const refused = await get(path, stranger, withoutAuthority);
    expect(refused.status).toBe(404);
    expect(await refused.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('stream kinds (socket, upload) run the gate before the handler: a refused caller causes no effect at all', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const viewer = await createMember(org, 'viewer');
    const stranger = await createUser();
    const upload = (auth: Credential) =>
      request(`/api/v1/orgs/${org.id}/test/upload`, { method: 'POST', body: 'raw bytes, not JSON', headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${auth && 'accessToken' in auth ? auth.accessToken : ''}` } }, { app: appWithNoopRoutes() });

    expect((await get(`/api/v1/orgs/${org.id}/test/socket`, stranger)).status).toBe(404);
    expect((await upload(stranger)).status).toBe(404);
    expect((await upload(viewer)).status).toBe(403);
    expect(await env.CACHE.get(ranKey(org.id, 'socket'))).toBeNull();
    expect(await env.CACHE.get(ranKey(org.id, 'upload'))).toBeNull();

    expect((await get(`/api/v1/orgs/${org.id}/test/socket`, viewer)).status).toBe(200);
    expect(await env.CACHE.get(ranKey(org.id, 'socket'))).toBe('ran');
    // An upload takes any content type (no 415): its handler streams the body itself.
    expect((await upload(owner)).status).toBe(200);
    expect(await env.CACHE.get(ranKey(org.id, 'upload'))).toBe(String('raw bytes, not JSON'.length));
  });

  it('a user route that queries nothing refuses a logged-out session: the gate runs after it, unless the user\'s authority holds the session live', async () => {
    const revoked = await createUser();
    await ownerDb.http.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.id, revoked.sessionId));
    expect((await get('/api/v1/test/me/noop', revoked)).status).toBe(401);
    // Held live once the gate has admitted it; a logout through the app drops it before it answers.
    const user = await createUser();
    expect((await get('/api/v1/test/me/noop', user)).status).toBe(200);
    expect(await roundTrips(async () => expect((await get('/api/v1/test/me/noop', user)).status).toBe(200))).toBe(0);
    expect((await api('/api/v1/auth/logout', { method: 'POST', auth: user })).status).toBe(204);
    expect((await get('/api/v1/test/me/noop', user)).status).toBe(401);
  });

  it('a platform-admin route admits only platform admins with a live session; it does not exist for anyone else', async () => {
    const admin = await createUser();
    await ownerDb.http.insert(platformAdmins).values({ userId: admin.id });
    const owner = await createUser();
    const key = await createApiKey(await createOrg(owner), { scopes: ['org:read'] });
    const path = '/api/v1/test/platform/noop';

    expect((await get(path, admin)).status).toBe(200);
    const notAdmin = await get(path, owner);
    expect(notAdmin.status).toBe(404);
    expect(await notAdmin.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect((await get(path)).status).toBe(401);
    expect((await get(path, { apiKey: key.key })).status).toBe(403);
    await ownerDb.http.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.id, admin.sessionId));
    expect((await get(path, admin)).status).toBe(401);
  });

  it('a public route makes no round trip of its own', async () => {
    expect(await roundTrips(async () => expect((await get('/api/v1/test/public/noop')).status).toBe(200))).toBe(0);
  });

  it('publishes each route’s kind in the OpenAPI document', () => {
    const document = appWithNoopRoutes().getOpenAPI31Document({ openapi: '3.1.0', info: { title: 'kinds', version: '1' } });
    const kind = (path: string) => (document.paths?.[path]?.get as Record<string, unknown> | undefined)?.['x-route-kind'];
    const post = (path: string) => (document.paths?.[path]?.post as Record<string, unknown> | undefined)?.['x-route-kind'];
    expect([kind('/api/v1/orgs/{orgId}/test/noop'), kind('/api/v1/test/me/noop'), kind('/api/v1/test/public/noop')]).toEqual(['org', 'user', 'public']);
    expect([kind('/api/v1/orgs/{orgId}/test/socket'), post('/api/v1/orgs/{orgId}/test/upload'), kind('/api/v1/test/platform/noop')]).toEqual(['socket', 'upload', 'platform-admin']);
  });
});

describe('credentials', () => {
  it('X-API-Key takes only API keys; two different credentials are a 400; the same key twice is fine', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const key = await createApiKey(org, { scopes: ['projects:read'] });
    const path = `/api/v1/orgs/${org.id}/test/noop`;
    const app = appWithNoopRoutes();
    const call = (headers: Record<string, string>) => request(path, { headers }, { app });

    const tokenAsKey = await call({ 'x-api-key': owner.accessToken });
    expect(tokenAsKey.status).toBe(401);
    const both = await call({ authorization: `Bearer ${owner.accessToken}`, 'x-api-key': key.key });
    expect(both.status).toBe(400);
    expect(await both.json()).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    expect((await call({ authorization: `Bearer ${owner.accessToken}`, 'x-api-key': 'sk_test_bogus' })).status).toBe(400);
    expect((await call({ authorization: `Bearer ${key.key}`, 'x-api-key': key.key })).status).toBe(200);
    expect((await call({ 'x-api-key': key.key })).status).toBe(200);
    expect((await call({ authorization: `Basic ${btoa('a:b')}` })).status).toBe(401);
  });
});

describe('response policy', () => {
  it('no-store by default, always on authenticated responses and errors; a CSP on JSON', async () => {
    const user = await createUser();
    const authenticated = await get('/api/v1/test/me/noop', user);
    expect(authenticated.headers.get('cache-control')).toBe('no-store');
    expect(authenticated.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");

    for (const error of [await get('/api/v1/test/me/noop'), await get('/api/v1/nowhere'), await get(`/api/v1/orgs/not-a-uuid/test/noop`, user)]) {
      expect(error.status).toBeGreaterThanOrEqual(400);
      expect(error.headers.get('cache-control')).toBe('no-store');
      expect(error.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    }
    // Public responses too, unless the route chose a policy for public, shareable data (the JWKS).
    expect((await get('/api/v1/test/public/noop')).headers.get('cache-control')).toBe('no-store');
    expect((await get('/.well-known/jwks.json')).headers.get('cache-control')).toBe('public, max-age=300');
  });
});
