import { USAGE_LIMITS } from '../lib/limits.ts';
import { describeError, log } from '../lib/log.ts';
import { sendUsageEvents, type UsageEvent } from './usage.ts';

/** When a recorder sends: `flushMs` after the first event it holds, or as soon as it holds `bufferEvents`. */
export interface UsageFlushLimits {
  flushMs: number;
  bufferEvents: number;
}

/** Holds the work a flush does past the request that scheduled it (the request's `ctx.waitUntil`). */
export type WaitUntil = (promise: Promise<unknown>) => void;

/**
 * An isolate's buffer of API usage events (README, "Usage analytics"), owned by the app (`createApp`, through
 * middleware/usage.ts). A request adds its event and goes on: it never packs, serialises or sends. The buffer goes
 * to the queue in one `sendBatch` per flush (packed in as few messages as the Queues limits allow), from a timer
 * held by the `waitUntil` of the request that started it: `flushMs` after the first event, or on the next turn of
 * the event loop (after the response is handed over) once `bufferEvents` wait. So an isolate sends at most one
 * batch per `flushMs` and per `bufferEvents` events, whatever its request rate.
 *
 * Loss: an isolate that dies (evicted, crashed, redeployed) loses what its buffer holds: at most `flushMs` of its
 * requests and never much more than `bufferEvents` events; a failed send is logged and its events are dropped.
 */
export class UsageRecorder {
  readonly #limits: UsageFlushLimits;
  #events: UsageEvent[] = [];
  /**
   * When the pending timed flush (`flushMs` after the first event) and early flush (the buffer filled up) are due; 0
   * for none. One overdue by more than `flushMs` is taken as lost (the request holding it ended before its timer),
   * so the next event schedules another rather than waiting for it forever.
   */
  #timedAt = 0;
  #earlyAt = 0;

  constructor(limits: UsageFlushLimits = USAGE_LIMITS) {
    this.#limits = limits;
  }

  /** Events waiting for the next flush. */
  get pending(): number {
    return this.#events.length;
  }

  /** Adds one event; a flush it schedules runs later, held by `waitUntil`, never awaited by the request. */
  record(queue: Queue, waitUntil: WaitUntil, event: UsageEvent): void {
    this.#events.push(event);
    const now = Date.now();
    const idle = (dueAt: number) => now > dueAt + this.#limits.flushMs;
    if (this.#events.length >= this.#limits.bufferEvents && idle(this.#earlyAt)) {
      this.#earlyAt = now;
      waitUntil(this.#after(0, queue, () => (this.#earlyAt = 0)));
    } else if (idle(this.#timedAt)) {
      this.#timedAt = now + this.#limits.flushMs;
      waitUntil(this.#after(this.#limits.flushMs, queue, () => (this.#timedAt = 0)));
    }
  }

  /** Sends what the buffer holds (nothing if it is empty). A failed send is logged and its events are lost. */
  async flush(queue: Queue): Promise<void> {
    const events = this.#events;
    if (!events.length) return;
    this.#events = [];
    try {
      await sendUsageEvents(queue, events);
    } catch (error) {
      log('warn', 'usage events not recorded', { events: events.length, error: describeError(error) });
    }
  }

  async #after(ms: number, queue: Queue, done: () => void): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    done();
    await this.flush(queue);
  }
}
