import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { env, request } from '../helpers/worker.ts';

const CHECKS = ['postgres', 'cache', 'flags', 'files', 'rateLimiter', 'rooms', 'jobs'];

describe('GET /api/health/live', () => {
  it('answers ok without touching any binding', async () => {
    const response = await SELF.fetch('http://example.com/api/health/live');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { status: 'ok' } });
  });
});

describe('GET /api/health/ready', () => {
  it('checks every dependency with a real round trip and answers 200 when all pass', async () => {
    const response = await SELF.fetch('http://example.com/api/health/ready');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = await response.json<{ data: { status: string; checks: Record<string, { status: string; latencyMs: number }> } }>();
    expect(body.data.status).toBe('ok');
    expect(Object.keys(body.data.checks).sort()).toEqual([...CHECKS].sort());
    for (const name of CHECKS) {
      expect(body.data.checks[name]).toMatchObject({ status: 'ok', latencyMs: expect.any(Number) });
    }
  });

  it('answers 503 naming the failing check when Postgres is unreachable', async () => {
    // Port 9 (discard) on loopback: nothing listens, so the connection is refused.
    const bindings = { ...env, DATABASE_URL: 'postgres://app:secret@127.0.0.1:9/app' };
    const response = await request('/api/health/ready', {}, { bindings });
    expect(response.status).toBe(503);
    const body = await response.json<{ data: { status: string; checks: Record<string, { status: string }> } }>();
    expect(body.data.status).toBe('fail');
    expect(body.data.checks.postgres?.status).toBe('fail');
    expect(body.data.checks.cache?.status).toBe('ok');
    expect(JSON.stringify(body)).not.toContain('secret');
  });
});
