import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { jobFailures, webhookEndpoints, webhookEndpointStates, webhookMessages } from '../../src/db/schema/index.ts';
import { generateWebhookSecret, sealWebhookSecret } from '../../src/lib/webhook-signing.ts';
import { getConfig } from '../../src/config.ts';
import { WEBHOOK_DISABLE_AFTER_MS, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_DELAYS_SECONDS } from '../../src/lib/webhook-events.ts';
import { deliverWebhook, type DeliveryContext } from '../../src/services/webhook-delivery.ts';
import { createQueueHandler } from '../../workers/queue.ts';
import { sweepWebhooks } from '../../workers/tasks/webhooks.ts';
import { createOrg, createUser, ownerDb } from '../helpers/factories.ts';
import { JOBS_QUEUE, job, message, runBatch } from '../helpers/queue.ts';
import { endpointRow, endpointWithMessage, messageRow, receiverUrl, received, recordingQueue, verify } from '../helpers/webhooks.ts';
import { env, testDb } from '../helpers/worker.ts';

const db = testDb();

/** A delivery context with a clock the test moves and a queue it reads; a short receiver timeout. */
function harness(start = Date.now()) {
  const clock = { now: start };
  const { queue, sent } = recordingQueue();
  const context: DeliveryContext = { config: { ...getConfig(env), WEBHOOK_TIMEOUT_MS: 300 }, db, queue, now: () => clock.now };
  return { clock, sent, context };
}

async function fixture(mode = 'ok') {
  const owner = await createUser();
  const org = await createOrg(owner);
  const url = receiverUrl(mode);
  return { owner, org, url, ...(await endpointWithMessage(org, url)) };
}

/**
 * A fetcher as production has it, with DNS over HTTPS answering `address` for every name; any other request goes
 * to `receiver` (the local receiver stands in for whatever `address` is), so a request the SSRF check let
 * through would be seen there.
 */
function resolvingTo(address: string, receiver: string) {
  const queries: string[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.hostname !== 'cloudflare-dns.com') return fetch(receiver, init);
    const type = url.searchParams.get('type') ?? '';
    queries.push(`${url.searchParams.get('name')} ${type}`);
    return Response.json({ Answer: type === 'A' ? [{ type: 1, data: address }] : [] });
  }) as typeof fetch;
  return { fetcher, queries };
}

describe('webhook delivery', () => {
  it("retries on Svix's schedule, literally: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; disabled after 5 days", () => {
    expect(WEBHOOK_RETRY_DELAYS_SECONDS).toEqual([5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]);
    expect(WEBHOOK_MAX_ATTEMPTS).toBe(8);
    expect(WEBHOOK_DISABLE_AFTER_MS).toBe(5 * 24 * 3600 * 1000);
  });

  it('a receiver has 15 s to answer unless the configuration says otherwise (Svix)', () => {
    // The tests' bindings shorten it (vitest.config.ts): the default is what a deployment without the var gets.
    const unset: Record<string, unknown> = { ...env };
    expect(unset.WEBHOOK_TIMEOUT_MS).toBe('2000');
    delete unset.WEBHOOK_TIMEOUT_MS;
    expect(getConfig(unset as unknown as Env).WEBHOOK_TIMEOUT_MS).toBe(15_000);
  });

  it('in production, a public name that resolves to a private address is refused before connecting: nothing reaches the receiver', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const host = `hooks-${crypto.randomUUID().slice(0, 8)}.example.com`;
    const { messageId } = await endpointWithMessage(org, `https://${host}/in`);
    const local = receiverUrl();
    const { fetcher, queries } = resolvingTo('10.0.0.1', local);
    const { context } = harness();
    const production: DeliveryContext = { ...context, config: { ...context.config, APP_ENV: 'production' }, fetcher };
    await deliverWebhook(production, { orgId: org.id, messageId, attempt: 0 });
    expect(queries.sort()).toEqual([`${host} A`, `${host} AAAA`]);
    expect(await received(local)).toEqual([]);
    expect(await messageRow(messageId)).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: null, lastError: 'refused: URL host resolves to a forbidden address (10.0.0.1)' });

    // The same wiring with a public answer does connect: the refusal above is the address's doing.
    const open = await endpointWithMessage(org, `https://public-${host}/in`);
    const reachable = resolvingTo('93.184.216.34', local);
    await deliverWebhook({ ...production, fetcher: reachable.fetcher }, { orgId: org.id, messageId: open.messageId, attempt: 0 });
    expect(await received(local)).toHaveLength(1);
    expect(await messageRow(open.messageId)).toMatchObject({ status: 'succeeded', lastStatusCode: 200 });
  });

  it('signs per Standard Webhooks (verified by the standardwebhooks package) and records the success', async () => {
    const { org, url, secret, messageId, endpointId } = await fixture();
    const { context, sent } = harness();
    await deliverWebhook(context, { orgId: org.id, messageId, attempt: 0 });
    const [request] = await received(url);
    expect(request?.headers['webhook-id']).toBe(messageId);
    expect(verify(secret, request as never)).toMatchObject({ type: 'project.created', data: { orgId: org.id } });
    expect(await messageRow(messageId)).toMatchObject({ status: 'succeeded', attempts: 1, lastStatusCode: 200, nextAttemptAt: null, lastError: null });
    expect(sent).toEqual([]);
    const [state] = await ownerDb.http.select().from(webhookEndpointStates).where(eq(webhookEndpointStates.endpointId, endpointId));
    expect(state?.failingSince).toBeNull();
  });

  it('a 5xx is retried on the schedule: next attempt in 5 s, response body kept truncated', async () => {
    const { org, messageId } = await fixture('status/500');
    const { context, sent, clock } = harness();
    await deliverWebhook(context, { orgId: org.id, messageId, attempt: 0 });
    const row = await messageRow(messageId);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 500, lastError: 'HTTP 500' });
    expect(row.lastResponse).toHaveLength(1024);
    expect(row.nextAttemptAt?.getTime()).toBe(clock.now + 5_000);
    expect(sent).toEqual([{ body: expect.objectContaining({ type: 'webhooks.deliver', payload: { orgId: org.id, messageId, attempt: 1 } }), delaySeconds: 5 }]);
  });

  it('a timeout, a refused connection and a redirect are failures too (redirects are never followed)', async () => {
    const slow = await fixture('slow/2000');
    const { context } = harness();
    await deliverWebhook(context, { orgId: slow.org.id, messageId: slow.messageId, attempt: 0 });
    expect(await messageRow(slow.messageId)).toMatchObject({ status: 'pending', lastError: 'timed out after 300 ms', lastStatusCode: null });

    const { address } = (await (await fetch(`${env.FAKE_SERVICES_URL}/__faults/dead-address`, { method: 'POST' })).json()) as { address: string };
    const owner = await createUser();
    const refused = await endpointWithMessage(await createOrg(owner), `http://${address}/hook`);
    await deliverWebhook(context, { orgId: (await endpointRow(refused.endpointId))?.orgId ?? '', messageId: refused.messageId, attempt: 0 });
    expect((await messageRow(refused.messageId)).lastError).toMatch(/^connection failed/);

    const redirect = await fixture('status/302');
    await deliverWebhook(context, { orgId: redirect.org.id, messageId: redirect.messageId, attempt: 0 });
    expect(await messageRow(redirect.messageId)).toMatchObject({ status: 'pending', lastStatusCode: 302, lastError: 'redirect (302) not followed' });
    expect(await received(redirect.url)).toHaveLength(1);
  });

  it('walks the whole Svix schedule with one webhook-id, then dead-letters the message (visible in job_failures)', async () => {
    const { org, url, messageId } = await fixture('status/503');
    const { context, sent, clock } = harness();
    const start = clock.now;
    for (let attempt = 0; attempt < WEBHOOK_MAX_ATTEMPTS; attempt++) {
      await deliverWebhook(context, { orgId: org.id, messageId, attempt });
      const next = sent.at(-1);
      if (attempt < WEBHOOK_MAX_ATTEMPTS - 1) {
        expect(next?.delaySeconds).toBe(WEBHOOK_RETRY_DELAYS_SECONDS[attempt]);
        clock.now += (next?.delaySeconds ?? 0) * 1000;
      }
    }
    expect(clock.now - start).toBe(WEBHOOK_RETRY_DELAYS_SECONDS.reduce((sum, delay) => sum + delay, 0) * 1000);
    expect(sent).toHaveLength(WEBHOOK_MAX_ATTEMPTS - 1);
    expect(await messageRow(messageId)).toMatchObject({ status: 'dead', attempts: WEBHOOK_MAX_ATTEMPTS, nextAttemptAt: null });
    const requests = await received(url);
    expect(requests).toHaveLength(WEBHOOK_MAX_ATTEMPTS);
    expect(new Set(requests.map((request) => request.headers['webhook-id']))).toEqual(new Set([messageId]));
    const [dead] = await ownerDb.http.select().from(jobFailures).where(eq(jobFailures.jobId, messageId));
    expect(dead).toMatchObject({ type: 'webhooks.deliver', attempts: WEBHOOK_MAX_ATTEMPTS, lastError: 'HTTP 503' });
    expect(dead?.deadAt).toBeInstanceOf(Date);
    // A stale duplicate of an earlier attempt does nothing.
    await deliverWebhook(context, { orgId: org.id, messageId, attempt: 3 });
    expect(await received(url)).toHaveLength(WEBHOOK_MAX_ATTEMPTS);
  });

  it('duplicate queue deliveries of one job reach the receiver once; every request of a message carries one webhook-id', async () => {
    const { org, url, messageId, secret } = await fixture();
    const duplicated = job('webhooks.deliver', { orgId: org.id, messageId, attempt: 0 });
    const result = await runBatch(createQueueHandler(), env, JOBS_QUEUE, [message(duplicated), message(duplicated), message(duplicated)]);
    expect(result.explicitAcks).toHaveLength(3);
    const requests = await received(url);
    expect(requests).toHaveLength(1);
    // A receiver that dedupes by webhook-id applies each message once, however often it arrives.
    const applied = new Set(requests.map((request) => verify(secret, request) && request.headers['webhook-id']));
    expect(applied.size).toBe(1);
  });

  it('an endpoint failing for 5 days is disabled and the org admins are emailed; 4 days is not enough', async () => {
    const { owner, org, endpointId, messageId } = await fixture('status/500');
    const { context, sent, clock } = harness();
    await deliverWebhook(context, { orgId: org.id, messageId, attempt: 0 });
    clock.now += 4 * 86_400_000;
    await deliverWebhook(context, { orgId: org.id, messageId, attempt: 1 });
    expect(await endpointRow(endpointId)).toMatchObject({ enabled: true });
    clock.now += 86_400_000;
    await deliverWebhook(context, { orgId: org.id, messageId, attempt: 2 });
    expect(await endpointRow(endpointId)).toMatchObject({ enabled: false, disabledReason: 'failing for 5 days' });
    const emails = sent.filter((entry) => entry.body.type === 'email.send');
    expect(emails).toEqual([{ body: expect.objectContaining({ payload: expect.objectContaining({ to: owner.email, template: 'webhook-disabled' }) }), delaySeconds: undefined }]);
    // The next attempt finds the endpoint disabled: nothing is sent, the message is marked failed.
    await deliverWebhook(context, { orgId: org.id, messageId, attempt: 3 });
    expect(await messageRow(messageId)).toMatchObject({ status: 'failed', lastError: 'endpoint disabled' });
  });

  it('a secret that no longer decrypts (moved from another endpoint, or TOKEN_SECRET replaced) fails the attempt, never signs', async () => {
    const { org, url, endpointId, messageId } = await fixture();
    const other = await fixture();
    const [stolen] = await ownerDb.http.select({ sealed: webhookEndpoints.secretCiphertext }).from(webhookEndpoints).where(eq(webhookEndpoints.id, other.endpointId));
    await ownerDb.http.update(webhookEndpoints).set({ secretCiphertext: stolen?.sealed ?? '' }).where(eq(webhookEndpoints.id, endpointId));
    const { context, sent } = harness();
    await deliverWebhook(context, { orgId: org.id, messageId, attempt: 0 });
    expect(await received(url)).toEqual([]);
    expect(await messageRow(messageId)).toMatchObject({ status: 'pending', attempts: 1, lastError: expect.stringContaining('signing secret unreadable') });
    expect(sent).toHaveLength(1);
  });

  it("a rotated secret signs too until its grace ends, by the delivery's clock", async () => {
    const { org, url, endpointId, secret: previous } = await fixture();
    const { context, clock } = harness();
    const current = generateWebhookSecret();
    await ownerDb.http
      .update(webhookEndpoints)
      .set({
        secretCiphertext: await sealWebhookSecret(getConfig(env).TOKEN_SECRET, endpointId, current),
        previousSecretCiphertext: sql`${webhookEndpoints.secretCiphertext}`,
        previousExpiresAt: new Date(clock.now + 60_000),
      })
      .where(eq(webhookEndpoints.id, endpointId));
    const second = `msg_${crypto.randomUUID().replaceAll('-', '')}`;
    const [first] = await ownerDb.http.select({ id: webhookMessages.id }).from(webhookMessages).where(eq(webhookMessages.endpointId, endpointId));
    await ownerDb.http.insert(webhookMessages).values({ id: second, orgId: org.id, endpointId, eventType: 'webhook.test', payload: { type: 'webhook.test', data: {} } });
    await deliverWebhook(context, { orgId: org.id, messageId: first?.id ?? '', attempt: 0 });
    clock.now += 61_000; // past the grace, within the receivers' 5-minute timestamp tolerance
    await deliverWebhook(context, { orgId: org.id, messageId: second, attempt: 0 });
    const [during, after] = await received(url);
    expect(verify(previous, during as never)).toBeDefined();
    expect(verify(current, during as never)).toBeDefined();
    expect(verify(current, after as never)).toBeDefined();
    expect(() => verify(previous, after as never)).toThrow();
  });

  it('the cron sweep sends again a delivery whose queue message was lost', async () => {
    const { org, messageId } = await fixture();
    const { queue, sent } = recordingQueue();
    await sweepWebhooks({ env: { ...env, JOBS: queue }, db, scheduledTime: Date.now() + 600_000 });
    expect(sent.map((entry) => entry.body.payload)).toContainEqual({ orgId: org.id, messageId, attempt: 0 });
  });
});
