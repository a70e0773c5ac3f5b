import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { vi } from 'vitest';
import type { JobMessage } from '../../src/services/jobs.ts';

/** A message as the runtime hands it to the consumer. */
export type DeliveredMessage = Parameters<typeof createMessageBatch>[1][number];

export const JOBS_QUEUE = 'edge-saas-jobs';
export const DEAD_LETTER_QUEUE = 'edge-saas-jobs-dlq';

let sequence = 0;

/** A queue message as the runtime delivers it. */
export function message(body: unknown, attempts = 1): DeliveredMessage {
  sequence += 1;
  return { id: `msg-${Date.now()}-${sequence}`, timestamp: new Date(), attempts, body };
}

export function job(type: string, payload: unknown): JobMessage {
  return { id: crypto.randomUUID(), type, payload };
}

/**
 * Runs `handler` over a batch and returns what it did with each message: acked, and retried with
 * which delay (the pool's own result omits delays, so `retry()` is observed directly).
 */
export async function runBatch(
  handler: (batch: MessageBatch, env: Env, ctx: ExecutionContext) => Promise<void>,
  env: Env,
  queue: string,
  messages: DeliveredMessage[],
) {
  const batch = createMessageBatch(queue, messages);
  const retries = batch.messages.map((delivered) => ({ msgId: delivered.id, spy: vi.spyOn(delivered, 'retry') }));
  const ctx = createExecutionContext();
  await handler(batch, env, ctx);
  const result = await getQueueResult(batch, ctx);
  const retried = retries.flatMap(({ msgId, spy }) => spy.mock.calls.map(([options]) => ({ msgId, delaySeconds: options?.delaySeconds })));
  return { explicitAcks: result.explicitAcks, retried };
}
