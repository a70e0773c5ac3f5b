import { AsyncLocalStorage } from 'node:async_hooks';
import { currentRequest } from '../../src/lib/log.ts';

/** One Postgres round trip: the SQL of an HTTP query (or batch), or `websocket` for an interactive transaction's connection. */
export type RoundTrip = string;

interface Measurement {
  calls: RoundTrip[];
  /** Sent as `X-Request-Id` by requests made through `SELF` (see `measuredRequestId`); the Worker keeps it in its request scope. */
  marker: string;
}

// The measurement `work` runs in. Requests through `app.request()` run inside it; requests through `SELF` run
// in a request scope of their own that carries the marker. Queue batches, cron runs and other tests' leftover
// work have neither, so they are not counted.
const measuring = new AsyncLocalStorage<Measurement>();

/** The `X-Request-Id` a request made now must carry to be measured, if a measurement is running. */
export function measuredRequestId(): string | undefined {
  return measuring.getStore()?.marker;
}

const running = new Set<Measurement>();

/** The measurements a call made now belongs to: its own async context's, or that of the request it runs for. */
function measuredBy(): Measurement[] {
  const own = measuring.getStore();
  const request = currentRequest()?.clientRequestId;
  return [...running].filter((measurement) => measurement === own || measurement.marker === request);
}

// Installed once for the isolate and left in place, so measurements that overlap cannot undo each other's.
let installed = false;
function install(): void {
  if (installed) return;
  installed = true;
  const { fetch, WebSocket } = globalThis;
  globalThis.fetch = (input, init) => {
    if (String(input instanceof Request ? input.url : input).endsWith('/sql')) for (const measurement of measuredBy()) measurement.calls.push(String(init?.body));
    return fetch(input, init);
  };
  globalThis.WebSocket = class extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      for (const measurement of measuredBy()) measurement.calls.push('websocket');
    }
  };
}

/**
 * The Postgres round trips `work` itself makes (including its requests' `waitUntil` work): calls to the Neon
 * HTTP endpoint (the local proxy's /sql) and the WebSockets interactive transactions open. Work running
 * meanwhile on behalf of something else is not counted, so test files may run in parallel.
 */
export async function postgresCalls(work: () => Promise<unknown>): Promise<RoundTrip[]> {
  install();
  const measurement: Measurement = { calls: [], marker: `round-trips-${crypto.randomUUID()}` };
  running.add(measurement);
  try {
    await measuring.run(measurement, work);
    return measurement.calls;
  } finally {
    running.delete(measurement);
  }
}

/** How many Postgres round trips `work` makes (see `postgresCalls`). */
export async function roundTrips(work: () => Promise<unknown>): Promise<number> {
  return (await postgresCalls(work)).length;
}
