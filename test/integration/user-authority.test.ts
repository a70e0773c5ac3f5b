import { runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { userAuthorityFor } from '../../durable-objects/user-authority/index.ts';
import { CALLER_RATE_LIMITS, RATE_WINDOW_SECONDS } from '../../src/lib/limits.ts';
import { SlidingLog } from '../../src/lib/sliding-log.ts';
import { api, createApiKey, createOrg, createPlatformAdmin, createUser, json, TEST_PASSWORD, type TestUser } from '../helpers/factories.ts';
import { roundTrips } from '../helpers/round-trips.ts';
import { callAs, deadDatabase } from '../helpers/database-faults.ts';
import { env, request, testDb } from '../helpers/worker.ts';

// The user's edge authority (durable-objects/user-authority) decides whether a session is live on the user's own
// routes, and counts the user's limit there. Revocation through it is held to "immediate" beside the org's
// authority in edge-authority.test.ts; these tests hold the rest: no Postgres when warm, a raced fill never kept,
// one limit across the kinds, and failing open.

afterEach(() => {
  vi.restoreAllMocks();
  // The driver's endpoint is isolate-wide: point it back at the real proxy after a dead-database test.
  testDb();
});

const FLAGS = '/api/v1/flags';
const READ_LIMIT = CALLER_RATE_LIMITS.user.read ?? 0;

describe('the user routes at the edge', () => {
  it('the flags evaluated for a signed-in user cost no Postgres round trip once the session is warm; the cold request one', async () => {
    const user = await createUser();
    expect(await roundTrips(async () => expect((await api(FLAGS, { auth: user })).status).toBe(200))).toBe(1);
    expect(await roundTrips(async () => expect((await api(FLAGS, { auth: user })).status).toBe(200))).toBe(0);
  });

  it('the same with an API key: its org\'s authority admits it, as on the org\'s own routes', async () => {
    const org = await createOrg(await createUser());
    const { key } = await createApiKey(org, { scopes: ['projects:read'] });
    expect((await api(FLAGS, { auth: { apiKey: key } })).status).toBe(200);
    expect(await roundTrips(async () => expect((await api(FLAGS, { auth: { apiKey: key } })).status).toBe(200))).toBe(0);
  });

  it('a user route that reads Postgres still sends its gate with the work: one round trip, warm or cold', async () => {
    const user = await createUser();
    expect(await roundTrips(async () => expect((await api('/api/v1/me', { auth: user })).status).toBe(200))).toBe(1);
    expect(await roundTrips(async () => expect((await api('/api/v1/me', { auth: user })).status).toBe(200))).toBe(1);
  });

  it('ending every session at once (keeping the current one) acts on the very next request', async () => {
    const user = await createUser();
    const login = await api('/api/v1/auth/login', { body: { email: user.email, password: TEST_PASSWORD } });
    const { accessToken } = (await json<{ data: { tokens: { accessToken: string } } }>(login)).data.tokens;
    for (const auth of [user, { token: accessToken }]) {
      expect((await api(FLAGS, { auth })).status).toBe(200);
      expect(await roundTrips(async () => expect((await api(FLAGS, { auth })).status).toBe(200))).toBe(0);
    }
    expect((await api('/api/v1/me/sessions?keepCurrent=true', { method: 'DELETE', auth: { token: accessToken } })).status).toBe(204);
    expect((await api(FLAGS, { auth: user })).status).toBe(401);
    expect((await api(FLAGS, { auth: { token: accessToken } })).status).toBe(200);
  });

  it('only a read hands its session to the authority: a write may have ended it', async () => {
    const user = await createUser();
    expect((await api(`/api/v1/users/${user.id}`, { method: 'PATCH', body: { name: 'Renamed' }, auth: user })).status).toBe(200);
    expect(await roundTrips(async () => expect((await api(FLAGS, { auth: user })).status).toBe(200))).toBe(1);
    expect(await roundTrips(async () => expect((await api(FLAGS, { auth: user })).status).toBe(200))).toBe(0);
  });

  it('a user write that fails after it may have committed (a lost reply) still tells the authorities: the session goes cold', async () => {
    const user = await createUser();
    expect((await api(FLAGS, { auth: user })).status).toBe(200);
    expect(await roundTrips(async () => expect((await api(FLAGS, { auth: user })).status).toBe(200))).toBe(0);
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect((await callAs(await deadDatabase(), user, '/api/v1/auth/logout', { method: 'POST' })).status).toBe(503);
    expect(errors.mock.calls.some(([line]) => String(line).includes('authorities not told of a failed user write'))).toBe(true);
    testDb();
    // The logout never committed (the database was down), so the session is live, but no longer held at the edge.
    expect(await roundTrips(async () => expect((await api(FLAGS, { auth: user })).status).toBe(200))).toBe(1);
  });

  it('a session confirmed before a change is never kept after it: a fill carrying the old epoch is dropped', async () => {
    const authority = userAuthorityFor(env, crypto.randomUUID());
    const sessionId = crypto.randomUUID();
    const { sessionEpoch, live } = await authority.admit({ sessionId, routeClass: 'read' });
    expect(live).toBe(false);
    await authority.changed(); // a logout committed while the gate's answer was on its way
    await authority.fill(sessionEpoch, sessionId, null);
    expect((await authority.admit({ sessionId, routeClass: 'read' })).live).toBe(false);
    const fresh = await authority.admit({ sessionId, routeClass: 'read' });
    await authority.fill(fresh.sessionEpoch, sessionId, null);
    expect((await authority.admit({ sessionId, routeClass: 'read' })).live).toBe(true);
  });

  it('a session is held only until it ends', async () => {
    const authority = userAuthorityFor(env, crypto.randomUUID());
    const sessionId = crypto.randomUUID();
    const { sessionEpoch } = await authority.admit({ sessionId, routeClass: 'read' });
    await authority.fill(sessionEpoch, sessionId, Date.now() + 60_000);
    expect((await authority.admit({ sessionId, routeClass: 'read' })).live).toBe(true);
    // One that has ended by the time it is asked about (no race with a short sleep under load).
    const ended = crypto.randomUUID();
    await authority.fill((await authority.admit({ sessionId: ended, routeClass: 'read' })).sessionEpoch, ended, Date.now() - 1);
    expect((await authority.admit({ sessionId: ended, routeClass: 'read' })).live).toBe(false);
    expect((await authority.admit({ sessionId, routeClass: 'read' })).live).toBe(true);
  });

  it('holds a bounded number of sessions: past 1,000, all are let go and asked again', async () => {
    const authority = userAuthorityFor(env, crypto.randomUUID());
    const { sessionEpoch } = await authority.admit({ sessionId: 'first', routeClass: 'read' });
    const sessions = ['first', ...Array.from({ length: 999 }, (_, index) => `s${index}`)];
    await Promise.all(sessions.map((sessionId) => authority.fill(sessionEpoch, sessionId, null)));
    expect((await authority.admit({ sessionId: 'first', routeClass: 'read' })).live).toBe(true);
    await authority.fill(sessionEpoch, 'one more', null);
    expect((await authority.admit({ sessionId: 'first', routeClass: 'read' })).live).toBe(false);
    expect((await authority.admit({ sessionId: 'one more', routeClass: 'read' })).live).toBe(true);
  });

  // Learned from the gate alone (GET /flags reads nothing else) or from the gate sent with the route's work (GET /me).
  it.each([FLAGS, '/api/v1/me'])('a session the gate refused on %s is refused at once after, uncounted and without Postgres: a revoked token cannot spend its user\'s budget', async (learnedOn) => {
    const user = await createUser();
    const login = await api('/api/v1/auth/login', { body: { email: user.email, password: TEST_PASSWORD } });
    const stolen = { token: (await json<{ data: { tokens: { accessToken: string } } }>(login)).data.tokens.accessToken };
    expect((await api(learnedOn, { auth: stolen })).status).toBe(200);
    // The user ends every other session, the stolen one among them; its token stays valid for minutes.
    expect((await api('/api/v1/me/sessions?keepCurrent=true', { method: 'DELETE', auth: user })).status).toBe(204);
    // The first refusal comes from the gate in Postgres; once the authority has heard of it, none reaches Postgres.
    let fromPostgres = 0;
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const trips = await roundTrips(async () => expect((await api(learnedOn, { auth: stolen })).status).toBe(401));
      if (trips === 0) break;
      fromPostgres += 1;
    }
    expect(fromPostgres).toBeGreaterThanOrEqual(1);
    expect(fromPostgres).toBeLessThan(20);
    const remaining = async () => Number(/;r=(\d+);/.exec((await api(FLAGS, { auth: user })).headers.get('ratelimit') ?? '')?.[1]);
    const before = await remaining();
    for (const path of [FLAGS, '/api/v1/me', '/api/v1/admin/flags']) {
      const refused = await api(path, { auth: stolen });
      expect(refused.status, path).toBe(401);
      expect((await json<{ error: { code: string } }>(refused)).error.code).toBe('UNAUTHORIZED');
    }
    for (let i = 0; i < 10; i += 1) expect((await api(FLAGS, { auth: stolen })).status).toBe(401);
    // Only the user's own request between the two was counted.
    expect(await remaining()).toBe(before - 1);
  });

  it('remembers a bounded number of refused sessions: past 1,000, all are forgotten and asked again', async () => {
    const authority = userAuthorityFor(env, crypto.randomUUID());
    await authority.refuse('first');
    expect(await authority.admit({ sessionId: 'first', routeClass: 'read' })).toMatchObject({ live: false, refused: true });
    expect((await authority.admit({ sessionId: 'first', routeClass: 'read' })).decision).toBeUndefined();
    await Promise.all(Array.from({ length: 999 }, (_, index) => authority.refuse(`s${index}`)));
    expect((await authority.admit({ sessionId: 'first', routeClass: 'read' })).refused).toBe(true);
    await authority.refuse('one more');
    const forgotten = await authority.admit({ sessionId: 'first', routeClass: 'read' });
    expect(forgotten.refused).toBeUndefined();
    expect(forgotten.decision?.allowed).toBe(true);
    expect((await authority.admit({ sessionId: 'one more', routeClass: 'read' })).refused).toBe(true);
  });

  it('one limit per user and class across the user, caller and platform kinds: spent, each answers 429; another class goes on', async () => {
    const admin = await createPlatformAdmin();
    // The user's read and admin budgets, spent before their first request (the object loads its log from storage).
    await runInDurableObject(userAuthorityFor(env, admin.id), (_, state) => {
      const log = new SlidingLog(state.storage.sql);
      for (const [key, limit] of Object.entries({ read: READ_LIMIT, admin: CALLER_RATE_LIMITS.user.admin ?? 0 })) {
        log.consume([{ key, limit, windowMs: RATE_WINDOW_SECONDS * 1000 }], Date.now(), limit);
      }
    });
    // A caller route, a user route (both `read`) and a platform route (`admin`).
    for (const [path, policy] of [[FLAGS, 'read'], ['/api/v1/me', 'read'], ['/api/v1/admin/flags', 'admin']] as const) {
      const response = await api(path, { auth: admin });
      expect(response.status, path).toBe(429);
      const { error } = await json<{ error: { code: string; details: { policy: { name: string; limit: number } } } }>(response);
      expect(error).toMatchObject({ code: 'RATE_LIMITED', details: { policy: { name: policy, limit: CALLER_RATE_LIMITS.user[policy] } } });
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    const write = await api('/api/v1/me/sessions?keepCurrent=true', { method: 'DELETE', auth: admin });
    expect(write.status).toBe(204);
    expect(write.headers.get('ratelimit-policy')).toBe(`"write";q=${CALLER_RATE_LIMITS.user.write};w=${RATE_WINDOW_SECONDS}`);
  });

  it('an admitted request carries its RateLimit fields, counted per user across sessions', async () => {
    const user = await createUser();
    const first = await api(FLAGS, { auth: user });
    const login = await api('/api/v1/auth/login', { body: { email: user.email, password: TEST_PASSWORD } });
    const { accessToken } = (await json<{ data: { tokens: { accessToken: string } } }>(login)).data.tokens;
    const second = await api(FLAGS, { auth: { token: accessToken } });
    expect(first.headers.get('ratelimit')).toMatch(new RegExp(`^"read";r=${READ_LIMIT - 1};t=\\d+$`));
    expect(second.headers.get('ratelimit')).toMatch(new RegExp(`^"read";r=${READ_LIMIT - 2};t=\\d+$`));
  });

  it('fails open to the Postgres gate when the authority cannot be reached, and logs it; a dead session is still refused', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const broken = { ...env, USER_AUTHORITY: env.CACHE } as unknown as Env;
    const user = await createUser();
    const response = await request(FLAGS, { headers: { authorization: `Bearer ${user.accessToken}` } }, { bindings: broken });
    expect(response.status).toBe(200);
    expect(response.headers.get('ratelimit')).toBeNull();
    expect(errors.mock.calls.some(([line]) => String(line).includes('user authority unreachable'))).toBe(true);
    await logOut(user);
    const refused = await request(FLAGS, { headers: { authorization: `Bearer ${user.accessToken}` } }, { bindings: broken });
    expect(refused.status).toBe(401);
  });
});

async function logOut(user: TestUser): Promise<void> {
  expect((await api('/api/v1/auth/logout', { method: 'POST', auth: user })).status).toBe(204);
}
