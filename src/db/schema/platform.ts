import { bigserial, boolean, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { timestamps, users } from './core.ts';

// Platform-level tables: not any tenant's rows, written only through platform-admin routes and scripts.

/**
 * Feature flags. Postgres is the source of truth; KV (`FLAGS`) holds the edge copy that requests evaluate,
 * written on every change and resynced by cron. `rules` holds the targeting conditions, `value` an optional
 * typed value or variant; `version` grows with every change so an edge copy can tell which is newer.
 */
export const featureFlags = pgTable('feature_flags', {
  key: text('key').primaryKey(),
  description: text('description').notNull().default(''),
  enabled: boolean('enabled').notNull().default(false),
  rules: jsonb('rules').notNull().default({}),
  value: jsonb('value'),
  version: integer('version').notNull().default(1),
  updatedBy: uuid('updated_by').references(() => users.id, { onDelete: 'set null' }),
  ...timestamps,
});

/** What platform admins did (tier changes, overrides, flags): append-only, like the tenants' audit log. */
export const platformAuditLog = pgTable(
  'platform_audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    actorId: uuid('actor_id').references(() => users.id, { onDelete: 'set null' }),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id'),
    changes: jsonb('changes').notNull().default({}),
    requestId: text('request_id'),
    ip: text('ip'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('platform_audit_log_created_idx').on(table.createdAt.desc(), table.id)],
);
