import type { z } from 'zod';
import type { Database } from '../../src/db/client.ts';

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
