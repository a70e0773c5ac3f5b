import { z } from '@hono/zod-openapi';
import { cursorTimestamp, pathId } from '../../lib/fields.ts';
import { NOTIFICATION_CATEGORIES, NOTIFICATION_CHANNELS, REQUIRED_CATEGORIES } from '../../lib/notification-categories.ts';
import { paginationQuery } from '../../lib/pagination.ts';

const category = z.enum(NOTIFICATION_CATEGORIES);
const channel = z.enum(NOTIFICATION_CHANNELS);

export const notificationSchema = z
  .object({
    id: z.uuid(),
    category,
    type: z.string().openapi({ description: 'The event, e.g. `member.role_changed` (README, "Notifications").', example: 'member.role_changed' }),
    title: z.string(),
    body: z.string(),
    data: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).openapi({ description: 'Ids and facts of the event, for links.' }),
    orgId: z.uuid().nullable().openapi({ description: 'The organization the event came from; null for account events.' }),
    read: z.boolean(),
    readAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
  })
  .openapi('Notification');

export const notificationParams = z.object({ notificationId: pathId('notificationId') });

export const listNotificationsQuery = paginationQuery.extend({
  unread: z
    .enum(['true', 'false'])
    .optional()
    .transform((value) => (value === undefined ? undefined : value === 'true'))
    .openapi({ param: { name: 'unread', in: 'query' }, description: '`true`: unread only; `false`: read only.', type: 'string', enum: ['true', 'false'] }),
  category: category.optional().openapi({ param: { name: 'category', in: 'query' }, description: 'Only this category.' }),
});

/** Cursor of the list, newest first: (created at, exact to the microsecond; id). */
export const notificationCursor = z.tuple([cursorTimestamp, z.uuid()]);

export const unreadCountSchema = z.object({ unread: z.number().int().nonnegative() }).openapi('UnreadNotifications');
export const markAllReadSchema = z.object({ marked: z.number().int().nonnegative() }).openapi('NotificationsMarkedRead');

const required = [...REQUIRED_CATEGORIES].join(', ');
const channelDescription = `\`in_app\`, \`email\`, \`both\` or \`none\`. \`none\` is refused (422 \`NOTIFICATION_REQUIRED\`) for ${required}.`;

/** Every category's channel (the default where none was chosen). */
export const preferencesSchema = z
  .object(Object.fromEntries(NOTIFICATION_CATEGORIES.map((name) => [name, channel])) as Record<(typeof NOTIFICATION_CATEGORIES)[number], typeof channel>)
  .openapi('NotificationPreferences');

const preferenceField = channel.openapi({ description: channelDescription });
const shape = Object.fromEntries(NOTIFICATION_CATEGORIES.map((name) => [name, preferenceField])) as Record<(typeof NOTIFICATION_CATEGORIES)[number], typeof preferenceField>;

export const replacePreferencesBody = z.strictObject(shape).openapi('ReplaceNotificationPreferences');
export const updatePreferencesBody = z.strictObject(shape).partial().openapi('UpdateNotificationPreferences');
