import { jobContracts, type JobType, type ParsedJobPayload } from '../../src/services/jobs.ts';
import { heartbeat } from './heartbeat.ts';
import { notificationsDeliver } from './notifications.ts';
import { sendEmail } from './send-email.ts';
import { webhookDeliver, webhookFanOut } from './webhooks.ts';
import { recordUsage } from './usage.ts';
import type { JobContext, JobDefinition } from './types.ts';

/** A job type's contract (src/services/jobs.ts) with the function that runs it. */
const runs = <T extends JobType>(type: T, run: (context: JobContext, payload: ParsedJobPayload<T>) => Promise<void>) => ({ payload: jobContracts[type], run });

/** The consumer's side of every job contract: type → run. A contract without a runner does not compile. */
export const jobs = {
  'system.probe': runs('system.probe', async () => {}),
  'system.heartbeat': runs('system.heartbeat', heartbeat),
  'email.send': runs('email.send', sendEmail),
  'webhooks.fanout': runs('webhooks.fanout', webhookFanOut),
  'webhooks.deliver': runs('webhooks.deliver', webhookDeliver),
  'notifications.deliver': runs('notifications.deliver', notificationsDeliver),
  'usage.record': runs('usage.record', recordUsage),
} satisfies Record<JobType, JobDefinition>;

export type JobRegistry = Record<string, JobDefinition>;
