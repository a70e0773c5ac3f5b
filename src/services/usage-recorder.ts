import { USAGE_LIMITS } from '../lib/limits.ts';
import { describeError, log } from '../lib/log.ts';
import { sendUsageEvents, type UsageEvent } from './usage.ts';

// API usage is recorded off the request's path (README, "Usage analytics"): each request adds its event to this
// isolate's buffer, and the buffer goes to the queue in batches from `waitUntil` — after USAGE_LIMITS.flushMs, or at
// once when it holds USAGE_LIMITS.bufferEvents. An isolate that dies with a buffer loses at most that.

let buffer: UsageEvent[] = [];
let timer: Promise<void> | undefined;

/** Sends what the buffer holds (nothing if it is empty). A failed send is logged and its events are lost. */
export async function flushUsageBuffer(queue: Queue): Promise<void> {
  const events = buffer;
  buffer = [];
  if (!events.length) return;
  try {
    await sendUsageEvents(queue, events);
  } catch (error) {
    log('warn', 'usage events not recorded', { events: events.length, error: describeError(error) });
  }
}

/** Adds one event to the isolate's buffer; the flush it may start is held by `waitUntil`, never awaited by the request. */
export function bufferUsageEvent(queue: Queue, waitUntil: (promise: Promise<unknown>) => void, event: UsageEvent): void {
  buffer.push(event);
  if (buffer.length >= USAGE_LIMITS.bufferEvents) {
    waitUntil(flushUsageBuffer(queue));
    return;
  }
  if (timer) return;
  timer = new Promise<void>((resolve) => setTimeout(resolve, USAGE_LIMITS.flushMs)).then(() => {
    timer = undefined;
    return flushUsageBuffer(queue);
  });
  waitUntil(timer);
}
