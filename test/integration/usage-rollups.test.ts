import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { usageDaily, userActivitySummary } from '../../src/db/schema/index.ts';
import { recordUsageEvents, refreshUsageDay, type UsageEvent } from '../../src/services/usage.ts';
import { api, createOrg, createPlatformAdmin, createUser, json, ownerDb, type TestOrg } from '../helpers/factories.ts';
import { testDb } from '../helpers/worker.ts';

const db = testDb();
const LONG_AGO = new Date('2000-01-01T00:00:00Z');

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Postgres's percentile_cont: linear interpolation between the sorted values around p × (n − 1). */
function percentile(values: number[], p: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const position = p * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return (sorted[lower] ?? 0) + ((sorted[upper] ?? 0) - (sorted[lower] ?? 0)) * (position - lower);
}

const CLASSES = ['read', 'write', 'upload', 'admin'] as const;
const STATUSES = [200, 201, 204, 304, 400, 403, 404, 429, 500, 503];

/** Events of `org` spread over `day` (UTC), plus some just outside it. */
function generate(org: TestOrg, day: string, users: string[], next: () => number, count: number): UsageEvent[] {
  const start = Date.parse(`${day}T00:00:00Z`);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T;
  return Array.from({ length: count }, (_, i) => {
    // The first and last events sit on the day's edges; two fall just outside it.
    const offset = i === 0 ? 0 : i === 1 ? 86_399_999 : i === 2 ? -1 : i === 3 ? 86_400_000 : Math.floor(next() * 86_400_000);
    const who = next() < 0.2 ? { apiKeyId: crypto.randomUUID() } : { userId: pick(users) };
    const at = new Date(start + offset).toISOString();
    if (next() < 0.3) return { id: crypto.randomUUID(), orgId: org.id, at, source: 'product', name: pick(['a', 'b', 'c']), ...who };
    return { id: crypto.randomUUID(), orgId: org.id, at, source: 'api', name: 'GET /x', routeClass: pick(CLASSES), status: pick(STATUSES), latencyMs: Math.floor(next() * 900), ...who };
  });
}

/** What the rollup of `day` must say, computed here from the events alone. */
function expectedDay(events: UsageEvent[], day: string) {
  const inDay = events.filter((event) => event.at.slice(0, 10) === day);
  const api = inDay.filter((event) => event.source === 'api');
  const byClass: Record<string, Record<string, number>> = {};
  for (const event of api) {
    const classCounts = (byClass[event.routeClass ?? ''] ??= {});
    const statusClass = `${Math.floor((event.status ?? 0) / 100)}xx`;
    classCounts[statusClass] = (classCounts[statusClass] ?? 0) + 1;
  }
  const latencies = api.map((event) => event.latencyMs ?? 0);
  return {
    requests: api.length,
    clientErrors: api.filter((event) => (event.status ?? 0) >= 400 && (event.status ?? 0) < 500).length,
    serverErrors: api.filter((event) => (event.status ?? 0) >= 500).length,
    requestsByClass: byClass,
    p50Ms: percentile(latencies, 0.5),
    p95Ms: percentile(latencies, 0.95),
    activeUsers: new Set(inDay.flatMap((event) => (event.userId ? [event.userId] : []))).size,
    productEvents: inDay.length - api.length,
  };
}

async function rollup(orgId: string, day: string) {
  const [row] = await ownerDb.http.select().from(usageDaily).where(sql`${usageDaily.orgId} = ${orgId}::uuid and ${usageDaily.day} = ${day}::date`);
  if (!row) return undefined;
  const { p50Ms, p95Ms, refreshedAt: _, orgId: __, day: ___, storageBytes: ____, ...rest } = row;
  return { ...rest, p50Ms, p95Ms };
}

function expectRollup(actual: Awaited<ReturnType<typeof rollup>>, expected: ReturnType<typeof expectedDay>) {
  const { p50Ms, p95Ms, ...rest } = expected;
  expect(actual).toMatchObject(rest);
  expect(actual?.p50Ms).toBeCloseTo(p50Ms ?? 0, 2);
  expect(actual?.p95Ms).toBeCloseTo(p95Ms ?? 0, 2);
}

async function summaryOf(orgId: string) {
  const rows = await ownerDb.http.select().from(userActivitySummary).where(eq(userActivitySummary.orgId, orgId));
  return Object.fromEntries(rows.map((row) => [row.userId, { totalActions: row.totalActions, activeDays: row.activeDays, first: row.firstActiveDay, last: row.lastActiveDay }]));
}

describe('usage rollups', () => {
  it('match what the generated events say, per org and day; a re-run changes nothing; a late event is counted by the next run', async () => {
    const next = random(12);
    const orgs = [await createOrg(await createUser()), await createOrg(await createUser())];
    const users = Array.from({ length: 6 }, () => crypto.randomUUID());
    const days = ['2021-03-15', '2021-03-16'];
    const all = orgs.flatMap((org, index) => days.flatMap((day) => generate(org, day, users.slice(index * 2, index * 2 + 4), next, 300)));
    await recordUsageEvents(db, all, LONG_AGO);
    for (const day of days) expect(await refreshUsageDay(db, day)).toBeGreaterThanOrEqual(2);

    for (const org of orgs) {
      const own = all.filter((event) => event.orgId === org.id);
      for (const day of days) expectRollup(await rollup(org.id, day), expectedDay(own, day));
      // user_activity_summary: every action of a user in the refreshed days, and on how many of them.
      const expected: Record<string, { totalActions: number; activeDays: number; first: string; last: string }> = {};
      for (const event of own.filter((e) => e.userId && days.includes(e.at.slice(0, 10)))) {
        const day = event.at.slice(0, 10);
        const entry = (expected[event.userId ?? ''] ??= { totalActions: 0, activeDays: 0, first: day, last: day });
        entry.totalActions++;
        entry.first = entry.first < day ? entry.first : day;
        entry.last = entry.last > day ? entry.last : day;
      }
      for (const [userId, entry] of Object.entries(expected)) {
        entry.activeDays = new Set(own.filter((e) => e.userId === userId && days.includes(e.at.slice(0, 10))).map((e) => e.at.slice(0, 10))).size;
      }
      expect(await summaryOf(org.id)).toEqual(expected);
    }

    // Idempotent: the same day again gives the same figures.
    const [org] = orgs as [TestOrg, TestOrg];
    const before = { day: await rollup(org.id, '2021-03-15'), summary: await summaryOf(org.id) };
    await refreshUsageDay(db, '2021-03-15');
    expect({ day: await rollup(org.id, '2021-03-15'), summary: await summaryOf(org.id) }).toEqual(before);

    // A late event (a queue retry) is counted by the next run of its day, which replaces the day.
    const late: UsageEvent = { id: crypto.randomUUID(), orgId: org.id, at: '2021-03-15T12:00:00.000Z', source: 'api', name: 'GET /x', routeClass: 'read', status: 500, latencyMs: 5000, userId: users[0] };
    await recordUsageEvents(db, [late], LONG_AGO);
    await refreshUsageDay(db, '2021-03-15');
    const own = [...all.filter((event) => event.orgId === org.id), late];
    expectRollup(await rollup(org.id, '2021-03-15'), expectedDay(own, '2021-03-15'));
    expect((await summaryOf(org.id))[users[0] ?? '']?.totalActions).toBe((before.summary[users[0] ?? '']?.totalActions ?? 0) + 1);
  });

  it('leaves a day whose partition is gone (past retention) as it was', async () => {
    expect(await refreshUsageDay(db, '1970-01-01')).toBe(-1);
  });
});

describe('GET /orgs/{orgId}/usage with a series', () => {
  type Usage = { data: { subscriptionTier: string; series?: { granularity: string; from: string; to: string; points: Array<Record<string, unknown>> } } };

  it('answers one point per day from the rollups (zeros where there are none); without parameters, no series', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const at = '2021-05-02T10:00:00.000Z';
    await recordUsageEvents(db, [
      { id: crypto.randomUUID(), orgId: org.id, at, source: 'api', name: 'GET /x', routeClass: 'read', status: 200, latencyMs: 10, userId: owner.id },
      { id: crypto.randomUUID(), orgId: org.id, at, source: 'api', name: 'GET /x', routeClass: 'write', status: 503, latencyMs: 30, userId: owner.id },
      { id: crypto.randomUUID(), orgId: org.id, at, source: 'product', name: 'p', userId: owner.id },
    ], LONG_AGO);
    await refreshUsageDay(db, '2021-05-02');
    const response = await api(`/api/v1/orgs/${org.id}/usage?from=2021-05-01&to=2021-05-03&granularity=day`, { auth: owner });
    expect(response.status).toBe(200);
    const { data } = await json<Usage>(response);
    expect(data.subscriptionTier).toBe('free');
    expect(data.series).toMatchObject({ granularity: 'day', from: '2021-05-01', to: '2021-05-03' });
    expect(data.series?.points).toEqual([
      { day: '2021-05-01', requests: 0, clientErrors: 0, serverErrors: 0, requestsByClass: {}, p50Ms: null, p95Ms: null, activeUsers: 0, productEvents: 0, storageBytes: null },
      { day: '2021-05-02', requests: 2, clientErrors: 0, serverErrors: 1, requestsByClass: { read: { '2xx': 1 }, write: { '5xx': 1 } }, p50Ms: 20, p95Ms: 29, activeUsers: 1, productEvents: 1, storageBytes: 0 },
      { day: '2021-05-03', requests: 0, clientErrors: 0, serverErrors: 0, requestsByClass: {}, p50Ms: null, p95Ms: null, activeUsers: 0, productEvents: 0, storageBytes: null },
    ]);
    // The default start (29 days before `to`) stops at year 1.
    const early = await json<Usage>(await api(`/api/v1/orgs/${org.id}/usage?to=0001-01-02`, { auth: owner }));
    expect(early.data.series).toMatchObject({ from: '0001-01-01', to: '0001-01-02' });
    const plain = await json<Usage>(await api(`/api/v1/orgs/${org.id}/usage`, { auth: owner }));
    expect(plain.data).not.toHaveProperty('series');
  });

  it.each([
    ['from after to', 'from=2021-05-03&to=2021-05-01'],
    ['more than 366 days', 'from=2020-01-01&to=2021-05-01'],
    ['a day that is not one', 'from=2021-02-30'],
    ['year 0000', 'from=0000-01-01&to=0000-01-02'],
    ['another granularity', 'granularity=hour'],
    ['an unknown parameter', 'bucket=day'],
  ])('refuses %s with 400', async (_, query) => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const response = await api(`/api/v1/orgs/${org.id}/usage?${query}`, { auth: owner });
    expect(response.status).toBe(400);
    expect((await json<{ error: { code: string } }>(response)).error.code).toBe('VALIDATION_FAILED');
  });

  it("never shows another org's rollups", async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const other = await createOrg(await createUser());
    await recordUsageEvents(db, [{ id: crypto.randomUUID(), orgId: other.id, at: '2021-06-01T00:00:00.000Z', source: 'product', name: 'p' }], LONG_AGO);
    await refreshUsageDay(db, '2021-06-01');
    expect((await api(`/api/v1/orgs/${other.id}/usage?from=2021-06-01&to=2021-06-01`, { auth: owner })).status).toBe(404);
    const own = await json<Usage>(await api(`/api/v1/orgs/${org.id}/usage?from=2021-06-01&to=2021-06-01`, { auth: owner }));
    expect(own.data.series?.points[0]).toMatchObject({ productEvents: 0 });
  });
});

describe('GET /admin/usage', () => {
  it('lists orgs by their usage over the range from the rollups, for platform admins only (404 for anyone else)', async () => {
    const admin = await createPlatformAdmin();
    const owner = await createUser();
    const busy = await createOrg(owner, { tier: 'pro' });
    const at = '2021-07-04T08:00:00.000Z';
    await recordUsageEvents(db, Array.from({ length: 5000 }, () => ({ id: crypto.randomUUID(), orgId: busy.id, at, source: 'api' as const, name: 'GET /x', routeClass: 'read' as const, status: 200, latencyMs: 1 })), LONG_AGO);
    await refreshUsageDay(db, '2021-07-04');
    const response = await api('/api/v1/admin/usage?from=2021-07-01&to=2021-07-31&limit=5', { auth: admin });
    expect(response.status).toBe(200);
    const { data } = await json<{ data: { from: string; to: string; orgs: Array<Record<string, unknown>> } }>(response);
    expect(data).toMatchObject({ from: '2021-07-01', to: '2021-07-31' });
    expect(data.orgs[0]).toEqual({
      orgId: busy.id, name: busy.name, slug: busy.slug, subscriptionTier: 'pro', requests: 5000, clientErrors: 0, serverErrors: 0, productEvents: 0,
      peakActiveUsers: 0, activeDays: 1, storageBytes: 0,
    });
    expect((await api('/api/v1/admin/usage', { auth: owner })).status).toBe(404);
  });
});
