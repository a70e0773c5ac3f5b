import { bodyErrorResponses, errorResponse } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { listEnvelope } from '../../lib/pagination.ts';
import { jsonBody } from '../../lib/request-body.ts';
import { userRoute } from '../route-kinds.ts';
import {
  listNotificationsQuery,
  markAllReadSchema,
  notificationParams,
  notificationSchema,
  preferencesSchema,
  replacePreferencesBody,
  unreadCountSchema,
  updatePreferencesBody,
} from './notifications.schemas.ts';

const tags = ['Notifications'];
const notFound = errorResponse('No notification of yours has this id (`NOT_FOUND`).');
const required = errorResponse('`NOTIFICATION_REQUIRED`: a security category cannot be turned off (`none`); `details.categories` names them.');

export const listNotifications = userRoute({
  method: 'get',
  path: '/me/notifications',
  tags,
  summary: 'Your notifications',
  description: 'Newest first, with cursor pagination; filter by `unread` and `category`.',
  request: { query: listNotificationsQuery },
  responses: { 200: jsonContent(listEnvelope(notificationSchema), 'A page of notifications.') },
});

export const unreadNotifications = userRoute({
  method: 'get',
  path: '/me/notifications/unread-count',
  tags,
  summary: 'How many of your notifications are unread',
  responses: { 200: jsonContent(dataEnvelope(unreadCountSchema), 'The unread count.') },
});

export const markNotificationRead = userRoute({
  method: 'post',
  path: '/me/notifications/{notificationId}/read',
  tags,
  summary: 'Mark one notification read',
  description: 'Marking it again keeps the first `readAt`.',
  request: { params: notificationParams },
  responses: { 200: jsonContent(dataEnvelope(notificationSchema), 'The notification.'), 404: notFound },
});

export const markAllNotificationsRead = userRoute({
  method: 'post',
  path: '/me/notifications/read-all',
  tags,
  summary: 'Mark all your notifications read',
  responses: { 200: jsonContent(dataEnvelope(markAllReadSchema), 'How many were unread.') },
});

export const deleteNotificationRoute = userRoute({
  method: 'delete',
  path: '/me/notifications/{notificationId}',
  tags,
  summary: 'Delete one notification',
  request: { params: notificationParams },
  responses: { 204: { description: 'The notification is deleted.' }, 404: notFound },
});

export const getNotificationPreferences = userRoute({
  method: 'get',
  path: '/me/notification-preferences',
  tags,
  summary: 'Your notification channels per category',
  responses: { 200: jsonContent(dataEnvelope(preferencesSchema), 'Every category with its channel (its default unless you chose one).') },
});

export const replaceNotificationPreferences = userRoute({
  method: 'put',
  path: '/me/notification-preferences',
  tags,
  summary: 'Set the channel of every category',
  request: { body: jsonBody(replacePreferencesBody, 'Every category with its channel.') },
  responses: { ...bodyErrorResponses, 200: jsonContent(dataEnvelope(preferencesSchema), 'The preferences now.'), 422: required },
});

export const updateNotificationPreferences = userRoute({
  method: 'patch',
  path: '/me/notification-preferences',
  tags,
  summary: 'Set the channel of some categories',
  request: { body: jsonBody(updatePreferencesBody, 'The categories to change; the others are kept.') },
  responses: { ...bodyErrorResponses, 200: jsonContent(dataEnvelope(preferencesSchema), 'The preferences now.'), 422: required },
});
