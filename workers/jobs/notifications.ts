import type { ParsedJobPayload } from '../../src/services/jobs.ts';
import { deliverNotificationEvent } from '../../src/services/notification-delivery.ts';
import type { JobContext } from './types.ts';

/** Job `notifications.deliver`: one event → each recipient's notification, stored, pushed and emailed once. */
export async function notificationsDeliver({ env, db }: JobContext, payload: ParsedJobPayload<'notifications.deliver'>): Promise<void> {
  await deliverNotificationEvent({ env, db }, payload);
}
