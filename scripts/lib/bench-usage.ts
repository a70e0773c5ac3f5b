// Usage analytics for `npm run bench` (BENCH_ONLY=usage runs only this; README, "Usage analytics"):
//   1. the warm project read with API-usage recording on and off, in the same run, alternating rounds; two more
//      sides split what "on" costs: `nosend` (events buffered, the sends go nowhere: the middleware's own work) and
//      `noinsert` (sent to the queue, acked by the consumer without a Postgres insert). The other sides are the same
//      Worker served under /__bench/usage-<side>/ by scripts/bench-worker.ts;
//   2. product events through the API (POST /orgs/{orgId}/events, BENCH_USAGE_EVENTS per request) for a bounded
//      time, then how long the queue consumer takes to put every accepted event into Postgres.
// Locally the queue hands the consumer at most 10 messages at a time, so the end-to-end figure is a floor.
import autocannon from 'autocannon';
import pg from 'pg';
import { cpuSnapshot, cpuSpent, type CpuSnapshot } from './processes.ts';
import { demo } from './seed.ts';
import { positiveEnv } from './env-numbers.ts';

const SIDES = ['off', 'on', 'nosend', 'noinsert'] as const;
type Side = (typeof SIDES)[number];
/** `cpuMsPerRequest`: CPU each process group spent per request served, settling time included (scripts/lib/processes.ts). */
type SideFigures = { reqPerSec: number; p50Ms: number; p99Ms: number; cpuMsPerRequest: CpuSnapshot };

export interface UsageBenchResult {
  /** Per side; `p50DeltaMs`: each side's p50 minus the off side's. */
  read: Record<Side, SideFigures> & { p50DeltaMs: number; nosendDeltaMs: number; noinsertDeltaMs: number; rounds: Array<Partial<Record<Side, number>>> };
  ingestion: { requests: number; non2xx: number; eventsAccepted: number; apiEventsPerSecond: number; stored: number; storedSeconds: number; endToEndEventsPerSecond: number };
}

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
const round2 = (n: number) => Math.round(n * 100) / 100;

/** Runs the usage benchmark against a started platform; `headers` sign in as the demo owner. */
export async function benchUsage(baseUrl: string, databaseUrl: string, headers: Record<string, string>): Promise<UsageBenchResult> {
  const seconds = positiveEnv('BENCH_USAGE_SECONDS', 5);
  const connections = positiveEnv('BENCH_CONNECTIONS', 10);
  const project = `/api/v1/orgs/${demo.org.id}/projects/${demo.project.id}`;
  const rounds = positiveEnv('BENCH_USAGE_ROUNDS', 4);
  // The sides alternate, each round starting one side later (over 4 rounds each side runs once in every
  // position), so a drift of the machine's load, and the first round's warm-up, touch all sides alike.
  // Each side's CPU is counted from before its warm-up to `settleMs` after its load, so the queue consumer's work
  // for its last events is its own, not the next side's; per request, over warm-up and measured requests alike.
  const settleMs = positiveEnv('BENCH_USAGE_SETTLE_MS', 2_000);
  type Tally = { requests: number; seconds: number; samples: number[]; cpuRequests: number; cpu: CpuSnapshot };
  const sides = Object.fromEntries(SIDES.map((side) => [side, { requests: 0, seconds: 0, samples: [], cpuRequests: 0, cpu: {} }])) as unknown as Record<Side, Tally>;
  const roundP50s: Array<Partial<Record<Side, number>>> = [];
  for (let round = 0; round < rounds; round++) {
    const p50s: Partial<Record<Side, number>> = {};
    roundP50s.push(p50s);
    for (const side of SIDES.map((_, i) => SIDES[(i + round) % SIDES.length] ?? 'off')) {
      const url = side === 'on' ? `${baseUrl}${project}` : `${baseUrl}/__bench/usage-${side}${project}`;
      const before = await cpuSnapshot();
      const warm = await load({ url, headers, connections, duration: 1 });
      const { result, samples } = await load({ url, headers, connections, duration: seconds });
      await new Promise((resolve) => setTimeout(resolve, settleMs));
      for (const [name, ms] of Object.entries(cpuSpent(before, await cpuSnapshot()))) sides[side].cpu[name] = (sides[side].cpu[name] ?? 0) + ms;
      sides[side].cpuRequests += warm.result.requests.total + result.requests.total;
      if (result.non2xx || result.errors) throw new Error(`usage bench read (${side}): ${result.non2xx} non-2xx, ${result.errors} errors`);
      sides[side].requests += result.requests.total;
      sides[side].seconds += result.duration;
      for (const sample of samples) sides[side].samples.push(sample);
      p50s[side] = round2(nearestRank(samples, 50));
    }
  }
  const summary = (side: Side): SideFigures => {
    const sorted = sides[side].samples.sort((a, b) => a - b);
    const cpuMsPerRequest = Object.fromEntries(Object.entries(sides[side].cpu).map(([name, ms]) => [name, Math.round((ms / sides[side].cpuRequests) * 1000) / 1000]));
    return { reqPerSec: Math.round(sides[side].requests / sides[side].seconds), p50Ms: round2(nearestRank(sorted, 50)), p99Ms: round2(nearestRank(sorted, 99)), cpuMsPerRequest };
  };
  const figures = Object.fromEntries(SIDES.map((side) => [side, summary(side)])) as Record<Side, SideFigures>;
  const delta = (side: Side) => round2(figures[side].p50Ms - figures.off.p50Ms);
  const read = { ...figures, p50DeltaMs: delta('on'), nosendDeltaMs: delta('nosend'), noinsertDeltaMs: delta('noinsert'), rounds: roundP50s };

  const perRequest = Math.min(100, positiveEnv('BENCH_USAGE_EVENTS', 50));
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
      storedSeconds: round2(storedSeconds),
      endToEndEventsPerSecond: Math.round(stored / storedSeconds),
    },
  };
}

/** Prints the usage benchmark's figures. */
export function reportUsageBench(result: UsageBenchResult): void {
  const { read, ingestion } = result;
  const side = (figures: SideFigures) => `${figures.reqPerSec} req/s p50 ${figures.p50Ms} ms p99 ${figures.p99Ms} ms`;
  console.log(
    `usage recording, warm project read: on ${side(read.on)}; off ${side(read.off)}; p50 on − off = ${read.p50DeltaMs} ms\n` +
      `  split: buffered, not sent ${side(read.nosend)} (p50 − off = ${read.nosendDeltaMs} ms); sent, consumer inserts nothing ${side(read.noinsert)} (p50 − off = ${read.noinsertDeltaMs} ms)\n` +
      `  p50 per round (ms): ${read.rounds.map((p50s) => SIDES.map((name) => `${name} ${p50s[name]}`).join(', ')).join(' | ')}\n` +
      `  CPU ms per request (bench = load generator + Neon proxy): ${SIDES.map((name) => `${name} ${Object.entries(read[name].cpuMsPerRequest).map(([process, ms]) => `${process} ${ms}`).join(' ')}`).join(' | ')}`,
  );
  console.log(
    `product events: ${ingestion.eventsAccepted} accepted in ${ingestion.requests} requests (${ingestion.non2xx} non-2xx) = ${ingestion.apiEventsPerSecond} events/s through the API; ` +
      `${ingestion.stored} stored in Postgres after ${ingestion.storedSeconds} s = ${ingestion.endToEndEventsPerSecond} events/s end to end (API → queue → Postgres)`,
  );
}
