import { bigint, boolean, index, integer, jsonb, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { organizations, timestamps, users } from './core.ts';

const orgId = () =>
  uuid('org_id')
    .notNull()
    .references(() => organizations.id, { onDelete: 'cascade' });

/**
 * An org's webhook endpoint (audited like every tenant table; the audit log redacts `url` and the secrets).
 * Signing secrets are kept AES-GCM encrypted (src/lib/webhook-secrets.ts): they must be usable for HMAC, so
 * they cannot be only hashed. After a rotation the previous secret also signs until `previousExpiresAt`.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: uuid('id').primaryKey(),
    orgId: orgId(),
    url: text('url').notNull(),
    description: text('description').notNull().default(''),
    /** Event types delivered; null: all of them. */
    eventTypes: text('event_types').array(),
    enabled: boolean('enabled').notNull().default(true),
    /** Why the system disabled it (e.g. failing for 5 days); null when enabled or disabled by a person. */
    disabledReason: text('disabled_reason'),
    secretCiphertext: text('secret_ciphertext').notNull(),
    previousSecretCiphertext: text('previous_secret_ciphertext'),
    previousExpiresAt: timestamp('previous_expires_at', { withTimezone: true }),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    ...timestamps,
  },
  (table) => [index('webhook_endpoints_org_idx').on(table.orgId, table.createdAt.desc())],
);

/**
 * Delivery bookkeeping of an endpoint, moved by every fan-out and delivery: kept out of the audited table,
 * or each delivery would itself be an audit entry (and an event). `cursorSeq` is the org's audit `seq` up to
 * which events have been fanned out to this endpoint; `failingSince` the first failure since the last success.
 */
export const webhookEndpointStates = pgTable('webhook_endpoint_states', {
  endpointId: uuid('endpoint_id')
    .primaryKey()
    .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
  orgId: orgId(),
  cursorSeq: bigint('cursor_seq', { mode: 'number' }).notNull(),
  failingSince: timestamp('failing_since', { withTimezone: true }),
});

/**
 * One event for one endpoint: its `id` (`msg_…`) is the `webhook-id` of every attempt, so receivers dedupe by
 * it. Derived from the audit entry `auditSeq` (null for test events); the latest attempt's outcome is kept.
 */
export const webhookMessages = pgTable(
  'webhook_messages',
  {
    id: text('id').primaryKey(),
    orgId: orgId(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    auditSeq: bigint('audit_seq', { mode: 'number' }),
    eventType: text('event_type').notNull(),
    payload: jsonb('payload').notNull(),
    /** pending (an attempt is due at `nextAttemptAt`), succeeded, failed (the endpoint was disabled), dead (retries ran out). */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    lastAttemptAt: timestamp('last_attempt_at', { withTimezone: true }),
    lastStatusCode: integer('last_status_code'),
    lastLatencyMs: integer('last_latency_ms'),
    lastError: text('last_error'),
    /** The start of the receiver's last response body, truncated. */
    lastResponse: text('last_response'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    unique('webhook_messages_endpoint_seq_key').on(table.endpointId, table.auditSeq),
    index('webhook_messages_endpoint_idx').on(table.endpointId, table.createdAt.desc()),
    index('webhook_messages_due_idx').on(table.nextAttemptAt).where(sql`${table.status} = 'pending'`),
  ],
);
