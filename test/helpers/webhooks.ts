import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { expect } from 'vitest';
import { webhookEndpoints, webhookEndpointStates, webhookMessages } from '../../src/db/schema/index.ts';
import { getConfig } from '../../src/config.ts';
import { generateWebhookSecret, sealWebhookSecret } from '../../src/lib/webhook-signing.ts';
import type { JobMessage } from '../../src/services/jobs.ts';
import { ownerDb, type TestOrg } from './factories.ts';
import { env, fakeServiceRequests } from './worker.ts';

/** A unique path on the fake receiver (test/helpers/fake-services.ts), optionally failing: `status/500`, `slow/2000`. */
export const receiverUrl = (mode = 'ok') => `${env.FAKE_SERVICES_URL}/${mode}/hooks-${crypto.randomUUID()}`;

/** What the receiver got at `url`, newest last. */
export async function received(url: string) {
  return fakeServiceRequests(new URL(url).pathname);
}

/** Polls the receiver until `count` requests reached `url` (through the real queue). */
export async function waitForDeliveries(url: string, count = 1, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const requests = await received(url);
    if (requests.length >= count || Date.now() > deadline) return requests;
    await new Promise((resolveLater) => setTimeout(resolveLater, 200));
  }
}

/** Verifies a received request with the independent `standardwebhooks` implementation; returns the payload. */
export function verify(secret: string, request: { headers: Record<string, string>; body: string }): { type: string; data: Record<string, unknown> } {
  return new Webhook(secret).verify(request.body, request.headers) as { type: string; data: Record<string, unknown> };
}

/** A queue that records what is sent to it instead of delivering, so tests drive every attempt themselves. */
export function recordingQueue() {
  const sent: Array<{ body: JobMessage; delaySeconds?: number }> = [];
  const queue = {
    send: async (body: JobMessage, options?: QueueSendOptions) => void sent.push({ body, delaySeconds: options?.delaySeconds }),
    sendBatch: async (messages: Iterable<MessageSendRequest<JobMessage>>) => {
      for (const message of messages) sent.push({ body: message.body, delaySeconds: message.delaySeconds });
    },
  } as unknown as Queue;
  return { queue, sent };
}

/**
 * An endpoint written as the schema owner (no route, so no fan-out job is sent), with one pending message:
 * for the delivery tests, which make every attempt themselves with their own clock.
 */
export async function endpointWithMessage(org: TestOrg, url: string) {
  const id = crypto.randomUUID();
  const secret = generateWebhookSecret();
  const sealed = await sealWebhookSecret(getConfig(env).TOKEN_SECRET, id, secret);
  const messageId = `msg_${crypto.randomUUID().replaceAll('-', '')}`;
  await ownerDb.http.batch([
    ownerDb.http.insert(webhookEndpoints).values({ id, orgId: org.id, url, description: 'fixture', secretCiphertext: sealed }),
    ownerDb.http.insert(webhookEndpointStates).values({ endpointId: id, orgId: org.id, cursorSeq: 1_000_000 }),
    ownerDb.http.insert(webhookMessages).values({
      id: messageId,
      orgId: org.id,
      endpointId: id,
      eventType: 'project.created',
      payload: { type: 'project.created', timestamp: new Date().toISOString(), data: { id: crypto.randomUUID(), orgId: org.id } },
      nextAttemptAt: new Date(),
    }),
  ]);
  return { endpointId: id, secret, messageId };
}

export async function messageRow(messageId: string) {
  const [row] = await ownerDb.http.select().from(webhookMessages).where(eq(webhookMessages.id, messageId));
  expect(row).toBeDefined();
  return row as typeof webhookMessages.$inferSelect;
}

export async function endpointRow(endpointId: string) {
  const [row] = await ownerDb.http.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, endpointId));
  return row;
}
