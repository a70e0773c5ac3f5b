import { sql } from 'drizzle-orm';
import { boolean, index, jsonb, pgEnum, pgTable, primaryKey, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { NOTIFICATION_CATEGORIES, NOTIFICATION_CHANNELS } from '../../lib/notification-categories.ts';
import { organizations, users } from './core.ts';

/** What a notification carries for clients besides its text: flat values (ids, a role, byte counts). */
export type NotificationData = Record<string, string | number | boolean | null>;

export const notificationCategory = pgEnum('notification_category', NOTIFICATION_CATEGORIES);
export const notificationChannel = pgEnum('notification_channel', NOTIFICATION_CHANNELS);

/**
 * A user's notifications. User-scoped, not a tenant table: the owner is `user_id` (row-level security keys on
 * app_user_id(), src/db/sql/notifications.sql); `source_org_id` only says which org an event came from. One row
 * per event and user (`dedupe_key`), whatever the number of queue deliveries; `pushed_at` and `emailed_at` record
 * which effects are done, so a retry completes only what is missing. `in_app` false: an email-only notification,
 * kept for its dedupe and effect state but never listed; with `email_wanted` false too and no text, a silent row for
 * a recipient who is not told (preference `none`, deactivated), kept so the daily tasks do not pick them again.
 */
export const notifications = pgTable(
  'notifications',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    sourceOrgId: uuid('source_org_id').references(() => organizations.id, { onDelete: 'cascade' }),
    category: notificationCategory('category').notNull(),
    type: text('type').notNull(),
    title: text('title').notNull(),
    body: text('body').notNull(),
    data: jsonb('data').$type<NotificationData>().notNull().default({}),
    dedupeKey: text('dedupe_key').notNull(),
    inApp: boolean('in_app').notNull().default(true),
    emailWanted: boolean('email_wanted').notNull().default(false),
    readAt: timestamp('read_at', { withTimezone: true }),
    pushedAt: timestamp('pushed_at', { withTimezone: true }),
    emailedAt: timestamp('emailed_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    unique('notifications_user_dedupe_key').on(table.userId, table.dedupeKey),
    index('notifications_user_created_idx').on(table.userId, table.createdAt.desc(), table.id.desc()),
    index('notifications_user_unread_idx').on(table.userId).where(sql`${table.readAt} is null and ${table.inApp}`),
  ],
);

/** A user's channel per category; a category without a row uses its default (src/lib/notification-categories.ts). */
export const notificationPreferences = pgTable(
  'notification_preferences',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    category: notificationCategory('category').notNull(),
    channel: notificationChannel('channel').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.category] })],
);
