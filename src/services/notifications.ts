import { and, count, eq, isNull, sql } from 'drizzle-orm';
import type { HttpDatabase } from '../db/client.ts';
import { notificationPreferences, notifications } from '../db/schema/index.ts';
import { DEFAULT_CHANNELS, NOTIFICATION_CATEGORIES, type NotificationCategory, type NotificationChannel } from '../lib/notification-categories.ts';
import { exactTimestamp, keysetAfter, keysetOrderBy, type KeyPart, type PageRequest } from '../lib/pagination.ts';

// A user's own notifications and preferences: query builders for the user gate's batch (routes/notifications).
// Every builder names the user, and row-level security (user_id = app_user_id()) is the second wall.

export type NotificationRow = typeof notifications.$inferSelect;

const newestFirst: KeyPart[] = [
  { expression: notifications.createdAt, direction: 'desc' },
  { expression: notifications.id, direction: 'desc' },
];

const listed = (userId: string) => and(eq(notifications.userId, userId), eq(notifications.inApp, true));
const one = (userId: string, id: string) => and(listed(userId), eq(notifications.id, id));

export interface NotificationFilter {
  unread?: boolean;
  category?: NotificationCategory;
}

/** A page of the user's in-app notifications, newest first (fetches `limit + 1` for `takePage`). */
export function selectNotificationPage(db: HttpDatabase, userId: string, filter: NotificationFilter, page: PageRequest) {
  return db
    .select({ row: notifications, keyText: exactTimestamp(notifications.createdAt) })
    .from(notifications)
    .where(
      and(
        listed(userId),
        filter.unread === undefined ? undefined : filter.unread ? isNull(notifications.readAt) : sql`${notifications.readAt} is not null`,
        filter.category ? eq(notifications.category, filter.category) : undefined,
        page.after ? keysetAfter(newestFirst, page.after) : undefined,
      ),
    )
    .orderBy(...keysetOrderBy(newestFirst))
    .limit(page.limit + 1);
}

/** How many of the user's in-app notifications are unread (the partial index `notifications_user_unread_idx`). */
export function countUnread(db: HttpDatabase, userId: string) {
  return db.select({ unread: count() }).from(notifications).where(and(listed(userId), isNull(notifications.readAt)));
}

/** Marks one notification read (keeps the first read time); answers it, or nothing when it is not the user's. */
export function markRead(db: HttpDatabase, userId: string, id: string) {
  return db
    .update(notifications)
    .set({ readAt: sql`coalesce(${notifications.readAt}, now())` })
    .where(one(userId, id))
    .returning();
}

/** Marks every unread notification read; answers their ids. */
export function markAllRead(db: HttpDatabase, userId: string) {
  return db
    .update(notifications)
    .set({ readAt: sql`now()` })
    .where(and(listed(userId), isNull(notifications.readAt)))
    .returning({ id: notifications.id });
}

/**
 * Deletes one notification. Only its text goes: the row stays as a tombstone (not listed) so a late retry of its
 * delivery job cannot bring it back.
 */
export function deleteNotification(db: HttpDatabase, userId: string, id: string) {
  return db
    .update(notifications)
    .set({ inApp: false, title: '', body: '', data: {}, readAt: sql`coalesce(${notifications.readAt}, now())` })
    .where(one(userId, id))
    .returning({ id: notifications.id });
}

/** The user's chosen channels (categories without a row use their default). */
export function selectPreferences(db: HttpDatabase, userId: string) {
  return db
    .select({ category: notificationPreferences.category, channel: notificationPreferences.channel })
    .from(notificationPreferences)
    .where(eq(notificationPreferences.userId, userId));
}

/** Saves the channels of the categories named; the others stay as they are. */
export function upsertPreferences(db: HttpDatabase, userId: string, changes: Partial<Record<NotificationCategory, NotificationChannel>>) {
  const values = Object.entries(changes).map(([category, channel]) => ({ userId, category: category as NotificationCategory, channel }));
  return db
    .insert(notificationPreferences)
    .values(values)
    .onConflictDoUpdate({
      target: [notificationPreferences.userId, notificationPreferences.category],
      set: { channel: sql`excluded.channel`, updatedAt: sql`now()` },
    });
}

/** Every category's effective channel, from the rows `selectPreferences` read. */
export function effectivePreferences(rows: ReadonlyArray<{ category: NotificationCategory; channel: NotificationChannel }>) {
  const chosen = new Map(rows.map((row) => [row.category, row.channel]));
  return Object.fromEntries(NOTIFICATION_CATEGORIES.map((category) => [category, chosen.get(category) ?? DEFAULT_CHANNELS[category]])) as Record<
    NotificationCategory,
    NotificationChannel
  >;
}

/** A notification as the API and the realtime push show it: an explicit pick, so a new column never leaks. */
export function notificationView(row: NotificationRow) {
  return {
    id: row.id,
    category: row.category,
    type: row.type,
    title: row.title,
    body: row.body,
    data: row.data,
    orgId: row.sourceOrgId,
    read: row.readAt !== null,
    readAt: row.readAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}
