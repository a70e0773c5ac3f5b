import { and, asc, eq, gt } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditChainHeads, auditLogs, webhookEndpoints, webhookEndpointStates, webhookMessages } from '../../src/db/schema/index.ts';
import { fanOut } from '../../src/services/webhook-fanout.ts';
import { WEBHOOK_ENDPOINTS_PER_ORG } from '../../src/lib/limits.ts';
import { api, createMember, createOrg, createUser, json, ownerDb, type TestUser } from '../helpers/factories.ts';
import { endpointRow, messageRow, receiverUrl, received, recordingQueue, verify, waitForDeliveries } from '../helpers/webhooks.ts';
import { createOpenApiValidator } from '../helpers/openapi-validator.ts';
import { openApiDocument } from '../helpers/route-matrix.ts';
import type { JsonSchema, SchemaDocument } from '../helpers/schema-arbitraries.ts';
import { env, request, testDb } from '../helpers/worker.ts';

type Endpoint = { id: string; url: string; secret: string; enabled: boolean; eventTypes: string[] | null; previousSecretExpiresAt: string | null };
type Delivery = { id: string; eventType: string; status: string; attempts: number; lastStatusCode: number | null };

async function setup() {
  const owner = await createUser();
  const org = await createOrg(owner);
  return { owner, org, base: `/api/v1/orgs/${org.id}/webhooks` };
}

async function createEndpoint(owner: TestUser, base: string, body: Record<string, unknown>) {
  const response = await api(base, { auth: owner, body });
  expect(response.status, await response.clone().text()).toBe(201);
  return (await json<{ data: Endpoint }>(response)).data;
}

const published = (openApiDocument as { webhooks?: Record<string, { post?: { requestBody?: { content?: Record<string, { schema?: JsonSchema }> } } }> }).webhooks ?? {};
const validator = createOpenApiValidator(openApiDocument as SchemaDocument);

/**
 * A received body checked against the JSON Schema the OpenAPI document publishes for its type (`webhooks[type]`),
 * strictly (an unpublished key is an error), as a receiver generating its types from the document would read it.
 */
function expectPublished(body: string) {
  const event = JSON.parse(body) as { type: string };
  const schema = published[event.type]?.post?.requestBody?.content?.['application/json']?.schema;
  expect(schema, `no schema published for ${event.type}`).toBeDefined();
  expect(validator.requestBody(schema as JsonSchema, event), `${event.type}: ${body}`).toBeUndefined();
}

describe('webhook endpoints', () => {
  it('create shows the whsec_ secret once; list and get never show it; update and delete', async () => {
    const { owner, base } = await setup();
    const url = receiverUrl();
    const created = await createEndpoint(owner, base, { url, description: 'CRM sync', eventTypes: ['project.created', 'project.created'] });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(created).toMatchObject({ url, enabled: true, eventTypes: ['project.created'] });
    const listed = await json<{ data: Endpoint[] }>(await api(base, { auth: owner }));
    expect(listed.data.map((endpoint) => endpoint.id)).toEqual([created.id]);
    const got = await api(`${base}/${created.id}`, { auth: owner });
    const text = await got.text();
    expect(text).not.toContain(created.secret);
    expect(text).not.toContain(created.secret.slice(6));
    const updated = await api(`${base}/${created.id}`, { method: 'PATCH', auth: owner, body: { enabled: false, eventTypes: null } });
    expect((await json<{ data: Endpoint }>(updated)).data).toMatchObject({ enabled: false, eventTypes: null });
    expect((await api(`${base}/${created.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect((await api(`${base}/${created.id}`, { auth: owner })).status).toBe(404);
  });

  it('refuses URLs that could reach private networks (SSRF) with 400, and non-admins with 403', async () => {
    const { owner, org, base } = await setup();
    for (const url of [
      'http://example.com/hook',
      'https://10.0.0.1/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://[::ffff:127.0.0.1]/hook',
      'https://[fd00:ec2::254]/hook',
      'https://0xa9.254.169.254/hook',
      'https://2852039166/hook',
      'https://0251.0376.0251.0376/hook',
      'https://100.64.0.1/hook',
      'https://localhost/hook',
      'https://metadata.google.internal/x',
      'https://user:pass@example.com/hook',
      'http://10.0.0.1/hook',
    ]) {
      const response = await api(base, { auth: owner, body: { url } });
      expect({ url, status: response.status }).toEqual({ url, status: 400 });
      expect((await json<{ error: { code: string } }>(response)).error.code).toBe('VALIDATION_FAILED');
    }
    const member = await createMember(org, 'member');
    expect((await api(base, { auth: member, body: { url: 'https://example.com/hook' } })).status).toBe(403);
  });

  it('under production bindings the local receiver is refused too (400), on create and on update; test bindings take it', async () => {
    const { owner, base } = await setup();
    const local = receiverUrl();
    expect(new URL(local).hostname).toBe('127.0.0.1');
    const production = { ...env, APP_ENV: 'production', DEV_OUTBOX: 'off' } as Env;
    const send = (path: string, method: string, body: unknown) =>
      request(path, { method, headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }, { bindings: production });
    const created = await send(base, 'POST', { url: local });
    expect(created.status).toBe(400);
    expect(await json(created)).toMatchObject({ error: { code: 'VALIDATION_FAILED', details: { issues: [{ path: 'url', message: 'must use https' }] } } });
    const endpoint = await createEndpoint(owner, base, { url: local });
    const moved = await send(`${base}/${endpoint.id}`, 'PATCH', { url: receiverUrl() });
    expect(moved.status).toBe(400);
    expect((await endpointRow(endpoint.id))?.url).toBe(local);
  });

  it(`an org holds at most ${WEBHOOK_ENDPOINTS_PER_ORG} endpoints (403 QUOTA_EXCEEDED)`, async () => {
    const { owner, base } = await setup();
    // The local receiver: each create is an event the endpoints created before it receive.
    const url = receiverUrl();
    await Promise.all(Array.from({ length: WEBHOOK_ENDPOINTS_PER_ORG }, () => api(base, { auth: owner, body: { url } })));
    const refused = await api(base, { auth: owner, body: { url } });
    expect(refused.status).toBe(403);
    expect(await json(refused)).toMatchObject({ error: { code: 'QUOTA_EXCEEDED', details: { resource: 'webhookEndpoints', limit: WEBHOOK_ENDPOINTS_PER_ORG } } });
    const listed = await json<{ data: Endpoint[]; meta: { nextCursor: string } }>(await api(`${base}?limit=15`, { auth: owner }));
    const rest = await json<{ data: Endpoint[] }>(await api(`${base}?limit=15&cursor=${listed.meta.nextCursor}`, { auth: owner }));
    expect(listed.data.length + rest.data.length).toBe(WEBHOOK_ENDPOINTS_PER_ORG);
  });
});

describe('fan-out under concurrent writes', () => {
  it('20 concurrent writes while 3 fan-outs run concurrently: one message per endpoint and audit entry, none missing, cursors at the head', async () => {
    const owner = await createUser();
    // Pro: room for 20 projects (free holds fewer).
    const org = await createOrg(owner, { tier: 'pro' });
    const base = `/api/v1/orgs/${org.id}/webhooks`;
    const all = await createEndpoint(owner, base, { url: receiverUrl() });
    // Its cursor as created (the audit head), before any write could move it.
    const [start] = await ownerDb.http.select().from(webhookEndpointStates).where(eq(webhookEndpointStates.endpointId, all.id));
    const projectsOnly = await createEndpoint(owner, base, { url: receiverUrl(), eventTypes: ['project.created'] });
    const db = testDb();
    const { queue } = recordingQueue();
    let writing = true;
    // Each fan-out loops for as long as the writes run, so their statements interleave with the writes' commits.
    const fanning = Array.from({ length: 3 }, async () => {
      for (let runs = 0; writing || runs === 0; runs++) await fanOut(db, queue, org.id, new Date());
    });
    const writes = await Promise.all(Array.from({ length: 20 }, (_, i) => api(`/api/v1/orgs/${org.id}/projects`, { auth: owner, body: { name: `Raced ${i}` } })));
    writing = false;
    await Promise.all(fanning);
    expect(writes.map((response) => response.status)).toEqual(Array<number>(20).fill(201));
    // A last pass takes only what lies beyond the cursors: an entry a concurrent pass skipped would stay missing.
    await fanOut(db, queue, org.id, new Date());

    const entries = await ownerDb.http
      .select({ seq: auditLogs.seq, action: auditLogs.action })
      .from(auditLogs)
      .where(and(eq(auditLogs.orgId, org.id), gt(auditLogs.seq, start?.cursorSeq ?? Infinity)))
      .orderBy(asc(auditLogs.seq));
    // After the first endpoint's cursor: the second endpoint's creation and the 20 projects, nothing else.
    expect(entries.map((entry) => entry.action)).toEqual(['webhook_endpoint.created', ...Array<string>(20).fill('project.created')]);
    const messages = async (endpointId: string) =>
      (await ownerDb.http.select({ seq: webhookMessages.auditSeq }).from(webhookMessages).where(eq(webhookMessages.endpointId, endpointId)).orderBy(asc(webhookMessages.auditSeq))).map((row) => row.seq);
    expect(await messages(all.id)).toEqual(entries.map((entry) => entry.seq));
    expect(await messages(projectsOnly.id)).toEqual(entries.filter((entry) => entry.action === 'project.created').map((entry) => entry.seq));
    const [head] = await ownerDb.http.select().from(auditChainHeads).where(eq(auditChainHeads.orgId, org.id));
    const cursors = await ownerDb.http.select({ seq: webhookEndpointStates.cursorSeq }).from(webhookEndpointStates).where(eq(webhookEndpointStates.orgId, org.id));
    expect(cursors.map((cursor) => cursor.seq)).toEqual([head?.seq, head?.seq]);
    expect(head?.seq).toBe(entries.at(-1)?.seq);
  });
});

describe('events, end to end through the real queue', () => {
  it('a write becomes a signed event at the receiver, promptly; only subscribed types; none from before the endpoint', async () => {
    const { owner, org, base } = await setup();
    const all = receiverUrl();
    const onlyDeletes = receiverUrl();
    const endpoint = await createEndpoint(owner, base, { url: all });
    await createEndpoint(owner, base, { url: onlyDeletes, eventTypes: ['project.deleted'] });
    const project = await json<{ data: { id: string } }>(await api(`/api/v1/orgs/${org.id}/projects`, { auth: owner, body: { name: 'Webhooked' } }));
    // The first endpoint also gets the second one's creation (ordering between events is not promised).
    const requests = await waitForDeliveries(all, 2);
    const events = requests.map((request) => verify(endpoint.secret, request as never));
    for (const request of requests) expectPublished(request.body);
    expect(events.map((event) => event.type).sort()).toEqual(['project.created', 'webhook_endpoint.created']);
    const event = events.find((candidate) => candidate.type === 'project.created');
    expect(event).toMatchObject({ type: 'project.created', data: { id: project.data.id, orgId: org.id, actor: { type: 'user', id: owner.id } } });
    expect(event?.data.changes).toMatchObject({ name: 'Webhooked' });
    // Nothing from before the endpoint existed (the org's creation, its own creation), nothing twice.
    await new Promise((resolveLater) => setTimeout(resolveLater, 500));
    expect(await received(all)).toHaveLength(2);
    expect(await received(onlyDeletes)).toEqual([]);
  });

  it('test event, delivery log, redelivery with the same webhook-id, and replay since a time', async () => {
    const { owner, org, base } = await setup();
    const url = receiverUrl();
    const endpoint = await createEndpoint(owner, base, { url });
    const testEvent = await api(`${base}/${endpoint.id}/test`, { auth: owner, method: 'POST' });
    expect(testEvent.status).toBe(202);
    const queued = (await json<{ data: Delivery }>(testEvent)).data;
    expect(queued).toMatchObject({ eventType: 'webhook.test', status: 'pending', attempts: 0 });
    const [first] = await waitForDeliveries(url);
    expect(verify(endpoint.secret, first as never).type).toBe('webhook.test');
    expectPublished(first?.body ?? '');

    await expect.poll(async () => (await messageRow(queued.id)).status).toBe('succeeded');
    const log = await json<{ data: Delivery[] }>(await api(`${base}/${endpoint.id}/deliveries?status=succeeded`, { auth: owner }));
    expect(log.data).toEqual([expect.objectContaining({ id: queued.id, status: 'succeeded', attempts: 1, lastStatusCode: 200 })]);

    const again = await api(`${base}/${endpoint.id}/deliveries/${queued.id}/redeliver`, { auth: owner, method: 'POST' });
    expect(again.status).toBe(202);
    const both = await waitForDeliveries(url, 2);
    expect(both.map((request) => request.headers['webhook-id'])).toEqual([queued.id, queued.id]);

    const since = new Date().toISOString();
    await api(`/api/v1/orgs/${org.id}/projects`, { auth: owner, body: { name: 'Replayed' } });
    expectPublished((await waitForDeliveries(url, 3))[2]?.body ?? '');
    await expect.poll(async () => (await json<{ data: Delivery[] }>(await api(`${base}/${endpoint.id}/deliveries?status=succeeded`, { auth: owner }))).data.length).toBe(2);
    // Everything since `since` that did not succeed: nothing; the succeeded project event is not sent again.
    const replay = await api(`${base}/${endpoint.id}/replay`, { auth: owner, body: { since } });
    expect(await json(replay)).toEqual({ data: { queued: 0, more: false } });
  });

  it('replay leaves a message still retrying on its own chain: its attempt count is kept, so no second chain starts', async () => {
    const { owner, org, base } = await setup();
    const url = receiverUrl('status/500');
    const endpoint = await createEndpoint(owner, base, { url });
    const since = new Date().toISOString();
    await api(`/api/v1/orgs/${org.id}/projects`, { auth: owner, body: { name: 'Failing' } });
    await waitForDeliveries(url);
    const pending = async () => (await json<{ data: Delivery[] }>(await api(`${base}/${endpoint.id}/deliveries?status=pending`, { auth: owner }))).data;
    await expect.poll(async () => (await pending()).map((delivery) => delivery.attempts)).toEqual([1]);
    const [retrying] = await pending();
    const replay = await api(`${base}/${endpoint.id}/replay`, { auth: owner, body: { since } });
    expect(replay.status).toBe(202);
    expect(await messageRow(retrying?.id ?? '')).toMatchObject({ status: 'pending', attempts: 1 });
  });

  it('replay sends what a disabled endpoint missed, once enabled', async () => {
    // Taken before the org exists, so every entry of its setup counts however long that takes under load.
    const since = new Date(Date.now() - 1000).toISOString();
    const { owner, org, base } = await setup();
    const url = receiverUrl();
    const endpoint = await createEndpoint(owner, base, { url, enabled: false });
    await api(`/api/v1/orgs/${org.id}/projects`, { auth: owner, body: { name: 'Missed' } });
    expect((await api(`${base}/${endpoint.id}/replay`, { auth: owner, body: { since } })).status).toBe(409);
    await api(`${base}/${endpoint.id}`, { method: 'PATCH', auth: owner, body: { enabled: true } });
    // Once the fan-out has moved the disabled endpoint's cursor past the project (without a message), replay
    // fetches everything since `since`.
    const cursor = async () => (await ownerDb.http.select().from(webhookEndpointStates).where(eq(webhookEndpointStates.endpointId, endpoint.id)))[0]?.cursorSeq;
    const head = async () => (await ownerDb.http.select().from(auditChainHeads).where(eq(auditChainHeads.orgId, org.id)))[0]?.seq;
    await expect.poll(async () => (await cursor()) === (await head()), { timeout: 10_000 }).toBe(true);
    // The enabling itself is an event the endpoint receives as it happens.
    const delivered = async () => (await ownerDb.http.select().from(webhookMessages).where(and(eq(webhookMessages.endpointId, endpoint.id), eq(webhookMessages.status, 'succeeded')))).map((message) => message.eventType);
    await expect.poll(delivered, { timeout: 10_000 }).toEqual(['webhook_endpoint.updated']);
    const replayed = await api(`${base}/${endpoint.id}/replay`, { auth: owner, body: { since } });
    // The membership, the endpoint's creation, the project; not the enabling, delivered already.
    expect(await json(replayed)).toEqual({ data: { queued: 3, more: false } });
    await expect
      .poll(async () => (await received(url)).map((request) => verify(endpoint.secret, request as never)).find((event) => event.type === 'project.created')?.data.changes, { timeout: 10_000 })
      .toMatchObject({ name: 'Missed' });
  });

  it('secret rotation: during the grace period both secrets verify and a second rotation is a 409; after it, a rotation without grace leaves only the new one', async () => {
    const { owner, base } = await setup();
    const url = receiverUrl();
    const endpoint = await createEndpoint(owner, base, { url });
    const rotated = await json<{ data: Endpoint }>(await api(`${base}/${endpoint.id}/rotate-secret`, { auth: owner, body: { gracePeriodSeconds: 600 } }));
    expect(rotated.data.secret).not.toBe(endpoint.secret);
    expect(rotated.data.previousSecretExpiresAt).not.toBeNull();
    await api(`${base}/${endpoint.id}/test`, { auth: owner, method: 'POST' });
    const [during] = await waitForDeliveries(url);
    expect(during?.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(verify(endpoint.secret, during as never).type).toBe('webhook.test');
    expect(verify(rotated.data.secret, during as never).type).toBe('webhook.test');
    // A second rotation would cut the first one's grace short: refused, and nothing changes.
    const refused = await api(`${base}/${endpoint.id}/rotate-secret`, { auth: owner, body: { gracePeriodSeconds: 0 } });
    expect(refused.status).toBe(409);
    expect(await json(refused)).toMatchObject({ error: { code: 'CONFLICT', details: { previousSecretExpiresAt: rotated.data.previousSecretExpiresAt } } });
    // Once the grace is over (moved into the past), rotating again with no grace leaves only the new secret.
    await ownerDb.http.update(webhookEndpoints).set({ previousExpiresAt: new Date(Date.now() - 1_000) }).where(eq(webhookEndpoints.id, endpoint.id));
    const latest = await json<{ data: Endpoint }>(await api(`${base}/${endpoint.id}/rotate-secret`, { auth: owner, body: { gracePeriodSeconds: 0 } }));
    expect(latest.data.previousSecretExpiresAt).toBeNull();
    await api(`${base}/${endpoint.id}/test`, { auth: owner, method: 'POST' });
    const [, after] = await waitForDeliveries(url, 2);
    expect(after?.headers['webhook-signature']?.split(' ')).toHaveLength(1);
    expect(verify(latest.data.secret, after as never).type).toBe('webhook.test');
    expect(() => verify(rotated.data.secret, after as never)).toThrow();
    expect(() => verify(endpoint.secret, after as never)).toThrow();
    // Secrets rest encrypted: none appears in the stored row.
    const stored = JSON.stringify(await endpointRow(endpoint.id));
    for (const secret of [endpoint.secret, rotated.data.secret, latest.data.secret]) expect(stored).not.toContain(secret.slice(6));
  });

  it('publishes every event type with its payload schema under the OpenAPI document\'s webhooks', () => {
    const webhooks = (openApiDocument as { webhooks?: Record<string, { post?: { requestBody?: unknown } }> }).webhooks ?? {};
    expect(Object.keys(webhooks)).toEqual(expect.arrayContaining(['project.created', 'member.added', 'invitation.accepted', 'api_key.revoked', 'webhook.test']));
    expect(JSON.stringify(webhooks['project.created']?.post?.requestBody)).toContain('#/components/schemas/ProjectCreatedEvent');
  });
});
