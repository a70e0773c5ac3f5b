import { z } from 'zod';
import { emailMessageSchema } from './email.ts';
import { WEBHOOK_MAX_ATTEMPTS } from '../lib/webhook-events.ts';
import { notificationEventSchema } from './notification-events.ts';
import { usageBatchSchema } from './usage.ts';

/**
 * The job contracts: every job type the app may enqueue, with the schema its payload must match. The
 * producer (here) and the consumer (workers/jobs/registry.ts, which maps each type to its run function)
 * share this one table, and the consumer validates every message against it.
 */
export const jobContracts = {
  /** Sent by the readiness check to prove the producer works; consumed as a no-op. */
  'system.probe': z.object({}),
  /** Written to Postgres by the consumer: proof that producer → queue → consumer → Postgres works. */
  'system.heartbeat': z.object({ source: z.string().min(1).max(100) }),
  /** `{ to, template, data }`: renders and delivers one email (templates in services/email-templates.ts). */
  'email.send': emailMessageSchema,
  /** Turns the org's new audit entries into webhook messages and sends their delivery jobs (services/webhook-fanout.ts). */
  'webhooks.fanout': z.object({ orgId: z.uuid() }),
  /** One delivery attempt of a webhook message; `attempt` is how many were made before, so a duplicate job is a no-op. */
  'webhooks.deliver': z.object({ orgId: z.uuid(), messageId: z.string().regex(/^msg_[0-9a-f]{32}$/), attempt: z.int().min(0).max(WEBHOOK_MAX_ATTEMPTS) }),
  /** One event → its recipients' notifications: stored once, pushed to their rooms, emailed per preference (services/notification-delivery.ts). */
  'notifications.deliver': notificationEventSchema,
  /** A batch of usage events (API requests, product events) inserted in one round trip (services/usage.ts). */
  'usage.record': usageBatchSchema,
};

export type JobType = keyof typeof jobContracts;
/** What a producer passes for a job type. */
export type JobPayload<T extends JobType> = z.input<(typeof jobContracts)[T]>;
/** What the consumer's run function receives for a job type, after validation. */
export type ParsedJobPayload<T extends JobType> = z.output<(typeof jobContracts)[T]>;

/** The message body on the wire. `id` follows the job through retries and the dead-letter queue. */
export const jobMessageSchema = z.object({
  id: z.uuid(),
  type: z.string().min(1),
  payload: z.unknown(),
});

export type JobMessage = z.infer<typeof jobMessageSchema>;

/** Enqueues a background job; the payload type follows from the job type. Returns the job id. */
export async function enqueueJob<T extends JobType>(
  queue: Queue,
  type: T,
  payload: JobPayload<T>,
  options?: QueueSendOptions,
): Promise<string> {
  const message: JobMessage = { id: crypto.randomUUID(), type, payload };
  await queue.send(message, { contentType: 'json', ...options });
  return message.id;
}
