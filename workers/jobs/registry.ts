import { z } from 'zod';
import type { Database } from '../../src/db/client.ts';
import { heartbeat, heartbeatPayload } from './heartbeat.ts';
import { sendEmail, sendEmailPayload } from './send-email.ts';

/** What a job handler receives besides its payload. */
export interface JobContext {
  env: Env;
  db: Database;
}

export interface JobDefinition<P extends z.ZodType = z.ZodType> {
  payload: P;
  /** Must be idempotent: a job may run more than once (retries, at-least-once delivery). */
  run(context: JobContext, payload: z.infer<P>): Promise<void>;
}

const defineJob = <P extends z.ZodType>(definition: JobDefinition<P>) => definition;

/** Every job type the consumer accepts, with the schema its payload must match. */
export const jobs = {
  /** Sent by the readiness check to prove the producer works; consumed as a no-op. */
  'system.probe': defineJob({ payload: z.object({}), run: async () => {} }),
  'system.heartbeat': defineJob({ payload: heartbeatPayload, run: heartbeat }),
  /** `{ to, template, data }`: renders and delivers one email (templates in src/services/email-templates.ts). */
  'email.send': defineJob({ payload: sendEmailPayload, run: sendEmail }),
};

export type JobRegistry = Record<string, JobDefinition>;
export type JobType = keyof typeof jobs;
export type JobPayload<T extends JobType> = z.input<(typeof jobs)[T]['payload']>;

/** The message body on the wire. `id` follows the job through retries and the dead-letter queue. */
export const jobMessageSchema = z.object({
  id: z.uuid(),
  type: z.string().min(1),
  payload: z.unknown(),
});

export type JobMessage = z.infer<typeof jobMessageSchema>;
