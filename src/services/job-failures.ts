import { and, isNotNull, lt, sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { jobFailures } from '../db/schema/index.ts';
import { redact } from '../lib/mask.ts';

export interface FailedJob {
  jobId: string;
  type: string;
  payload: unknown;
  attempts: number;
  error: string;
}

/**
 * Records (or updates) a job's latest failure; the dead-letter consumer later marks it dead.
 * The payload is stored redacted (tokens, links, keys removed; emails masked): dead letters are for
 * diagnosis, and secrets must not rest in them.
 */
export async function recordJobFailure(db: Database, job: FailedJob, dead = false): Promise<void> {
  await db.http
    .insert(jobFailures)
    .values({
      jobId: job.jobId,
      type: job.type,
      payload: redact(job.payload ?? null),
      attempts: job.attempts,
      lastError: job.error,
      deadAt: dead ? sql`now()` : null,
    })
    .onConflictDoUpdate({
      target: jobFailures.jobId,
      set: {
        attempts: sql`greatest(${jobFailures.attempts}, excluded.attempts)`,
        lastError: sql`excluded.last_error`,
        failedAt: sql`now()`,
        deadAt: dead ? sql`now()` : sql`${jobFailures.deadAt}`,
      },
    });
}

/**
 * Marks a job dead when the dead-letter queue delivers it. The error recorded by the last failed
 * attempt is kept; a job with no recorded failure (e.g. its consumer crashed) gets `fallbackError`.
 */
export async function recordDeadLetter(db: Database, job: Omit<FailedJob, 'error'>, fallbackError: string): Promise<void> {
  await db.http
    .insert(jobFailures)
    .values({ jobId: job.jobId, type: job.type, payload: redact(job.payload ?? null), attempts: job.attempts, lastError: fallbackError, deadAt: sql`now()` })
    .onConflictDoUpdate({
      target: jobFailures.jobId,
      set: { attempts: sql`greatest(${jobFailures.attempts}, excluded.attempts)`, deadAt: sql`now()` },
    });
}

/** Deletes dead letters older than `days`. Returns how many were removed. */
export async function pruneDeadLetters(db: Database, days: number): Promise<number> {
  const deleted = await db.http
    .delete(jobFailures)
    .where(and(isNotNull(jobFailures.deadAt), lt(jobFailures.deadAt, sql`now() - make_interval(days => ${days})`)))
    .returning({ jobId: jobFailures.jobId });
  return deleted.length;
}
