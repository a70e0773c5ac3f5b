import { expect } from 'vitest';
import { createApp } from '../../src/app.ts';
import type { TestUser } from './factories.ts';
import { env, request } from './worker.ts';

/**
 * Real network faults between the Worker's Neon driver and the database, made by
 * test/helpers/fake-services.ts (a test inside workerd cannot listen on a port). Both HTTP queries and
 * the WebSocket of interactive transactions go through NEON_LOCAL_PROXY, so pointing it elsewhere
 * faults both driver modes.
 */
export interface ProxyStats {
  dropped: number;
  forwarded: number;
  /** Forwarded connections still open. */
  open: number;
}

export interface FlakyProxy {
  bindings: Env;
  stats(): Promise<ProxyStats>;
  /** Resets every connection the proxy has open: the network is lost mid-conversation. */
  cut(): Promise<number>;
}

/** Bindings whose database is reached through a TCP proxy that resets its first `drop` connections. */
export async function flakyProxy(drop: number): Promise<FlakyProxy> {
  const response = await fetch(`${env.FAKE_SERVICES_URL}/__faults/proxy?target=${env.NEON_LOCAL_PROXY}&drop=${drop}`, { method: 'POST' });
  const { address } = await response.json<{ address: string }>();
  const query = `address=${encodeURIComponent(address)}`;
  return {
    bindings: { ...env, NEON_LOCAL_PROXY: address },
    stats: async () => (await fetch(`${env.FAKE_SERVICES_URL}/__faults/proxy?${query}`)).json<ProxyStats>(),
    cut: async () => (await (await fetch(`${env.FAKE_SERVICES_URL}/__faults/proxy/cut?${query}`, { method: 'POST' })).json<{ cut: number }>()).cut,
  };
}

/** Bindings whose database is at a port where nothing listens. */
export async function deadDatabase(): Promise<Env> {
  const response = await fetch(`${env.FAKE_SERVICES_URL}/__faults/dead-address`, { method: 'POST' });
  return { ...env, NEON_LOCAL_PROXY: (await response.json<{ address: string }>()).address };
}

type Envelope = { error: { code: string; message: string; details?: unknown; requestId: string } };

/**
 * Asserts the answer to a transient database failure: 503 SERVICE_UNAVAILABLE, Retry-After, the envelope;
 * for a write, also that its outcome is unknown (its lost answer may have been a commit).
 */
export async function expectUnavailable(response: Response, request: 'read' | 'write'): Promise<void> {
  expect(response.status).toBe(503);
  expect(response.headers.get('retry-after')).toBe('1');
  const body = await response.json<Envelope>();
  const details = request === 'write' ? { details: { outcome: 'unknown' } } : {};
  expect(body).toEqual({ error: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String), ...details, requestId: response.headers.get('x-request-id') } });
}

/** A request as `user` to a fresh app running with `bindings` (e.g. a faulty database). */
export function callAs(bindings: Env, user: TestUser, path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  return request(
    path,
    {
      method: init.method ?? 'GET',
      headers: { authorization: `Bearer ${user.accessToken}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    },
    { bindings, app: createApp() },
  );
}
