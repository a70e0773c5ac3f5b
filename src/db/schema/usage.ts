import { bigint, date, index, integer, jsonb, pgTable, primaryKey, real, timestamp, uuid } from 'drizzle-orm/pg-core';
import { organizations } from './core.ts';

// Usage analytics (README, "Usage analytics"). The raw events live in `usage_events`, partitioned by month; drizzle
// cannot declare partitioning, so that table is written by hand in its migration and reached only through SQL
// functions (src/db/sql/usage.sql). These are the rollups every usage read is answered from: written only by the
// refresh (app_usage_refresh_day), read by the runtime under RLS.

const orgId = () =>
  uuid('org_id')
    .notNull()
    .references(() => organizations.id, { onDelete: 'cascade' });

/** One org's day: API requests (by route class × status class), latency percentiles, active users, product events, storage. */
export const usageDaily = pgTable(
  'usage_daily',
  {
    orgId: orgId(),
    day: date('day', { mode: 'string' }).notNull(),
    requests: integer('requests').notNull(),
    clientErrors: integer('client_errors').notNull(),
    serverErrors: integer('server_errors').notNull(),
    /** `{ "<route class>": { "2xx": n, "4xx": n, … } }` */
    requestsByClass: jsonb('requests_by_class').$type<Record<string, Record<string, number>>>().notNull(),
    p50Ms: real('p50_ms'),
    p95Ms: real('p95_ms'),
    activeUsers: integer('active_users').notNull(),
    productEvents: integer('product_events').notNull(),
    /** What the org stored when the day was last refreshed. */
    storageBytes: bigint('storage_bytes', { mode: 'number' }).notNull(),
    refreshedAt: timestamp('refreshed_at', { withTimezone: true }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.orgId, table.day] }), index('usage_daily_day_idx').on(table.day)],
);

/** One user's actions (API requests and product events) in one org on one day: what the summary adds up. */
export const userActivityDaily = pgTable(
  'user_activity_daily',
  {
    orgId: orgId(),
    userId: uuid('user_id').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    actions: integer('actions').notNull(),
  },
  (table) => [primaryKey({ columns: [table.orgId, table.userId, table.day] })],
);

/** The design's `user_activity_summary`: per user and org, total actions and active days (over the kept daily rows). */
export const userActivitySummary = pgTable(
  'user_activity_summary',
  {
    orgId: orgId(),
    userId: uuid('user_id').notNull(),
    totalActions: bigint('total_actions', { mode: 'number' }).notNull(),
    activeDays: integer('active_days').notNull(),
    firstActiveDay: date('first_active_day', { mode: 'string' }).notNull(),
    lastActiveDay: date('last_active_day', { mode: 'string' }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.orgId, table.userId] })],
);
