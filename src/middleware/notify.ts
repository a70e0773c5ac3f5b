import type { Context } from 'hono';
import type { AppEnv } from '../env.ts';
import type { NotificationEventInput } from '../services/notification-events.ts';
import { queueNotification } from '../services/notification-queue.ts';

/**
 * Queues a notification event after the response (`waitUntil`): no Postgres round trip and no delay on the
 * request, and a failed send never fails it (README, "Notifications").
 */
export function notify<E extends AppEnv>(c: Context<E>, event: NotificationEventInput): void {
  c.executionCtx.waitUntil(queueNotification(c.env.JOBS, event));
}
