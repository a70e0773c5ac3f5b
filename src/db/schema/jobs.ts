import { bigint, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * One row per job that failed at least once. `deadAt` is set when the job is given up on
 * (its retries ran out and the dead-letter consumer received it, or its payload can never be valid).
 */
export const jobFailures = pgTable(
  'job_failures',
  {
    // Text, not uuid: a malformed message has no job id of ours, only the queue's message id.
    jobId: text('job_id').primaryKey(),
    type: text('type').notNull(),
    payload: jsonb('payload').notNull(),
    attempts: integer('attempts').notNull(),
    lastError: text('last_error').notNull(),
    failedAt: timestamp('failed_at', { withTimezone: true }).notNull().defaultNow(),
    deadAt: timestamp('dead_at', { withTimezone: true }),
  },
  (table) => [index('job_failures_dead_at_idx').on(table.deadAt)],
);

/** Written by the `system.heartbeat` job: proof that cron → queue → consumer → Postgres works. */
export const heartbeats = pgTable('heartbeats', {
  id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  source: text('source').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
