import { and, eq, exists, isNull, lte, or, sql } from 'drizzle-orm';
import type { HttpDatabase } from '../db/client.ts';
import { auditChainHeads, webhookEndpoints, webhookEndpointStates, webhookMessages } from '../db/schema/index.ts';
import type { Actor } from '../db/tenant.ts';
import { exactTimestamp, keysetAfter, keysetOrderBy, type KeyPart, type PageRequest } from '../lib/pagination.ts';
import { WEBHOOK_ENDPOINTS_PER_ORG } from '../lib/limits.ts';

// Query builders for webhook endpoints and their delivery log, composed by handlers behind the org's gate.

/** What a caller sets on an endpoint. */
export interface EndpointInput {
  url: string;
  description?: string;
  /** null: every event type. */
  eventTypes?: string[] | null;
  enabled?: boolean;
}

/** Refuses a create beyond the org's endpoint limit (403 QUOTA_EXCEEDED); put right before the insert. */
export const endpointLimitCheck = (orgId: string) => sql`select app_check_webhook_endpoints(${orgId}::uuid, ${WEBHOOK_ENDPOINTS_PER_ORG})`;

/** Inserts an endpoint with its sealed secret; returns the row. */
export function insertEndpoint(db: HttpDatabase, actor: Actor, orgId: string, id: string, input: EndpointInput, secretCiphertext: string) {
  return db
    .insert(webhookEndpoints)
    .values({
      id,
      orgId,
      url: input.url,
      description: input.description ?? '',
      eventTypes: input.eventTypes ?? null,
      enabled: input.enabled ?? true,
      secretCiphertext,
      createdBy: actor.type === 'user' ? actor.id : null,
    })
    .returning();
}

/**
 * The endpoint's cursor, at the org's audit head as it stands after the endpoint's own insert (same
 * transaction): it receives events from its creation on, never older ones (replay fetches those on request).
 */
export function insertEndpointState(db: HttpDatabase, orgId: string, endpointId: string) {
  return db.insert(webhookEndpointStates).values({
    endpointId,
    orgId,
    cursorSeq: sql`coalesce((select ${auditChainHeads.seq} from ${auditChainHeads} where ${auditChainHeads.orgId} = ${orgId}::uuid), 0)`,
  });
}

const newestFirst: KeyPart[] = [
  { expression: webhookEndpoints.createdAt, direction: 'desc' },
  { expression: webhookEndpoints.id, direction: 'desc' },
];

/** A page of the org's endpoints, newest first (`limit + 1` rows), each with its key text for the cursor. */
export function selectEndpointPage(db: HttpDatabase, orgId: string, page: PageRequest) {
  return db
    .select({ endpoint: webhookEndpoints, keyText: exactTimestamp(webhookEndpoints.createdAt) })
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.orgId, orgId), page.after ? keysetAfter(newestFirst, page.after) : undefined))
    .orderBy(...keysetOrderBy(newestFirst))
    .limit(page.limit + 1);
}

export function selectEndpoint(db: HttpDatabase, endpointId: string) {
  return db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, endpointId));
}

/** Applies a partial change; enabling an endpoint clears why the system disabled it. */
export function updateEndpoint(db: HttpDatabase, endpointId: string, input: Partial<EndpointInput>) {
  return db
    .update(webhookEndpoints)
    .set({
      ...(input.url !== undefined && { url: input.url }),
      ...(input.description !== undefined && { description: input.description }),
      ...(input.eventTypes !== undefined && { eventTypes: input.eventTypes }),
      ...(input.enabled !== undefined && { enabled: input.enabled, disabledReason: null }),
      updatedAt: sql`now()`,
    })
    .where(eq(webhookEndpoints.id, endpointId))
    .returning();
}

/** An enabled endpoint starts failing afresh: the 5-day clock restarts at its next failure. */
export function resetEndpointFailures(db: HttpDatabase, endpointId: string) {
  return db.update(webhookEndpointStates).set({ failingSince: null }).where(eq(webhookEndpointStates.endpointId, endpointId));
}

export function deleteEndpoint(db: HttpDatabase, endpointId: string) {
  return db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, endpointId)).returning({ id: webhookEndpoints.id });
}

/** A new secret; the current one keeps signing for `graceSeconds`. Only when no earlier secret is still in its grace (else no row). */
export function rotateEndpointSecret(db: HttpDatabase, endpointId: string, secretCiphertext: string, graceSeconds: number) {
  return db
    .update(webhookEndpoints)
    .set({
      secretCiphertext,
      previousSecretCiphertext: sql`${webhookEndpoints.secretCiphertext}`,
      previousExpiresAt: sql`now() + make_interval(secs => ${graceSeconds})`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(webhookEndpoints.id, endpointId), or(isNull(webhookEndpoints.previousExpiresAt), lte(webhookEndpoints.previousExpiresAt, sql`now()`))))
    .returning();
}

const messagesNewestFirst: KeyPart[] = [
  { expression: webhookMessages.createdAt, direction: 'desc' },
  { expression: webhookMessages.id, direction: 'desc' },
];

/** A page of an endpoint's delivery log, newest first, optionally of one status. */
export function selectMessagePage(db: HttpDatabase, endpointId: string, status: string | undefined, page: PageRequest) {
  return db
    .select({ message: webhookMessages, keyText: exactTimestamp(webhookMessages.createdAt) })
    .from(webhookMessages)
    .where(
      and(
        eq(webhookMessages.endpointId, endpointId),
        status ? eq(webhookMessages.status, status) : undefined,
        page.after ? keysetAfter(messagesNewestFirst, page.after) : undefined,
      ),
    )
    .orderBy(...keysetOrderBy(messagesNewestFirst))
    .limit(page.limit + 1);
}

/** Puts one message of an enabled endpoint back in the queue's hands: pending, due now, the retry schedule afresh. */
export function requeueMessage(db: HttpDatabase, endpointId: string, messageId: string, now: Date) {
  const enabled = db.select({ id: webhookEndpoints.id }).from(webhookEndpoints).where(and(eq(webhookEndpoints.id, endpointId), eq(webhookEndpoints.enabled, true)));
  return db
    .update(webhookMessages)
    .set({ status: 'pending', attempts: 0, nextAttemptAt: now })
    .where(and(eq(webhookMessages.id, messageId), eq(webhookMessages.endpointId, endpointId), exists(enabled)))
    .returning({ id: webhookMessages.id, attempts: webhookMessages.attempts });
}

/** A test event for an enabled endpoint (none otherwise): not derived from the audit log, so no `auditSeq`. */
export function insertTestMessage(db: HttpDatabase, endpointId: string, id: string, now: Date) {
  const payload = sql`jsonb_build_object('type', 'webhook.test', 'timestamp', ${now.toISOString()}::text,
    'data', jsonb_build_object('orgId', e.org_id, 'endpointId', e.id, 'message', 'A test event: your endpoint receives and verifies webhooks.'))`;
  return db.execute<{ id: string }>(sql`insert into webhook_messages (id, org_id, endpoint_id, event_type, payload, next_attempt_at)
    select ${id}, e.org_id, e.id, 'webhook.test', ${payload}, ${now.toISOString()}::timestamptz from webhook_endpoints e
    where e.id = ${endpointId}::uuid and e.enabled
    returning id`);
}

/** One message of the delivery log. */
export function selectMessage(db: HttpDatabase, messageId: string) {
  return db.select().from(webhookMessages).where(eq(webhookMessages.id, messageId));
}
