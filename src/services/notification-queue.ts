import { describeError, log } from '../lib/log.ts';
import { enqueueJob } from './jobs.ts';
import { withEventId, type NotificationEventInput } from './notification-events.ts';

/**
 * Queues a notification event (job `notifications.deliver`); never throws. A failed send is logged and loses
 * that one notification: the cause of the event has already happened and must not fail because of it.
 */
export async function queueNotification(queue: Queue, event: NotificationEventInput): Promise<void> {
  try {
    await enqueueJob(queue, 'notifications.deliver', withEventId(event));
  } catch (error) {
    log('error', 'notification event not queued', { type: event.type, error: describeError(error) });
  }
}
