import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { createDatabase, type Database } from '../../src/db/client.ts';
import { createApp } from '../../src/app.ts';
import { getConfig } from '../../src/config.ts';

export { env };

/** The test database, reached exactly as the Worker reaches it: the Neon driver through the local proxy. */
export function testDb(bindings: Env = env): Database {
  return createDatabase(getConfig(bindings), () => {});
}

/**
 * Runs a request through a fresh app (from a client address of its own unless `init` names one, as `api` does) (the same `createApp()` the Worker serves) with the given
 * bindings, waiting for its `waitUntil` work (e.g. error reports) before returning.
 */
export async function request(
  path: string,
  init: RequestInit = {},
  options: { bindings?: Env; app?: ReturnType<typeof createApp> } = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const app = options.app ?? createApp();
  const headers = new Headers(init.headers);
  if (!headers.has('cf-connecting-ip')) headers.set('cf-connecting-ip', `198.19.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`);
  const response = await app.request(path, { ...init, headers }, options.bindings ?? env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** Records received by test/helpers/fake-services.ts under `path`. */
export async function fakeServiceRequests(path: string): Promise<Array<{ method: string; path: string; headers: Record<string, string>; body: string }>> {
  const response = await fetch(`${env.FAKE_SERVICES_URL}/__requests?path=${encodeURIComponent(path)}`);
  return response.json();
}
