import { createDatabase, type Database } from '../src/db/client.ts';
import { getConfig } from '../src/config.ts';
import { describeError, log } from '../src/lib/log.ts';
import { z } from 'zod';
import { recordDeadLetter, recordJobFailure, type FailedJob } from '../src/services/job-failures.ts';
import { jobMessageSchema, type JobMessage } from '../src/services/jobs.ts';
import { jobs, type JobRegistry } from './jobs/registry.ts';
import type { JobContext } from './jobs/types.ts';

/** Dead-letter queues are named `<queue>-dlq[-<env>]` in wrangler.toml. */
const DEAD_LETTER_QUEUE = /-dlq(-|$)/;

/** Retry delay after the n-th failed attempt: 10 s, 20 s, 40 s … capped at one hour. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(10 * 2 ** Math.max(0, attempts - 1), 3600);
}

/**
 * The Worker's queue handler. Each message is acked or retried on its own, so one bad job never
 * holds back the rest of its batch. Messages from a dead-letter queue are recorded in Postgres.
 */
export function createQueueHandler(registry: JobRegistry = jobs) {
  return async function queue(batch: MessageBatch, env: Env, ctx: ExecutionContext): Promise<void> {
    const db = createDatabase(getConfig(env), (promise) => ctx.waitUntil(promise));
    const handle = DEAD_LETTER_QUEUE.test(batch.queue)
      ? (message: Message) => deadLetter(message, db)
      : (message: Message) => runJob(message, registry, { env, db });
    await Promise.all(batch.messages.map(handle));
  };
}

async function runJob(message: Message, registry: JobRegistry, context: JobContext): Promise<void> {
  const envelope = jobMessageSchema.safeParse(message.body);
  const job = describeJob(message, envelope.data);
  if (!envelope.success) return reject(message, context, job, 'malformed job message');
  const definition = registry[envelope.data.type];
  if (!definition) return reject(message, context, job, `unknown job type "${job.type}"`);
  const payload = definition.payload.safeParse(envelope.data.payload);
  if (!payload.success) return reject(message, context, job, `invalid payload: ${z.prettifyError(payload.error)}`);
  try {
    await definition.run(context, payload.data);
    message.ack();
  } catch (error) {
    const described = describeError(error);
    log('warn', 'job failed', { jobId: job.jobId, type: job.type, attempts: job.attempts, error: described });
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    await recordJobFailure(context.db, { ...job, error: String(described.message) }).catch((recordError: unknown) =>
      log('error', 'could not record job failure', { jobId: job.jobId, error: describeError(recordError) }),
    );
  }
}

/** A message that can never be valid is given up on at once rather than retried into the DLQ. */
async function reject(message: Message, { db }: JobContext, job: FailedJobBase, error: string): Promise<void> {
  log('error', 'job rejected', { jobId: job.jobId, type: job.type, error });
  await recordJobFailure(db, { ...job, error }, true);
  message.ack();
}

type FailedJobBase = Omit<FailedJob, 'error'>;

function describeJob(message: Message, envelope: JobMessage | undefined): FailedJobBase {
  return { jobId: envelope?.id ?? message.id, type: envelope?.type ?? 'unknown', payload: message.body, attempts: message.attempts };
}

async function deadLetter(message: Message, db: Database): Promise<void> {
  const job = describeJob(message, jobMessageSchema.safeParse(message.body).data);
  try {
    await recordDeadLetter(db, job, 'retries exhausted; no failure was recorded');
    log('error', 'job dead-lettered', { jobId: job.jobId, type: job.type });
    message.ack();
  } catch (error) {
    log('error', 'could not record dead letter', { jobId: job.jobId, error: describeError(error) });
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}
