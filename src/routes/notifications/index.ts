import { createRouter } from '../router.ts';
import {
  deleteNotificationHandler,
  getNotificationPreferencesHandler,
  listNotificationsHandler,
  markAllNotificationsReadHandler,
  markNotificationReadHandler,
  replaceNotificationPreferencesHandler,
  unreadNotificationsHandler,
  updateNotificationPreferencesHandler,
} from './notifications.handlers.ts';
import {
  deleteNotificationRoute,
  getNotificationPreferences,
  listNotifications,
  markAllNotificationsRead,
  markNotificationRead,
  replaceNotificationPreferences,
  unreadNotifications,
  updateNotificationPreferences,
} from './notifications.routes.ts';

/** The caller's notifications and their channels (README, "Notifications"). */
export const notificationRoutes = createRouter()
  .openapi(listNotifications, listNotificationsHandler)
  .openapi(unreadNotifications, unreadNotificationsHandler)
  .openapi(markAllNotificationsRead, markAllNotificationsReadHandler)
  .openapi(markNotificationRead, markNotificationReadHandler)
  .openapi(deleteNotificationRoute, deleteNotificationHandler)
  .openapi(getNotificationPreferences, getNotificationPreferencesHandler)
  .openapi(replaceNotificationPreferences, replaceNotificationPreferencesHandler)
  .openapi(updateNotificationPreferences, updateNotificationPreferencesHandler);
