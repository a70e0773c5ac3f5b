// Webhook fan-out throughput for `npm run bench` (BENCH_ONLY=webhooks runs only this): N endpoints of the demo org
// point at a local receiver, W project writes go through the API, and the receiver times how long until every
// write's event reached every endpoint. The path measured is the product's own: audit entry → fan-out job →
// delivery jobs on the local queue → signed POSTs. Locally the queue batches messages (up to 10, or 2 s), so
// this is a floor on the deployed figure, not a prediction of it.
import { createServer } from 'node:http';
import { demo } from './seed.ts';
import { positiveEnv } from './env-numbers.ts';

export interface WebhookBenchResult {
  endpoints: number;
  writes: number;
  deliveries: number;
  duplicates: number;
  seconds: number;
  deliveriesPerSecond: number;
  firstDeliveryMs: number;
}

/** Runs the fan-out benchmark against a started platform, signed in with `headers`. */
export async function benchWebhooks(baseUrl: string, headers: Record<string, string>): Promise<WebhookBenchResult> {
  const endpoints = positiveEnv('BENCH_WEBHOOK_ENDPOINTS', 10);
  const writes = positiveEnv('BENCH_WEBHOOK_WRITES', 50);
  const seen = new Set<string>();
  let requests = 0;
  let firstAt = 0;
  let lastAt = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests += 1;
      const id = `${req.url}:${String(req.headers['webhook-id'])}`;
      if (!seen.has(id)) {
        seen.add(id);
        lastAt = performance.now();
        firstAt ||= lastAt;
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolveListen) => receiver.listen(0, '127.0.0.1', resolveListen));
  const address = receiver.address();
  if (!address || typeof address === 'string') throw new Error('webhook receiver did not bind');
  const json = { ...headers, 'content-type': 'application/json' };
  const api = async (path: string, method: string, body: unknown) => {
    const response = await fetch(`${baseUrl}/api/v1/orgs/${demo.org.id}${path}`, { method, headers: json, body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { data: { id: string } };
  };
  const created: string[] = [];
  try {
    for (let i = 0; i < endpoints; i++) {
      const endpoint = await api('/webhooks', 'POST', { url: `http://127.0.0.1:${address.port}/bench/${i}`, eventTypes: ['project.updated'], description: 'bench' });
      created.push(endpoint.data.id);
    }
    const expected = endpoints * writes;
    const started = performance.now();
    for (let i = 0; i < writes; i++) await api(`/projects/${demo.project.id}`, 'PATCH', { description: `webhook bench ${Date.now()} ${i}` });
    const deadline = Date.now() + 120_000;
    while (seen.size < expected && Date.now() < deadline) await new Promise((resolveLater) => setTimeout(resolveLater, 100));
    const seconds = (lastAt - started) / 1000;
    return {
      endpoints,
      writes,
      deliveries: seen.size,
      duplicates: requests - seen.size,
      seconds: Math.round(seconds * 100) / 100,
      deliveriesPerSecond: Math.round(seen.size / seconds),
      firstDeliveryMs: Math.round(firstAt - started),
    };
  } finally {
    for (const id of created) await fetch(`${baseUrl}/api/v1/orgs/${demo.org.id}/webhooks/${id}`, { method: 'DELETE', headers }).catch(() => undefined);
    await new Promise<void>((resolveClose) => receiver.close(() => resolveClose()));
  }
}
