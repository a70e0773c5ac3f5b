import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { env, fakeServiceRequests, request } from '../helpers/worker.ts';

// What would reach Sentry: the DSN points at the local fake-services server (a real HTTP server standing in
// for Sentry), which records the envelope toucan-js sends; the test reads every byte of it.
const EMAIL = 'jane.doe@customer.example';
const REFRESH = `rt_${'r'.repeat(43)}`;
const API_KEY = `sk_test_${'k'.repeat(43)}`;
const JWT = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl';
const HASH = 'pbkdf2-sha256$100000$c2FsdA$aGFzaA';

function crashingApp() {
  const app = createApp();
  app.get('/api/v1/test/crash', () => {
    const cause = new Error(`Failed query: select * from users where email = $1\nparams: ${EMAIL},${HASH}`);
    throw new Error(`could not sign in ${EMAIL} with ${REFRESH} (Bearer ${JWT}, key ${API_KEY})`, { cause });
  });
  return app;
}

describe('error reports to Sentry are scrubbed', () => {
  it('carry no email, token, key, hash, Authorization, Cookie or query string — but the error, its cause and the request id', async () => {
    const project = String(10_000 + Math.floor(Math.random() * 80_000));
    const dsn = `${env.FAKE_SERVICES_URL.replace('http://', 'http://publickey@')}/${project}`;
    const response = await request(
      `/api/v1/test/crash?token=${REFRESH}&email=${encodeURIComponent(EMAIL)}`,
      { headers: { authorization: `Bearer ${JWT}`, cookie: `__Secure-refresh_token=${REFRESH}`, 'x-api-key': API_KEY, 'user-agent': `agent ${EMAIL}` } },
      { app: crashingApp(), bindings: { ...env, SENTRY_DSN: dsn } },
    );
    expect(response.status).toBe(500);

    const reports = await fakeServiceRequests(`/api/${project}/envelope`);
    expect(reports).toHaveLength(1);
    const sent = reports[0]?.body ?? '';
    for (const secret of [EMAIL, 'jane.doe', REFRESH, API_KEY, JWT, HASH, 'r'.repeat(43), 'k'.repeat(43), 'customer.example","', 'token=', 'Cookie', 'authorization']) {
      expect(sent, secret).not.toContain(secret);
    }
    // Still a useful report: the message with its secrets masked, the cause, the path and the request id.
    expect(sent).toContain('could not sign in jan***@customer.example with [redacted] (Bearer [redacted] key sk_test_[redacted])');
    expect(sent).toContain('params: [redacted]');
    expect(sent).toContain('/api/v1/test/crash');
    expect(sent).toContain(`"requestId":"${response.headers.get('x-request-id')}"`);
  });
});
