import type { z } from 'zod';
import type { Database } from '../../src/db/client.ts';
import { jobContracts, type JobType, type ParsedJobPayload } from '../../src/services/jobs.ts';
import { heartbeat } from './heartbeat.ts';
import { sendEmail } from './send-email.ts';

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

/** A job type's contract (src/services/jobs.ts) with the function that runs it. */
const runs = <T extends JobType>(type: T, run: (context: JobContext, payload: ParsedJobPayload<T>) => Promise<void>) => ({ payload: jobContracts[type], run });

/** The consumer's side of every job contract: type → run. A contract without a runner does not compile. */
export const jobs = {
  'system.probe': runs('system.probe', async () => {}),
  'system.heartbeat': runs('system.heartbeat', heartbeat),
  'email.send': runs('email.send', sendEmail),
} satisfies Record<JobType, JobDefinition>;

export type JobRegistry = Record<string, JobDefinition>;
