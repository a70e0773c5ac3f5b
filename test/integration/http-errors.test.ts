import { z } from '@hono/zod-openapi';
import { SELF } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/app.ts';
import { jsonBody } from '../../src/lib/request-body.ts';
import { publicRoute } from '../../src/routes/route-kinds.ts';
import { env, fakeServiceRequests, request } from '../helpers/worker.ts';

type Envelope = { error: { code: string; message: string; details?: unknown; requestId: string } };

/** The real app plus one public JSON route and one that crashes, to drive the shared middleware from tests. */
function appWithTestRoutes() {
  const app = createApp();
  const echo = publicRoute({
    method: 'post',
    path: '/api/v1/test/echo',
    request: { body: jsonBody(z.strictObject({ email: z.email(), age: z.number().int().min(0), tags: z.array(z.string()).max(2) }), 'Echoed.') },
    responses: { 200: { description: 'echo' } },
  });
  app.openapi(echo, (c) => c.json({ data: c.req.valid('json') }, 200));
  app.get('/api/v1/test/crash', () => {
    throw new Error('database password is hunter2');
  });
  return app;
}

const post = (body: BodyInit, headers: Record<string, string> = { 'content-type': 'application/json' }) => ({ method: 'POST', body, headers });

describe('error envelope', () => {
  it('404s an unknown route in the envelope, with the request id', async () => {
    const response = await SELF.fetch('http://example.com/api/v1/nope');
    expect(response.status).toBe(404);
    const body = await response.json<Envelope>();
    expect(body.error).toEqual({ code: 'NOT_FOUND', message: expect.any(String), requestId: response.headers.get('x-request-id') });
  });

  it('405s a known path with the wrong method and lists the allowed ones', async () => {
    const response = await SELF.fetch('http://example.com/api/health/live', { method: 'DELETE' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
    expect((await response.json<Envelope>()).error.code).toBe('METHOD_NOT_ALLOWED');
  });

  it('400s a body that fails its schema, naming every failing field path', async () => {
    const response = await request('/api/v1/test/echo', post(JSON.stringify({ email: 'nope', age: -1, tags: ['a', 'b', 'c'] })), { app: appWithTestRoutes() });
    expect(response.status).toBe(400);
    const { error } = await response.json<Envelope & { error: { details: { issues: Array<{ path: string }> } } }>();
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details.issues.map((issue) => issue.path).sort()).toEqual(['age', 'email', 'tags']);
  });

  it('400s malformed JSON as BAD_REQUEST', async () => {
    const response = await request('/api/v1/test/echo', post('{"email":'), { app: appWithTestRoutes() });
    expect(response.status).toBe(400);
    expect((await response.json<Envelope>()).error.code).toBe('BAD_REQUEST');
  });

  it('passes a valid body through to the handler', async () => {
    const input = { email: 'a@example.com', age: 3, tags: ['x'] };
    const response = await request('/api/v1/test/echo', post(JSON.stringify(input)), { app: appWithTestRoutes() });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: input });
  });

  it('415s a body that is not JSON', async () => {
    const response = await request('/api/v1/test/echo', post('email=a@example.com', { 'content-type': 'application/x-www-form-urlencoded' }), { app: appWithTestRoutes() });
    expect(response.status).toBe(415);
    expect((await response.json<Envelope>()).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('413s a body over the configured limit, whatever Content-Length claims', async () => {
    const bindings = { ...env, BODY_LIMIT_BYTES: '64' };
    const big = JSON.stringify({ email: `${'a'.repeat(100)}@example.com`, age: 1, tags: [] });
    const declared = await request('/api/v1/test/echo', post(big), { app: appWithTestRoutes(), bindings });
    expect(declared.status).toBe(413);
    expect((await declared.json<Envelope>()).error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: { maxBytes: 64 } });

    // A streamed body has no Content-Length to trust; the limit counts bytes as they arrive.
    const stream = new Blob([big]).stream();
    const streamed = await request('/api/v1/test/echo', { method: 'POST', body: stream, headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit, { app: appWithTestRoutes(), bindings });
    expect(streamed.status).toBe(413);
  });

  it('500s an unexpected exception without internals, logs it, and reports it to Sentry with the request id', async () => {
    const errors = vi.spyOn(console, 'error');
    const dsn = `${env.FAKE_SERVICES_URL.replace('http://', 'http://publickey@')}/4242`;
    const response = await request('/api/v1/test/crash', { headers: { 'x-request-id': 'crash-test-0001', authorization: 'Bearer very-secret' } }, { app: appWithTestRoutes(), bindings: { ...env, SENTRY_DSN: dsn } });

    expect(response.status).toBe(500);
    const text = await response.text();
    const requestId = response.headers.get('x-request-id') ?? '';
    expect(JSON.parse(text)).toEqual({ error: { code: 'INTERNAL', message: 'An unexpected error occurred.', requestId } });
    expect(text).not.toContain('hunter2');

    const logged = errors.mock.calls.map(([line]) => String(line)).find((line) => line.includes('unhandled error'));
    expect(logged).toContain(requestId);
    errors.mockRestore();

    const reports = await fakeServiceRequests('/api/4242/envelope');
    expect(reports).toHaveLength(1);
    const envelope = reports[0]?.body ?? '';
    expect(envelope).toContain('hunter2'); // the error itself goes to Sentry …
    expect(envelope).toContain(`"requestId":"${requestId}"`); // … tagged with the request id …
    expect(envelope).not.toContain('very-secret'); // … but never the caller's credentials.
  });

  it('does not contact Sentry when no DSN is configured', async () => {
    const before = await fakeServiceRequests('/api/');
    const response = await request('/api/v1/test/crash', {}, { app: appWithTestRoutes() });
    expect(response.status).toBe(500);
    expect(await fakeServiceRequests('/api/')).toHaveLength(before.length);
  });
});

describe('request id', () => {
  it('is generated by the server for every request: a client-chosen one is never adopted', async () => {
    const ids = new Set<string>();
    for (const sent of [undefined, 'abc-123_DEF=', '<script>', 'a'.repeat(200), 'a b']) {
      const response = await SELF.fetch('http://example.com/api/health/live', { headers: sent === undefined ? {} : { 'x-request-id': sent } });
      const id = response.headers.get('x-request-id') ?? '';
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(5);
  });

  it('logs a plain client id as clientRequestId, next to the server id', async () => {
    const info = vi.spyOn(console, 'log');
    const response = await request('/api/health/live', { headers: { 'x-request-id': 'client-trace-7' } });
    const unsafe = await request('/api/health/live', { headers: { 'x-request-id': '<script>' } });
    const lines = info.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    info.mockRestore();
    expect(lines.find((line) => line.requestId === response.headers.get('x-request-id'))).toMatchObject({ clientRequestId: 'client-trace-7' });
    expect(lines.find((line) => line.requestId === unsafe.headers.get('x-request-id'))).not.toHaveProperty('clientRequestId');
  });
});

describe('request log', () => {
  it('writes one JSON line per request with the route pattern, status, duration and request id', async () => {
    const info = vi.spyOn(console, 'log');
    const response = await request('/api/health/live');
    const requestId = response.headers.get('x-request-id');
    const lines = info.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>).filter((line) => line.requestId === requestId);
    info.mockRestore();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', message: 'request', method: 'GET', route: '/api/health/live', status: 200, durationMs: expect.any(Number) });
  });
});

describe('headers', () => {
  it('sets secure headers on every response', async () => {
    const response = await SELF.fetch('http://example.com/api/health/live');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(response.headers.get('strict-transport-security')).toContain('max-age=');
  });

  it('allows configured CORS origins only', async () => {
    const preflight = (origin: string) =>
      SELF.fetch('http://example.com/api/health/live', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET' } });
    const allowed = await preflight('http://localhost:3000');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    const denied = await preflight('https://evil.example.com');
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
  });
});
