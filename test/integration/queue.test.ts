import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { heartbeats, jobFailures } from '../../src/db/schema/index.ts';
import { enqueueJob } from '../../src/services/jobs.ts';
import { createQueueHandler, retryDelaySeconds } from '../../workers/queue.ts';
import { jobs, type JobRegistry } from '../../workers/jobs/registry.ts';
import { DEAD_LETTER_QUEUE, JOBS_QUEUE, job, message, runBatch } from '../helpers/queue.ts';
import { env, testDb } from '../helpers/worker.ts';

const db = testDb();

/** The real registry plus a job that always fails, to drive the failure paths. */
const registry: JobRegistry = {
  ...jobs,
  'test.explode': { payload: z.looseObject({ reason: z.string() }), run: async (_, { reason }) => Promise.reject(new Error(reason)) },
};
const queue = createQueueHandler(registry);

const failureOf = async (jobId: string) => (await db.http.select().from(jobFailures).where(eq(jobFailures.jobId, jobId)))[0];
const heartbeatsFrom = (source: string) => db.http.select().from(heartbeats).where(eq(heartbeats.source, source));

describe('queue consumer', () => {
  it('runs a valid job and acks it: the heartbeat writes its row', async () => {
    const source = `test-${crypto.randomUUID()}`;
    const result = await runBatch(queue, env, JOBS_QUEUE, [message(job('system.heartbeat', { source }))]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retried).toEqual([]);
    expect(await heartbeatsFrom(source)).toHaveLength(1);
  });

  it('retries a failing job with exponential backoff and records the error', async () => {
    const failing = job('test.explode', { reason: 'upstream said no' });
    const [first, third] = [message(failing, 1), message({ ...failing, id: crypto.randomUUID() }, 3)];
    const result = await runBatch(queue, env, JOBS_QUEUE, [first, third]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retried).toEqual([
      { msgId: first.id, delaySeconds: 10 },
      { msgId: third.id, delaySeconds: 40 },
    ]);
    expect(await failureOf(failing.id)).toMatchObject({ type: 'test.explode', attempts: 1, lastError: 'upstream said no', deadAt: null });
  });

  it('stores failed payloads redacted: no tokens, no links carrying them, emails masked', async () => {
    const failing = job('test.explode', { reason: 'provider down', to: 'jane.doe@example.com', data: { token: 'tok-secret-1', url: 'https://app.example.com/reset?token=tok-secret-1' } });
    await runBatch(queue, env, JOBS_QUEUE, [message(failing)]);
    const stored = JSON.stringify((await failureOf(failing.id))?.payload);
    expect(stored).not.toContain('tok-secret-1');
    expect(stored).not.toContain('jane.doe@');
    expect(stored).toContain('jan***@example.com');
  });

  it('acks one message and retries another in the same batch independently', async () => {
    const source = `test-${crypto.randomUUID()}`;
    const ok = message(job('system.heartbeat', { source }));
    const bad = message(job('test.explode', { reason: 'no' }));
    const result = await runBatch(queue, env, JOBS_QUEUE, [ok, bad]);
    expect(result.explicitAcks).toEqual([ok.id]);
    expect(result.retried.map((retry) => retry.msgId)).toEqual([bad.id]);
  });

  it.each([
    ['a malformed message', { hello: 'world' }, 'malformed job message'],
    ['an unknown job type', job('nope.never', {}), 'unknown job type "nope.never"'],
    ['an invalid payload', job('system.heartbeat', { source: 42 }), 'invalid payload'],
  ])('gives up on %s at once: acked, recorded dead, never retried', async (_, body, error) => {
    const delivered = message(body);
    const result = await runBatch(queue, env, JOBS_QUEUE, [delivered]);
    expect(result.explicitAcks).toEqual([delivered.id]);
    expect(result.retried).toEqual([]);
    const jobId = (body as { id?: string }).id ?? delivered.id;
    const row = await failureOf(jobId);
    expect(row?.lastError).toContain(error);
    expect(row?.deadAt).toBeInstanceOf(Date);
  });

  it('grows the retry delay 10 s, 20 s, 40 s … and caps it at an hour', () => {
    expect([1, 2, 3, 4, 5].map(retryDelaySeconds)).toEqual([10, 20, 40, 80, 160]);
    expect(retryDelaySeconds(50)).toBe(3600);
  });
});

describe('dead-letter consumer', () => {
  it('marks an exhausted job dead in Postgres, keeping the error of its last attempt', async () => {
    const failing = job('test.explode', { reason: 'still broken' });
    await runBatch(queue, env, JOBS_QUEUE, [message(failing, 6)]);
    const dead = message(failing, 1);
    const result = await runBatch(queue, env, DEAD_LETTER_QUEUE, [dead]);
    expect(result.explicitAcks).toEqual([dead.id]);
    expect(await failureOf(failing.id)).toMatchObject({ lastError: 'still broken', attempts: 6, deadAt: expect.any(Date) });
  });

  it('records a dead job that never logged a failure (e.g. its consumer crashed)', async () => {
    const lost = job('system.heartbeat', { source: 'lost' });
    await runBatch(queue, env, DEAD_LETTER_QUEUE, [message(lost)]);
    expect(await failureOf(lost.id)).toMatchObject({ type: 'system.heartbeat', payload: lost, lastError: expect.stringContaining('retries exhausted'), deadAt: expect.any(Date) });
  });

  it('retries the dead letter itself when Postgres is down, so nothing is lost', async () => {
    const down = { ...env, DATABASE_URL: 'postgres://app:app@127.0.0.1:9/app' };
    const dead = message(job('system.heartbeat', { source: 'x' }));
    const result = await runBatch(queue, down, DEAD_LETTER_QUEUE, [dead]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retried).toEqual([{ msgId: dead.id, delaySeconds: 10 }]);
  });
});

describe('through the real local queue', () => {
  it('delivers an enqueued job to the consumer configured in wrangler.toml', async () => {
    const source = `queue-${crypto.randomUUID()}`;
    await enqueueJob(env.JOBS, 'system.heartbeat', { source });
    await expect.poll(async () => (await heartbeatsFrom(source)).length, { timeout: 10_000, interval: 200 }).toBe(1);
  });
});
