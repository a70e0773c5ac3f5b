/**
 * In-app notification categories and delivery channels (README, "Notifications"). Pure: the schema, the
 * routes, the delivery job and the tests share these lists.
 */
export const NOTIFICATION_CATEGORIES = ['invitations', 'membership', 'api_keys', 'webhooks', 'storage', 'security'] as const;
export type NotificationCategory = (typeof NOTIFICATION_CATEGORIES)[number];

export const NOTIFICATION_CHANNELS = ['in_app', 'email', 'both', 'none'] as const;
export type NotificationChannel = (typeof NOTIFICATION_CHANNELS)[number];

/** Categories that cannot be turned off entirely: `none` is refused (422 `NOTIFICATION_REQUIRED`). */
export const REQUIRED_CATEGORIES: ReadonlySet<NotificationCategory> = new Set(['security']);

/** The channel of a category nobody has chosen one for. */
export const DEFAULT_CHANNELS: Readonly<Record<NotificationCategory, NotificationChannel>> = {
  invitations: 'both',
  membership: 'in_app',
  api_keys: 'both',
  webhooks: 'in_app',
  storage: 'both',
  security: 'both',
};

/** Whether a channel shows the notification in the app, and whether it emails it. */
export function channelEffects(channel: NotificationChannel): { inApp: boolean; email: boolean } {
  return { inApp: channel === 'in_app' || channel === 'both', email: channel === 'email' || channel === 'both' };
}

/** Storage notifications fire once an org stores this share of its quota (once per org and month). */
export const STORAGE_WARNING_RATIO = 0.8;
/** API keys expiring within this many days notify their creator (once per key). */
export const KEY_EXPIRY_WARNING_DAYS = 7;
/** A sign-in from a user agent and IP seen in the user's sessions of this many days is not new. */
export const SIGN_IN_MEMORY_DAYS = 90;
/** Notifications older than this are deleted by the daily cron, read or not. */
export const NOTIFICATION_RETENTION_DAYS = 180;
