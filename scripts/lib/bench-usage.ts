// Usage analytics for `npm run bench` (BENCH_ONLY=usage runs only this; README, "Usage analytics"):
//   1. the warm project read with API-usage recording on and off, in the same run, alternating rounds (the off
//      side is the same Worker with USAGE_RECORDING=off, served under /__bench/usage-off/ by scripts/bench-worker.ts);
//   2. product events through the API (POST /orgs/{orgId}/events, BENCH_USAGE_EVENTS per request) for a bounded
//      time, then how long the queue consumer takes to put every accepted event into Postgres.
// Locally the queue hands the consumer at most 10 messages at a time, so the end-to-end figure is a floor.
import autocannon from 'autocannon';
import pg from 'pg';
import { demo } from './seed.ts';

export interface UsageBenchResult {
  read: { on: { reqPerSec: number; p50Ms: number; p99Ms: number }; off: { reqPerSec: number; p50Ms: number; p99Ms: number }; p50DeltaMs: number };
  ingestion: { requests: number; non2xx: number; eventsAccepted: number; apiEventsPerSecond: number; stored: number; storedSeconds: number; endToEndEventsPerSecond: number };
}

const positive = (name: string, fallback: number) => {
  const value = Number(process.env[name] || fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
};

function load(options: autocannon.Options): Promise<{ result: autocannon.Result; samples: number[] }> {
  const samples: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error: unknown, result: autocannon.Result) =>
      error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve({ result, samples: samples.sort((a, b) => a - b) }),
    );
    instance.on('response', (_client, _status, _bytes, ms) => samples.push(ms));
  });
}

const nearestRank = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
const round = (n: number) => Math.round(n * 100) / 100;

/** Runs the usage benchmark against a started platform; `headers` sign in as the demo owner. */
export async function benchUsage(baseUrl: string, databaseUrl: string, headers: Record<string, string>): Promise<UsageBenchResult> {
  const seconds = positive('BENCH_USAGE_SECONDS', 5);
  const connections = positive('BENCH_CONNECTIONS', 10);
  const project = `/api/v1/orgs/${demo.org.id}/projects/${demo.project.id}`;
  // Recording on and off alternate, so a drift of the machine's load touches both sides alike.
  const sides = { on: { requests: 0, seconds: 0, samples: [] as number[] }, off: { requests: 0, seconds: 0, samples: [] as number[] } };
  for (const round of [1, 2]) {
    for (const side of round === 1 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
      const url = side === 'on' ? `${baseUrl}${project}` : `${baseUrl}/__bench/usage-off${project}`;
      await load({ url, headers, connections, duration: 1 });
      const { result, samples } = await load({ url, headers, connections, duration: seconds });
      if (result.non2xx || result.errors) throw new Error(`usage bench read (${side}): ${result.non2xx} non-2xx, ${result.errors} errors`);
      sides[side].requests += result.requests.total;
      sides[side].seconds += result.duration;
      sides[side].samples.push(...samples);
    }
  }
  const summary = (side: keyof typeof sides) => {
    const sorted = sides[side].samples.sort((a, b) => a - b);
    return { reqPerSec: Math.round(sides[side].requests / sides[side].seconds), p50Ms: round(nearestRank(sorted, 50)), p99Ms: round(nearestRank(sorted, 99)) };
  };
  const read = { on: summary('on'), off: summary('off'), p50DeltaMs: 0 };
  read.p50DeltaMs = round(read.on.p50Ms - read.off.p50Ms);

  const perRequest = Math.min(100, positive('BENCH_USAGE_EVENTS', 50));
  const name = `bench.run_${Date.now()}`;
  const body = JSON.stringify({ events: Array.from({ length: perRequest }, (_, i) => ({ name, properties: { i, page: '/pricing', plan: 'pro' } })) });
  const started = performance.now();
  const { result } = await load({ url: `${baseUrl}/api/v1/orgs/${demo.org.id}/events`, method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body, connections, duration: seconds });
  const accepted = (result['2xx'] ?? 0) * perRequest;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let stored = 0;
  try {
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from usage_events where org_id = $1 and name = $2`, [demo.org.id, name]);
      stored = rows[0]?.n ?? 0;
      if (stored >= accepted) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await client.end();
  }
  const storedSeconds = (performance.now() - started) / 1000;
  return {
    read,
    ingestion: {
      requests: result.requests.total,
      non2xx: result.non2xx,
      eventsAccepted: accepted,
      apiEventsPerSecond: Math.round(accepted / result.duration),
      stored,
      storedSeconds: round(storedSeconds),
      endToEndEventsPerSecond: Math.round(stored / storedSeconds),
    },
  };
}

/** Prints the usage benchmark's figures. */
export function reportUsageBench(result: UsageBenchResult): void {
  const { read, ingestion } = result;
  console.log(`usage recording, warm project read: on ${read.on.reqPerSec} req/s p50 ${read.on.p50Ms} ms p99 ${read.on.p99Ms} ms; off ${read.off.reqPerSec} req/s p50 ${read.off.p50Ms} ms p99 ${read.off.p99Ms} ms; p50 on − off = ${read.p50DeltaMs} ms`);
  console.log(
    `product events: ${ingestion.eventsAccepted} accepted in ${ingestion.requests} requests (${ingestion.non2xx} non-2xx) = ${ingestion.apiEventsPerSecond} events/s through the API; ` +
      `${ingestion.stored} stored in Postgres after ${ingestion.storedSeconds} s = ${ingestion.endToEndEventsPerSecond} events/s end to end (API → queue → Postgres)`,
  );
}
