import type { RouteHandler } from '@hono/zod-openapi';
import { ApiError } from '../../errors.ts';
import { REQUIRED_CATEGORIES, type NotificationCategory, type NotificationChannel } from '../../lib/notification-categories.ts';
import { decodeCursor, takePage } from '../../lib/pagination.ts';
import {
  countUnread,
  deleteNotification,
  effectivePreferences,
  markAllRead,
  markRead,
  notificationView,
  selectNotificationPage,
  selectPreferences,
  upsertPreferences,
} from '../../services/notifications.ts';
import type {
  deleteNotificationRoute,
  getNotificationPreferences,
  listNotifications,
  markAllNotificationsRead,
  markNotificationRead,
  replaceNotificationPreferences,
  unreadNotifications,
  updateNotificationPreferences,
} from './notifications.routes.ts';
import { notificationCursor } from './notifications.schemas.ts';

// One round trip each: the user gate (live session) and the work, on the caller's own rows only.

const notFound = () => new ApiError('NOT_FOUND', 'Notification not found.');

export const listNotificationsHandler: RouteHandler<typeof listNotifications> = async (c) => {
  const { limit, cursor, unread, category } = c.req.valid('query');
  const after = cursor === undefined ? undefined : decodeCursor(cursor, notificationCursor);
  const [rows] = await c.var.account.batch((db) => [selectNotificationPage(db, c.var.actor.id, { unread, category }, { limit, after })]);
  const page = takePage(rows, limit, (row) => [row.keyText, row.row.id]);
  return c.json({ data: page.items.map((item) => notificationView(item.row)), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

export const unreadNotificationsHandler: RouteHandler<typeof unreadNotifications> = async (c) => {
  const [[row]] = await c.var.account.batch((db) => [countUnread(db, c.var.actor.id)]);
  return c.json({ data: { unread: row?.unread ?? 0 } }, 200);
};

export const markNotificationReadHandler: RouteHandler<typeof markNotificationRead> = async (c) => {
  const { notificationId } = c.req.valid('param');
  const [[row]] = await c.var.account.batch((db) => [markRead(db, c.var.actor.id, notificationId)]);
  if (!row) throw notFound();
  return c.json({ data: notificationView(row) }, 200);
};

export const markAllNotificationsReadHandler: RouteHandler<typeof markAllNotificationsRead> = async (c) => {
  const [rows] = await c.var.account.batch((db) => [markAllRead(db, c.var.actor.id)]);
  return c.json({ data: { marked: rows.length } }, 200);
};

export const deleteNotificationHandler: RouteHandler<typeof deleteNotificationRoute> = async (c) => {
  const { notificationId } = c.req.valid('param');
  const [rows] = await c.var.account.batch((db) => [deleteNotification(db, c.var.actor.id, notificationId)]);
  if (rows.length === 0) throw notFound();
  return c.body(null, 204);
};

export const getNotificationPreferencesHandler: RouteHandler<typeof getNotificationPreferences> = async (c) => {
  const [rows] = await c.var.account.batch((db) => [selectPreferences(db, c.var.actor.id)]);
  return c.json({ data: effectivePreferences(rows) }, 200);
};

/** 422 before any write when a category that cannot be turned off is set to `none`. */
function refuseRequiredOff(changes: Partial<Record<NotificationCategory, NotificationChannel>>): void {
  const categories = Object.entries(changes).flatMap(([name, channel]) => (channel === 'none' && REQUIRED_CATEGORIES.has(name as NotificationCategory) ? [name] : []));
  if (categories.length > 0) {
    throw new ApiError('NOTIFICATION_REQUIRED', 'Security notifications cannot be turned off: choose in_app, email or both.', { categories });
  }
}

/** One round trip: the gate, the upsert (skipped when nothing is named) and the read of the result. */
async function savePreferences(c: Parameters<RouteHandler<typeof updateNotificationPreferences>>[0], changes: Partial<Record<NotificationCategory, NotificationChannel>>) {
  refuseRequiredOff(changes);
  const userId = c.var.actor.id;
  if (Object.keys(changes).length === 0) {
    const [rows] = await c.var.account.batch((db) => [selectPreferences(db, userId)]);
    return effectivePreferences(rows);
  }
  const [, rows] = await c.var.account.batch((db) => [upsertPreferences(db, userId, changes), selectPreferences(db, userId)]);
  return effectivePreferences(rows);
}

export const replaceNotificationPreferencesHandler: RouteHandler<typeof replaceNotificationPreferences> = async (c) =>
  c.json({ data: await savePreferences(c, c.req.valid('json')) }, 200);

export const updateNotificationPreferencesHandler: RouteHandler<typeof updateNotificationPreferences> = async (c) =>
  c.json({ data: await savePreferences(c, c.req.valid('json')) }, 200);
