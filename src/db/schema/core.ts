import { sql } from 'drizzle-orm';
import { index, jsonb, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { LimitOverrides } from '../../lib/limits.ts';

export const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

export const subscriptionTier = pgEnum('subscription_tier', ['free', 'pro', 'enterprise']);

export const users = pgTable('users', {
  id: uuid('id').primaryKey().defaultRandom(),
  /** Stored normalised (trimmed, lower-case); unique. */
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  ...timestamps,
});

export const organizations = pgTable('organizations', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  slug: text('slug').notNull().unique(),
  subscriptionTier: subscriptionTier('subscription_tier').notNull().default('free'),
  /** Per-org exceptions to the tier's limits (src/lib/limits.ts), set only by platform admins. */
  limitOverrides: jsonb('limit_overrides').$type<LimitOverrides>().notNull().default({}),
  ...timestamps,
  deletedAt: timestamp('deleted_at', { withTimezone: true }),
});

export const projects = pgTable(
  'projects',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description'),
    ...timestamps,
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (table) => [
    index('projects_org_created_idx').on(table.orgId, table.createdAt.desc(), table.id),
    index('projects_org_name_idx').on(table.orgId, sql`lower(${table.name})`),
  ],
);
