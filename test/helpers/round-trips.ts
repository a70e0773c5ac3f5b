import { vi } from 'vitest';

/**
 * Counts Postgres round trips from now on. The Worker runs in the test's isolate, so its calls to the
 * Neon HTTP endpoint (the local proxy's /sql) are observable; interactive transactions open
 * WebSockets, which count too. Call `vi.restoreAllMocks()` (e.g. in afterEach) to stop counting.
 */
export function countRoundTrips(): () => number {
  const fetches = vi.spyOn(globalThis, 'fetch');
  const sockets = vi.spyOn(globalThis, 'WebSocket');
  return () =>
    fetches.mock.calls.filter(([input]) => String(input instanceof Request ? input.url : input).endsWith('/sql')).length + sockets.mock.calls.length;
}

/** Postgres round trips made while `work` runs. */
export async function roundTrips(work: () => Promise<unknown>): Promise<number> {
  const count = countRoundTrips();
  try {
    await work();
    return count();
  } finally {
    vi.restoreAllMocks();
  }
}
