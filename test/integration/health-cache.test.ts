import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { READINESS_TTL_MS } from '../../src/routes/health/index.ts';
import { roundTrips } from '../helpers/round-trips.ts';
import { env, request } from '../helpers/worker.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('GET /api/health/ready under a flood', () => {
  it('costs Postgres one check per app (isolate) per TTL, however many callers, concurrent or not', async () => {
    const app = createApp();
    const ready = () => request('/api/health/ready', {}, { app });
    let statuses: number[] = [];
    const flood = await roundTrips(async () => {
      statuses = (await Promise.all(Array.from({ length: 25 }, ready))).map((response) => response.status);
      for (let i = 0; i < 5; i += 1) statuses.push((await ready()).status);
    });
    expect(statuses).toEqual(Array.from({ length: 30 }, () => 200));
    expect(flood).toBe(1);

    await sleep(READINESS_TTL_MS + 100);
    expect(await roundTrips(async () => expect((await ready()).status).toBe(200))).toBe(1);
  }, 20_000);

  it('reuses a failing answer too, and never shares answers between apps built with other bindings', async () => {
    const broken = createApp();
    const bindings = { ...env, RATE_LIMITER: env.CACHE } as unknown as Env;
    const first = await request('/api/health/ready', {}, { app: broken, bindings });
    expect(first.status).toBe(503);
    // The cached answer is served even with working bindings: it is the app's, for its TTL.
    const again = await request('/api/health/ready', {}, { app: broken });
    expect(again.status).toBe(503);
    expect(await again.json()).toEqual(await first.clone().json());
    // Another app (another isolate) checks for itself.
    expect((await request('/api/health/ready')).status).toBe(200);
  });
});
