import { sql } from 'drizzle-orm';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/app.ts';
import { USAGE_LIMITS } from '../../src/lib/limits.ts';
import { api, createApiKey, createMember, createOrg, createProject, createUser, json, ownerDb } from '../helpers/factories.ts';
import { createQueueHandler } from '../../workers/queue.ts';
import { job, JOBS_QUEUE, message, runBatch } from '../helpers/queue.ts';
import { roundTrips } from '../helpers/round-trips.ts';
import { tenantTableFacts } from '../helpers/tenant-tables.ts';
import { recordUsageEvents, usageBatchSchema } from '../../src/services/usage.ts';
import { UsageRecorder } from '../../src/services/usage-recorder.ts';
import { usageEventsOf, waitForUsageEvents } from '../helpers/usage.ts';
import { env, request, testDb } from '../helpers/worker.ts';

afterEach(() => vi.restoreAllMocks());

type ErrorBody = { error: { code: string; message: string; details?: unknown } };

const events = (orgId: string) => `/api/v1/orgs/${orgId}/events`;

describe('product events (POST /orgs/{orgId}/events)', () => {
  it('queues a batch (202) that lands in the raw events with the caller, name and properties', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const viewer = await createMember(org, 'viewer');
    const body = { events: [{ name: 'report.exported', properties: { format: 'csv', rows: 12, sampled: false, note: null } }, { name: 'page:view' }] };
    const response = await api(events(org.id), { auth: viewer, body });
    expect(response.status).toBe(202);
    expect(await json(response)).toEqual({ data: { accepted: 2 } });
    const stored = await waitForUsageEvents(org.id, (rows) => rows.filter((row) => row.source === 'product').length === 2);
    const product = stored.filter((row) => row.source === 'product').sort((a, b) => a.name.localeCompare(b.name));
    expect(product.map(({ name, user_id, api_key_id, properties }) => ({ name, user_id, api_key_id, properties }))).toEqual([
      { name: 'page:view', user_id: viewer.id, api_key_id: null, properties: null },
      { name: 'report.exported', user_id: viewer.id, api_key_id: null, properties: { format: 'csv', rows: 12, sampled: false, note: null } },
    ]);
  });

  it('takes events from an API key with the events:write scope, and refuses a key without it', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const key = await createApiKey(org, { scopes: ['events:write'] });
    const other = await createApiKey(org, { scopes: ['projects:read'] });
    expect((await api(events(org.id), { auth: { apiKey: key.key }, body: { events: [{ name: 'signup.completed' }] } })).status).toBe(202);
    const refused = await api(events(org.id), { auth: { apiKey: other.key }, body: { events: [{ name: 'x' }] } });
    expect(refused.status).toBe(403);
    const stored = await waitForUsageEvents(org.id, (rows) => rows.some((row) => row.source === 'product'));
    expect(stored.filter((row) => row.source === 'product')).toEqual([expect.objectContaining({ name: 'signup.completed', api_key_id: key.id, user_id: null })]);
  });

  it.each([
    ['no events', { events: [] }],
    ['too many events', { events: Array.from({ length: USAGE_LIMITS.eventsPerRequest + 1 }, () => ({ name: 'a' })) }],
    ['a name that is not one', { events: [{ name: '1st event' }] }],
    ['a name too long', { events: [{ name: `a${'b'.repeat(64)}` }] }],
    ['an unknown key in an event', { events: [{ name: 'a', at: '2026-01-01T00:00:00Z' }] }],
    ['an unknown key at the top', { events: [{ name: 'a' }], extra: true }],
    ['a nested property value', { events: [{ name: 'a', properties: { nested: { deep: 1 } } }] }],
    ['a property name that is not one', { events: [{ name: 'a', properties: { 'has space': 1 } }] }],
    ['too many properties', { events: [{ name: 'a', properties: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`p${i}`, i])) }] }],
    ['a property value too long', { events: [{ name: 'a', properties: { s: 'x'.repeat(USAGE_LIMITS.propertyValueChars + 1) } }] }],
    ['a NUL in a value (Postgres jsonb refuses it)', { events: [{ name: 'a', properties: { s: 'a\u0000b' } }] }],
    ['a lone surrogate in a value', { events: [{ name: 'a', properties: { s: '\ud800' } }] }],
  ])('refuses %s with 400 VALIDATION_FAILED, recording nothing', async (_, body) => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const response = await api(events(org.id), { auth: owner, body });
    expect(response.status).toBe(400);
    expect((await json<ErrorBody>(response)).error.code).toBe('VALIDATION_FAILED');
    // Its API usage event (a 400) lands; no product event came with it.
    const stored = await waitForUsageEvents(org.id, (rows) => rows.some((row) => row.source === 'api'));
    expect(stored.filter((row) => row.source === 'product')).toEqual([]);
    expect(stored.find((row) => row.source === 'api')).toMatchObject({ name: 'POST /api/v1/orgs/:orgId/events', route_class: 'write', status: 400 });
  });

  it('refuses events that take more than the queue batch as stored with 413 PAYLOAD_TOO_LARGE', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const properties = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`p${i}`, 'é'.repeat(USAGE_LIMITS.propertyValueChars)]));
    const response = await api(events(org.id), { auth: owner, body: { events: Array.from({ length: 100 }, () => ({ name: 'big', properties })) } });
    expect(response.status).toBe(413);
    expect((await json<ErrorBody>(response)).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it("is rate limited as a write of the org: past the org's limit, 429 RATE_LIMITED", async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    await ownerDb.http.execute(sql`update organizations set limit_overrides = '{"rateLimits":{"write":3}}'::jsonb where id = ${org.id}::uuid`);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await api(events(org.id), { auth: owner, body: { events: [{ name: 'tick' }] } })).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
    const limited = await api(events(org.id), { auth: owner, body: { events: [{ name: 'tick' }] } });
    expect((await json<ErrorBody>(limited)).error.code).toBe('RATE_LIMITED');
    const stored = await waitForUsageEvents(org.id, (rows) => rows.filter((row) => row.source === 'product').length >= 3);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await usageEventsOf(org.id)).filter((row) => row.source === 'product')).toHaveLength(3);
    expect(stored.length).toBeGreaterThanOrEqual(3);
  });

  it('refuses strangers (404) and records nothing for them', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const stranger = await createUser();
    expect((await api(events(org.id), { auth: stranger, body: { events: [{ name: 'intrusion' }] } })).status).toBe(404);
    expect((await api(events(org.id), { body: { events: [{ name: 'anonymous' }] } })).status).toBe(401);
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(200);
    const stored = await waitForUsageEvents(org.id, (rows) => rows.some((row) => row.user_id === owner.id));
    expect(stored.filter((row) => row.user_id !== owner.id)).toEqual([]);
    expect(stored.filter((row) => row.source === 'product')).toEqual([]);
  });

  it('honours Idempotency-Key: a retry replays the answer and queues nothing twice', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const send = () => api(events(org.id), { auth: owner, body: { events: [{ name: 'once' }] }, headers: { 'idempotency-key': `k-${crypto.randomUUID()}`.slice(0, 20) } });
    const key = `events-${crypto.randomUUID()}`;
    const first = await api(events(org.id), { auth: owner, body: { events: [{ name: 'once' }] }, headers: { 'idempotency-key': key } });
    const again = await api(events(org.id), { auth: owner, body: { events: [{ name: 'once' }] }, headers: { 'idempotency-key': key } });
    expect([first.status, again.status]).toEqual([202, 202]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await send()).status).toBe(202);
    await waitForUsageEvents(org.id, (rows) => rows.filter((row) => row.source === 'product').length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await usageEventsOf(org.id)).filter((row) => row.source === 'product')).toHaveLength(2);
  });
});

describe('the OpenAPI document of POST /orgs/{orgId}/events', () => {
  it('states the limits the server enforces: events per request, name pattern, property names, count and values', async () => {
    type Doc = { components: { schemas: Record<string, { properties: Record<string, Record<string, unknown>> }> } };
    const doc = await json<Doc>(await api('/api/openapi.json'));
    const batch = doc.components.schemas.ProductEventBatch?.properties.events;
    expect(batch).toMatchObject({ minItems: 1, maxItems: USAGE_LIMITS.eventsPerRequest });
    const event = doc.components.schemas.ProductEvent?.properties;
    expect(event?.name).toMatchObject({ type: 'string', pattern: '^[A-Za-z][\\w.:-]{0,63}$' });
    expect(event?.properties).toMatchObject({ type: 'object', maxProperties: USAGE_LIMITS.propertiesPerEvent, propertyNames: { pattern: '^[A-Za-z_][\\w.-]{0,39}$' } });
  });
});

describe('API usage recording (org routes)', () => {
  it('records each admitted request: route, class, status, latency, and the user or the API key', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const key = await createApiKey(org, { scopes: ['projects:read'] });
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: owner })).status).toBe(200);
    expect((await api(`/api/v1/orgs/${org.id}/usage?from=2031-13-01`, { auth: owner })).status).toBe(400);
    expect((await api(`/api/v1/orgs/${org.id}/projects`, { auth: { apiKey: key.key } })).status).toBe(200);
    const stored = await waitForUsageEvents(org.id, (rows) => rows.length >= 3);
    const byName = stored.map(({ source, name, route_class, status, user_id, api_key_id }) => ({ source, name, route_class, status, user_id, api_key_id }));
    expect(byName).toEqual(
      expect.arrayContaining([
        { source: 'api', name: 'GET /api/v1/orgs/:orgId/projects/:projectId', route_class: 'read', status: 200, user_id: owner.id, api_key_id: null },
        { source: 'api', name: 'GET /api/v1/orgs/:orgId/usage', route_class: 'read', status: 400, user_id: owner.id, api_key_id: null },
        { source: 'api', name: 'GET /api/v1/orgs/:orgId/projects', route_class: 'read', status: 200, user_id: null, api_key_id: key.id },
      ]),
    );
    expect(stored.every((row) => row.latency_ms !== null && row.latency_ms >= 0)).toBe(true);
  });

  it('costs the request no Postgres round trip: a warm read stays at 0, and its event still lands', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const project = await createProject(org);
    const path = `/api/v1/orgs/${org.id}/projects/${project.id}`;
    expect((await api(path, { auth: owner })).status).toBe(200);
    // The warm-up's event has been inserted by the queue job before counting starts.
    await waitForUsageEvents(org.id, (rows) => rows.length === 1);
    expect(await roundTrips(async () => expect((await api(path, { auth: owner })).headers.get('x-cache')).toBe('HIT'))).toBe(0);
    await waitForUsageEvents(org.id, (rows) => rows.length === 2);
  });

  it('records nothing with USAGE_RECORDING=off', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const off = { ...env, USAGE_RECORDING: 'off' } as Env;
    const auth = { authorization: `Bearer ${owner.accessToken}` };
    expect((await request(`/api/v1/orgs/${org.id}`, { headers: auth }, { bindings: off })).status).toBe(200);
    expect((await request(`/api/v1/orgs/${org.id}/usage`, { headers: auth })).status).toBe(200);
    const stored = await waitForUsageEvents(org.id, (rows) => rows.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await usageEventsOf(org.id)).map((row) => row.name)).toEqual(['GET /api/v1/orgs/:orgId/usage']);
    expect(stored).toHaveLength(1);
  });
});

/** The test queue binding, counting the `sendBatch` calls and the events they carry (every call still reaches the queue). */
function countedQueue() {
  const sends: number[] = [];
  const queue = {
    send: (body: unknown, options?: QueueSendOptions) => env.JOBS.send(body, options),
    sendBatch: (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
      const list = [...messages];
      sends.push(list.reduce((n, message) => n + (message.body as { payload: { events: unknown[] } }).payload.events.length, 0));
      return env.JOBS.sendBatch(list, options);
    },
  } as unknown as Queue;
  return { sends, bindings: { ...env, JOBS: queue } as Env };
}

describe('the usage buffer (one per app, sent in batches off the response path)', () => {
  it('sends the requests of a flush window in one sendBatch, not one per request, and they all land', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const { sends, bindings } = countedQueue();
    // A window long enough for five requests on a loaded machine (300 ms was not, once, in a full run).
    const app = createApp({ usage: new UsageRecorder({ flushMs: 3_000, bufferEvents: 500 }) });
    const ctx = createExecutionContext();
    const responses = await Promise.all(Array.from({ length: 5 }, () => app.request(`/api/v1/orgs/${org.id}`, { headers: { authorization: `Bearer ${owner.accessToken}` } }, bindings, ctx)));
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);
    expect(sends).toEqual([]);
    await waitOnExecutionContext(ctx);
    expect(sends).toEqual([5]);
    await waitForUsageEvents(org.id, (rows) => rows.length === 5);
  });

  it('never sends on the response path: a full buffer is sent after the response is handed over', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const { sends, bindings } = countedQueue();
    const usage = new UsageRecorder({ flushMs: 60_000, bufferEvents: 2 });
    const app = createApp({ usage });
    const read = async () => {
      const ctx = createExecutionContext();
      const response = await app.request(`/api/v1/orgs/${org.id}`, { headers: { authorization: `Bearer ${owner.accessToken}` } }, bindings, ctx);
      expect(response.status).toBe(200);
      return { ctx, sentWithResponse: sends.length };
    };
    const first = await read();
    const second = await read();
    // The second request filled the buffer: its response came back before anything was packed or sent.
    expect([first.sentWithResponse, second.sentWithResponse]).toEqual([0, 0]);
    expect(usage.pending).toBe(2);
    await waitOnExecutionContext(second.ctx);
    expect(sends).toEqual([2]);
    expect(usage.pending).toBe(0);
    await waitForUsageEvents(org.id, (rows) => rows.length === 2);
  });

  it('schedules a new timed flush when the pending one never ran (the request holding its timer ended first)', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    try {
      const usage = new UsageRecorder({ flushMs: 1_000, bufferEvents: 500 });
      const held: Array<Promise<unknown>> = [];
      const event = () => ({ id: crypto.randomUUID(), orgId: crypto.randomUUID(), at: new Date().toISOString(), source: 'api' as const, name: 'GET /x', routeClass: 'read' as const, status: 200, latencyMs: 1 });
      usage.record(env.JOBS, (promise) => held.push(promise), event());
      usage.record(env.JOBS, (promise) => held.push(promise), event());
      expect(held).toHaveLength(1);
      // Its timer never fires (its request's context is gone): well past its time, the next event starts another.
      vi.setSystemTime(Date.now() + 2_500);
      usage.record(env.JOBS, (promise) => held.push(promise), event());
      expect(held).toHaveLength(2);
      expect(usage.pending).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps a buffer per app: one app\'s events are not sent by another\'s flush', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const mine = new UsageRecorder({ flushMs: 60_000, bufferEvents: 500 });
    const other = new UsageRecorder({ flushMs: 60_000, bufferEvents: 500 });
    const ctx = createExecutionContext();
    expect((await createApp({ usage: mine }).request(`/api/v1/orgs/${org.id}`, { headers: { authorization: `Bearer ${owner.accessToken}` } }, env, ctx)).status).toBe(200);
    expect([mine.pending, other.pending]).toEqual([1, 0]);
    await other.flush(env.JOBS);
    expect(mine.pending).toBe(1);
    await mine.flush(env.JOBS);
    await waitForUsageEvents(org.id, (rows) => rows.length === 1);
  });
});

describe('the usage.record job', () => {
  it('inserts a batch in one round trip, and a redelivery inserts nothing twice', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const at = new Date().toISOString();
    const batch = Array.from({ length: 50 }, (_, i) => ({ id: crypto.randomUUID(), orgId: org.id, at, source: 'product', name: `e${i}`, userId: owner.id }));
    const body = job('usage.record', { events: batch });
    const handler = createQueueHandler();
    let result: Awaited<ReturnType<typeof runBatch>> | undefined;
    expect(await roundTrips(async () => (result = await runBatch(handler, env, JOBS_QUEUE, [message(body)])))).toBe(1);
    expect(result?.explicitAcks).toHaveLength(1);
    await runBatch(handler, env, JOBS_QUEUE, [message(body, 2)]);
    expect(await usageEventsOf(org.id)).toHaveLength(50);
  });

  it('skips events of an org that no longer exists instead of failing the batch', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const at = new Date().toISOString();
    const body = job('usage.record', {
      events: [
        { id: crypto.randomUUID(), orgId: crypto.randomUUID(), at, source: 'product', name: 'ghost' },
        { id: crypto.randomUUID(), orgId: org.id, at, source: 'product', name: 'real' },
      ],
    });
    const result = await runBatch(createQueueHandler(), env, JOBS_QUEUE, [message(body)]);
    expect(result.retried).toEqual([]);
    expect((await usageEventsOf(org.id)).map((row) => row.name)).toEqual(['real']);
  });
});

describe('usage_events (the partitioned raw table) as a tenant table', () => {
  it('has RLS enabled and forced with the org policy, no audit trigger, and the runtime may only read through the parent', async () => {
    const { rows } = await ownerDb.http.execute<Record<string, unknown>>(tenantTableFacts({ name: 'usage_events', orgColumn: 'org_id' }));
    expect(rows[0]).toMatchObject({ enabled: true, forced: true, orgPolicy: true, runtimeGrants: ['SELECT'], auditTrigger: null });
  });

  it('shows the runtime no row outside its org context, refuses its inserts and its direct reads of a partition', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const runtime = testDb();
    await recordUsageEvents(runtime, [{ id: crypto.randomUUID(), orgId: org.id, at: new Date().toISOString(), source: 'product', name: 'seen' }], new Date(0));
    expect(await usageEventsOf(org.id)).toHaveLength(1);
    const { rows } = await runtime.http.execute<{ n: number }>(sql`select count(*)::int as n from usage_events where org_id = ${org.id}::uuid`);
    expect(rows[0]?.n).toBe(0);
    const refusal = (query: Promise<unknown>) => query.then(() => 'succeeded', (error: unknown) => String((error as { cause?: unknown }).cause ?? error));
    expect(await refusal(runtime.http.execute(sql`insert into usage_events (id, org_id, created_at, source, name) values (gen_random_uuid(), ${org.id}::uuid, now(), 'product', 'forged')`))).toMatch(/permission denied/);
    const partition = `usage_events_${new Date().toISOString().slice(0, 7).replace('-', '_')}`;
    expect(await refusal(runtime.http.execute(sql.raw(`select count(*) from ${partition}`)))).toMatch(/permission denied/);
  });
});

describe('the usage.record job contract', () => {
  it('refuses an API event without its route class or status (the rollup could not group it); product events need neither', () => {
    const base = { id: crypto.randomUUID(), orgId: crypto.randomUUID(), at: new Date().toISOString(), name: 'GET /api/v1/orgs/{orgId}' };
    expect(usageBatchSchema.safeParse({ events: [{ ...base, source: 'api', routeClass: 'read', status: 200 }] }).success).toBe(true);
    expect(usageBatchSchema.safeParse({ events: [{ ...base, source: 'api', status: 200 }] }).success).toBe(false);
    expect(usageBatchSchema.safeParse({ events: [{ ...base, source: 'api', routeClass: 'read' }] }).success).toBe(false);
    expect(usageBatchSchema.safeParse({ events: [{ ...base, source: 'product', name: 'clicked' }] }).success).toBe(true);
  });
});
