import type { JobMessage, JobPayload, JobType } from '../../workers/jobs/registry.ts';

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
