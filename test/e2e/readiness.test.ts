// `npm run dev` prints `Ready:` only once /api/health/ready answers 200; until then it waits, and after its
// timeout it names the failing checks. Against a local HTTP server that answers as the Worker does.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { failingChecks, readinessMessage, waitForReady } from '../../scripts/lib/readiness.ts';
import { freePort } from '../../scripts/lib/ports.ts';

const NOT_READY = JSON.stringify({ data: { status: 'fail', checks: { postgres: { status: 'fail', latencyMs: 5001 }, cache: { status: 'ok', latencyMs: 0.4 }, files: { status: 'fail', latencyMs: 2 } } } });
const READY = JSON.stringify({ data: { status: 'ok', checks: { postgres: { status: 'ok', latencyMs: 3 } } } });

let server: Server | undefined;
afterEach(() => new Promise<void>((resolveClose) => (server ? server.close(() => resolveClose()) : resolveClose())));

/** A server whose /api/health/ready answers 503 (NOT_READY) `failures` times, then 200; counts the requests. */
async function health(failures: number): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  server = createServer((request, response) => {
    if (request.url !== '/api/health/ready') return void response.writeHead(404).end();
    requests += 1;
    const ready = requests > failures;
    response.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(ready ? READY : NOT_READY);
  });
  await new Promise<void>((resolveListen) => server?.listen(0, '127.0.0.1', resolveListen));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

describe('Ready only when /api/health/ready is 200', () => {
  it('keeps asking through 503s and returns on the first 200', async () => {
    const { url, requests } = await health(3);
    expect(await waitForReady(url, { timeoutMs: 5_000, intervalMs: 20 })).toBeUndefined();
    expect(requests()).toBe(4);
    expect(readinessMessage(url, undefined)).toBe(`Ready: ${url}  (health: ${url}/api/health/ready, docs: ${url}/api/docs)`);
  });

  it('never says Ready while it answers 503: the NOT-ready text names each failing check and the status', async () => {
    const { url, requests } = await health(Number.POSITIVE_INFINITY);
    const answer = await waitForReady(url, { timeoutMs: 300, intervalMs: 20 });
    expect(answer).toBe('503: postgres (fail), files (fail)');
    expect(requests()).toBeGreaterThan(1);
    const message = readinessMessage(url, answer);
    expect(message).toBe(`Started, but NOT ready: ${url}/api/health/ready answers 503: postgres (fail), files (fail) (causes: the "readiness check failed" lines above)`);
    expect(message).not.toMatch(/^Ready/);
  });

  it("names a check's error when the body carries one, and shows a body it cannot read as it is", () => {
    expect(failingChecks(JSON.stringify({ data: { checks: { postgres: { status: 'fail', error: 'connection refused' } } } }))).toBe('postgres (connection refused)');
    expect(failingChecks('<html>Bad gateway</html>')).toBe('<html>Bad gateway</html>');
  });

  it('a server that does not answer is named with why', async () => {
    const port = await freePort();
    expect(await waitForReady(`http://127.0.0.1:${port}`, { timeoutMs: 200, intervalMs: 20 })).toMatch(/fetch failed|ECONNREFUSED/);
  });
});
