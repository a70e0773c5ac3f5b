import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import { memberships, organizations, users, webhookEndpoints, webhookEndpointStates, webhookMessages } from '../db/schema/index.ts';
import { describeError, log } from '../lib/log.ts';
import { resolvedAddressProblem, webhookUrlProblem } from '../lib/ssrf.ts';
import { WEBHOOK_DISABLE_AFTER_MS, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RESPONSE_KEPT_BYTES, WEBHOOK_RETRY_DELAYS_SECONDS } from '../lib/webhook-events.ts';
import { openWebhookSecret, signWebhook } from '../lib/webhook-signing.ts';
import { recordJobFailure } from './job-failures.ts';
import { enqueueJob, type ParsedJobPayload } from './jobs.ts';
import { queueNotification } from './notification-queue.ts';
import { enqueueDeliveries, systemContext } from './webhook-fanout.ts';

/** What a delivery needs besides its job: injectable so tests can move time and watch the queue. */
export interface DeliveryContext {
  config: Pick<Config, 'APP_ENV' | 'TOKEN_SECRET' | 'WEBHOOK_TIMEOUT_MS'>;
  db: Database;
  queue: Queue;
  /** Now, in ms since the epoch: decides due times, the grace of a rotated secret and the 5-day rule. */
  now?: () => number;
  fetcher?: typeof fetch;
}

/** While an attempt runs its message is leased: the cron sweep leaves it alone until the lease runs out. */
const LEASE_MS = 60_000;

interface Outcome {
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  response: string | null;
}

/** The start of a response body, at most WEBHOOK_RESPONSE_KEPT_BYTES, without reading the rest. */
async function bodyStart(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < WEBHOOK_RESPONSE_KEPT_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => {});
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) bytes.set(chunk, (offset += chunk.byteLength) - chunk.byteLength);
  return new TextDecoder().decode(bytes.subarray(0, WEBHOOK_RESPONSE_KEPT_BYTES));
}

/** One POST, signed, with a timeout and no redirects followed: what happened, never a throw. */
async function post(context: DeliveryContext, url: string, headers: Record<string, string>, body: string): Promise<Outcome> {
  const started = Date.now();
  const latency = () => Date.now() - started;
  const timeoutMs = context.config.WEBHOOK_TIMEOUT_MS;
  try {
    const problem = webhookUrlProblem(url, context.config.APP_ENV === 'development' || context.config.APP_ENV === 'test');
    const resolved = problem ?? (context.config.APP_ENV === 'production' ? await resolvedAddressProblem(new URL(url).hostname, context.fetcher) : undefined);
    if (resolved) return { ok: false, statusCode: null, latencyMs: latency(), error: `refused: URL ${resolved}`, response: null };
    const response = await (context.fetcher ?? fetch)(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    const text = await bodyStart(response);
    const ok = response.status >= 200 && response.status < 300;
    const error = ok ? null : response.status >= 300 && response.status < 400 ? `redirect (${response.status}) not followed` : `HTTP ${response.status}`;
    return { ok, statusCode: response.status, latencyMs: latency(), error, response: text };
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    const message = name === 'TimeoutError' || name === 'AbortError' ? `timed out after ${timeoutMs} ms` : `connection failed: ${String(describeError(error).message)}`;
    return { ok: false, statusCode: null, latencyMs: latency(), error: message, response: null };
  }
}

/**
 * Job `webhooks.deliver`: one attempt of one message. Claims the attempt first (attempts = `attempt` →
 * `attempt + 1`), so a duplicated queue message is a no-op; signs with the current secret and, during a
 * rotation's grace, the previous one; records the outcome; schedules the next attempt on Svix's schedule (a
 * new queue message with its delay) or dead-letters the message after the last. An endpoint failing without a
 * success for 5 days is disabled and the org's owners and admins are emailed. Receiver failures never throw:
 * only our own (the database) do, and the queue retries those.
 */
export async function deliverWebhook(context: DeliveryContext, job: ParsedJobPayload<'webhooks.deliver'>): Promise<void> {
  const { db, config } = context;
  const now = (context.now ?? Date.now)();
  const at = (ms: number) => new Date(ms).toISOString();
  const [, claimed, endpoints] = await db.http.batch([
    db.http.execute(systemContext(job.orgId)),
    db.http
      .update(webhookMessages)
      .set({ attempts: sql`${webhookMessages.attempts} + 1`, lastAttemptAt: new Date(now), nextAttemptAt: new Date(now + config.WEBHOOK_TIMEOUT_MS + LEASE_MS) })
      .where(and(eq(webhookMessages.id, job.messageId), eq(webhookMessages.attempts, job.attempt), eq(webhookMessages.status, 'pending')))
      .returning(),
    db.http
      .select()
      .from(webhookEndpoints)
      .innerJoin(webhookMessages, eq(webhookMessages.endpointId, webhookEndpoints.id))
      .where(eq(webhookMessages.id, job.messageId)),
  ]);
  const message = claimed[0];
  const endpoint = endpoints[0]?.webhook_endpoints;
  if (!message || !endpoint) return; // a duplicate, an attempt already made, or the endpoint is gone
  if (!endpoint.enabled) {
    await db.http.batch([
      db.http.execute(systemContext(job.orgId)),
      db.http.update(webhookMessages).set({ status: 'failed', nextAttemptAt: null, lastError: 'endpoint disabled' }).where(eq(webhookMessages.id, message.id)),
    ]);
    return;
  }
  const sealed = [endpoint.secretCiphertext];
  if (endpoint.previousSecretCiphertext && endpoint.previousExpiresAt && endpoint.previousExpiresAt.getTime() > now) sealed.push(endpoint.previousSecretCiphertext);
  const body = JSON.stringify(message.payload);
  const timestamp = Math.floor(now / 1000);
  // A secret that no longer decrypts (TOKEN_SECRET replaced) fails the attempt like a receiver would, so the
  // message still ends, dead, on the schedule rather than looping through queue retries.
  const secrets = await Promise.all(sealed.map((text) => openWebhookSecret(config.TOKEN_SECRET, endpoint.id, text))).catch(() => undefined);
  const outcome = secrets
    ? await post(context, endpoint.url, {
        'content-type': 'application/json',
        'user-agent': 'edge-saas-webhooks/1',
        'webhook-id': message.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': await signWebhook(secrets, message.id, timestamp, body),
      }, body)
    : { ok: false, statusCode: null, latencyMs: 0, error: 'signing secret unreadable: rotate it (TOKEN_SECRET changed?)', response: null };
  const dead = !outcome.ok && message.attempts >= WEBHOOK_MAX_ATTEMPTS;
  const delay = WEBHOOK_RETRY_DELAYS_SECONDS[message.attempts - 1] ?? 0;
  const status = outcome.ok ? 'succeeded' : dead ? 'dead' : 'pending';
  const [, , states] = await db.http.batch([
    db.http.execute(systemContext(job.orgId)),
    db.http
      .update(webhookMessages)
      .set({
        status,
        nextAttemptAt: status === 'pending' ? new Date(now + delay * 1000) : null,
        lastStatusCode: outcome.statusCode,
        lastLatencyMs: outcome.latencyMs,
        lastError: outcome.error,
        lastResponse: outcome.response,
      })
      .where(eq(webhookMessages.id, message.id)),
    db.http
      .update(webhookEndpointStates)
      .set({ failingSince: outcome.ok ? null : sql`coalesce(${webhookEndpointStates.failingSince}, ${at(now)}::timestamptz)` })
      .where(eq(webhookEndpointStates.endpointId, endpoint.id))
      .returning({ failingSince: webhookEndpointStates.failingSince }),
  ]);
  if (outcome.ok) return;
  log('warn', 'webhook delivery failed', { orgId: job.orgId, endpointId: endpoint.id, messageId: message.id, attempt: message.attempts, error: outcome.error });
  if (status === 'pending') await enqueueDeliveries(context.queue, job.orgId, [{ id: message.id, attempts: message.attempts }], delay);
  if (dead) {
    await recordJobFailure(db, { jobId: message.id, type: 'webhooks.deliver', payload: { ...job, endpointId: endpoint.id, eventType: message.eventType }, attempts: message.attempts, error: outcome.error ?? 'failed' }, true);
  }
  const failingSince = states[0]?.failingSince;
  if (failingSince && now - failingSince.getTime() >= WEBHOOK_DISABLE_AFTER_MS) await disableEndpoint(context, job.orgId, endpoint);
}

/** Disables a failing endpoint (once: only the update that flips `enabled` emails) and emails the org's owners and admins. */
async function disableEndpoint(context: DeliveryContext, orgId: string, endpoint: { id: string; description: string }): Promise<void> {
  const { db } = context;
  const [, disabled, admins, orgs] = await db.http.batch([
    db.http.execute(systemContext(orgId)),
    db.http
      .update(webhookEndpoints)
      .set({ enabled: false, disabledReason: 'failing for 5 days', updatedAt: sql`now()` })
      .where(and(eq(webhookEndpoints.id, endpoint.id), eq(webhookEndpoints.enabled, true)))
      .returning({ id: webhookEndpoints.id }),
    db.http
      .select({ id: users.id, email: users.email })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(and(eq(memberships.orgId, orgId), inArray(memberships.role, ['owner', 'admin']))),
    db.http.select({ name: organizations.name }).from(organizations).where(eq(organizations.id, orgId)),
  ]);
  if (disabled.length === 0) return;
  log('warn', 'webhook endpoint disabled', { orgId, endpointId: endpoint.id });
  const data = { orgName: orgs[0]?.name ?? '', orgId, endpointId: endpoint.id, description: endpoint.description };
  // The endpoint is disabled now, and a retry of this job would not come back here: every effect is tried once,
  // each failure logged, none able to stop the others.
  await queueNotification(context.queue, { type: 'webhook.disabled', orgId, endpointId: endpoint.id, description: endpoint.description.slice(0, 1000), userIds: admins.map(({ id }) => id) });
  const emails = await Promise.allSettled(admins.map(({ email }) => enqueueJob(context.queue, 'email.send', { to: email, template: 'webhook-disabled', data })));
  for (const email of emails) if (email.status === 'rejected') log('error', 'webhook-disabled email not queued', { orgId, endpointId: endpoint.id, error: describeError(email.reason) });
}
