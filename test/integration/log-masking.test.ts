import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deadDatabase, flakyProxy } from '../helpers/database-faults.ts';
import { createUser, TEST_PASSWORD } from '../helpers/factories.ts';
import { env, request } from '../helpers/worker.ts';

/**
 * Database failures put the failed query's parameters (emails, password hashes, token hashes) into drizzle's
 * error message; every log line the Worker writes while they happen is captured and scanned.
 */
describe('log lines during database failures', () => {
  let lines: string[] = [];

  beforeEach(() => {
    lines = [];
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map((arg) => (typeof arg === 'string' ? arg : arg instanceof Error ? `${arg.message}\n${arg.stack}` : JSON.stringify(arg))).join(' '));
      });
    }
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  const post = (bindings: Env, path: string, body: unknown, headers: Record<string, string> = {}) =>
    request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }, { bindings });

  it('hold no email, password, token, hash or secret, and every line is one JSON object', async () => {
    const user = await createUser();
    const dead = await deadDatabase();
    const refreshToken = `rt_${'r'.repeat(43)}`;
    const secrets = [user.email, user.email.split('@')[0] ?? '', TEST_PASSWORD, user.accessToken, refreshToken, env.JWT_SIGNING_KEY, env.TOKEN_SECRET];
    const responses = [
      await post(dead, '/api/v1/auth/login', { email: user.email, password: TEST_PASSWORD }),
      await post(dead, '/api/v1/auth/signup', { email: user.email, password: TEST_PASSWORD, name: 'Leak Check' }),
      await post(dead, '/api/v1/auth/refresh', { refreshToken }),
      await request('/api/v1/me', { headers: { authorization: `Bearer ${user.accessToken}` } }, { bindings: dead }),
      await request('/api/health/ready', {}, { bindings: dead }),
    ];
    // A connection lost mid-query, too.
    const flaky = await flakyProxy(1_000);
    responses.push(await post(flaky.bindings, '/api/v1/auth/login', { email: user.email, password: TEST_PASSWORD }));
    for (const response of responses) expect(response.status, await response.clone().text()).toBeGreaterThanOrEqual(400);
    // Answered 202 whatever happens; its failure is logged from the background.
    const forgot = await post(dead, '/api/v1/auth/forgot-password', { email: user.email }, { 'x-request-id': 'client-123' });
    expect(forgot.status).toBe(202);
    // That background line still names its request (and the client's id): the request scope reaches `waitUntil` work.
    const background = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.requestId === forgot.headers.get('x-request-id'));
    expect(background.map((line) => [line.level, line.clientRequestId])).toContainEqual(['error', 'client-123']);

    // The failures were logged, with the query and its parameters redacted (so this scan saw them).
    expect(lines.some((line) => line.includes('params: [redacted]')), lines.join('\n')).toBe(true);
    for (const line of lines) {
      for (const secret of secrets) if (secret.length >= 4) expect(line, line).not.toContain(secret);
      expect(line).not.toMatch(/[\w.+-]{4,}@example\.com/);
      expect(line).not.toMatch(/pbkdf2-sha256\$|sk_(live|test)_\w|eyJ[\w-]+\.|rt_[\w-]{20}/);
      expect(line).not.toMatch(/\b[0-9a-f]{64}\b/);
      // JSON lines: each parses on its own, so `npm run -s dev | jq` works.
      expect(() => JSON.parse(line), line).not.toThrow();
    }
  });
});
