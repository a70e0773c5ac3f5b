import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { rateLimiterFor } from '../../durable-objects/rate-limiter/index.ts';
import { RateLimiter } from '../../durable-objects/rate-limiter/rate-limiter.ts';
import { roomFor } from '../../durable-objects/room/index.ts';
import { Room } from '../../durable-objects/room/room.ts';
import { env, request } from '../helpers/worker.ts';

const key = () => `test:${crypto.randomUUID()}`;

describe('rateLimiterFor', () => {
  it('reaches a live RateLimiter through the real binding and calls its typed RPC methods', async () => {
    const stub = rateLimiterFor(env, key());
    expect(await stub.ping()).toBe('pong');
    expect(await runInDurableObject(stub, (instance) => instance instanceof RateLimiter)).toBe(true);
  });

  it('maps one key to one object, and different keys to different objects', () => {
    const name = key();
    expect(rateLimiterFor(env, name).id.equals(rateLimiterFor(env, name).id)).toBe(true);
    expect(rateLimiterFor(env, name).id.equals(rateLimiterFor(env, key()).id)).toBe(false);
    expect(rateLimiterFor(env, name).id.equals(env.RATE_LIMITER.idFromName(name))).toBe(true);
  });

  it('refuses a blank or oversized key instead of pooling callers into one object', () => {
    expect(() => rateLimiterFor(env, '')).toThrow();
    expect(() => rateLimiterFor(env, 'x'.repeat(257))).toThrow();
  });
});

describe('roomFor', () => {
  it('reaches a live Room through the real binding and calls its typed RPC methods', async () => {
    const stub = roomFor(env, key());
    expect(await stub.ping()).toBe('pong');
    expect(await runInDurableObject(stub, (instance) => instance instanceof Room)).toBe(true);
  });

  it('maps one key to one object, and different keys to different objects', () => {
    const name = key();
    expect(roomFor(env, name).id.equals(roomFor(env, name).id)).toBe(true);
    expect(roomFor(env, name).id.equals(roomFor(env, key()).id)).toBe(false);
  });

  it('refuses a blank key', () => {
    expect(() => roomFor(env, '')).toThrow();
  });
});

describe('readiness through the clients', () => {
  it('fails the Durable Object checks, and only those, when their bindings are not Durable Object namespaces', async () => {
    // A real misconfiguration (a KV namespace bound where a Durable Object namespace belongs), not a fake.
    const bindings = { ...env, RATE_LIMITER: env.CACHE, ROOMS: env.FLAGS } as unknown as Env;
    const response = await request('/api/health/ready', {}, { bindings });
    expect(response.status).toBe(503);
    const { data } = await response.json<{ data: { checks: Record<string, { status: string }> } }>();
    expect(data.checks.rateLimiter?.status).toBe('fail');
    expect(data.checks.rooms?.status).toBe('fail');
    expect(data.checks.postgres?.status).toBe('ok');
    expect(data.checks.cache?.status).toBe('ok');
  });
});
