import { index, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * Idempotency keys (`Idempotency-Key` on writes): one row per caller and key, claimed in the same transaction
 * as the work it guards, completed with the response once that committed. The key and the response are never
 * stored in clear (src/lib/idempotency.ts): `key_hash` and `fingerprint` are HMACs under a secret derived from
 * the key, the caller and `TOKEN_SECRET`; `response` is sealed with AES-GCM under the same material.
 * Row-level security keys rows on the caller the gate admitted (src/db/sql/idempotency.sql).
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    /** The user or API key that sent the key (the gate's verified actor). */
    actorId: uuid('actor_id').notNull(),
    keyHash: text('key_hash').notNull(),
    /** Method, path and canonical body of the first request. */
    fingerprint: text('fingerprint').notNull(),
    /** Null while the first request runs (or if its answer was lost); then the sealed status, headers and body. */
    response: text('response'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.actorId, table.keyHash] }), index('idempotency_keys_created_at_idx').on(table.createdAt)],
);
