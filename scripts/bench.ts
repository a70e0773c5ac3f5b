// npm run bench — throughput and latency of the real stack (wrangler dev + workerd, Neon proxy, PostgreSQL)
// on free ports with throwaway data. Each scenario is warmed up, then driven by autocannon; prints one table,
// writes bench-results.json, stops everything and exits. BENCH_DURATION (s, default 10), BENCH_CONNECTIONS
// (default 10) and BENCH_WARMUP (s, default 2) tune it. Numbers are relative: the load generator shares the
// machine with the server, so compare rows of one run, not runs on different machines.
import { chmodSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { benchFiles } from './lib/bench-files.ts';
import { benchRooms, reportRoomBench } from './lib/bench-rooms.ts';
import { freePort } from './lib/ports.ts';
import { cpuSnapshot, cpuSpent } from './lib/processes.ts';
import { ROOT, onShutdownSignal, startPlatform, type Platform } from './lib/platform.ts';
import { DEMO_PASSWORD, demo } from './lib/seed.ts';
import { benchWebhooks } from './lib/bench-webhooks.ts';
import { benchUsage, reportUsageBench } from './lib/bench-usage.ts';
import { positiveEnv } from './lib/env-numbers.ts';

/** One kind of request to measure. Add login, refresh, authenticated reads and writes here as they land. */
interface Scenario {
  name: string;
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /**
   * Runs once before the warm-up, e.g. to sign in. Its headers are added to every request; `setupRequest`
   * and `onResponse` (autocannon hooks) make requests that differ, e.g. each refresh sending a new token.
   */
  setup?: (baseUrl: string) => Promise<{ headers?: Record<string, string>; setupRequest?: autocannon.Request['setupRequest']; onResponse?: autocannon.Request['onResponse'] }>;
  /** Concurrent connections, when not BENCH_CONNECTIONS. */
  connections?: number;
  /** Seconds measured, when not BENCH_DURATION. */
  durationS?: number;
  /** Seconds before autocannon counts a request as timed out (its default: 10). */
  timeoutS?: number;
  /** Refusals (429) are what this scenario measures; they do not make its figures suspect. */
  expectRefusals?: boolean;
}

// The files section's 200 MB single-request upload is what an Enterprise plan lets through (500 MB; Free/Pro stop at
// 100 MB). The run's one sign-in (`bearer`) outlives the default 15 minutes of an access token.
const BENCH_VARS = ['MAX_REQUEST_BODY_BYTES:500000000', 'ACCESS_TOKEN_TTL_SECONDS:3600'];

const demoProject = `/api/v1/orgs/${demo.org.id}/projects/${demo.project.id}`;
const owner = demo.users[0];

/** Signs the demo owner in and returns the session's tokens. */
async function login(baseUrl: string): Promise<{ accessToken: string; refreshToken: string }> {
  const response = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: owner?.email, password: DEMO_PASSWORD }),
  });
  if (!response.ok) throw new Error(`bench login failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { data: { tokens: { accessToken: string; refreshToken: string } } }).data.tokens;
}

// One sign-in for every scenario: sign-ins are throttled per client address (the `auth` class), and the
// login scenario below spends that budget on purpose.
let accessToken: Promise<string> | undefined;
const bearer = async (baseUrl: string) => ({ headers: { authorization: `Bearer ${await (accessToken ??= login(baseUrl).then((tokens) => tokens.accessToken))}` } });

/** Signs in like `bearer`, and gives every request an Idempotency-Key of its own. */
const keyed: NonNullable<Scenario['setup']> = async (baseUrl) => ({
  ...(await bearer(baseUrl)),
  setupRequest: (request) => ({ ...request, headers: { ...request.headers, 'idempotency-key': crypto.randomUUID() } }),
});

const BARE = 'bare route';
const WARM_READ = 'project read, warm (token)';
const LIMITER = 'bare route + limiter';
// The limiter's own cost, without queueing behind other connections: one connection, both routes.
const BARE_ALONE = 'bare route, 1 connection';
const LIMITER_ALONE = 'bare route + limiter, 1 connection';
// What of that is the round trip to a Durable Object (a `ping` that does nothing) and what the limiter's own work.
const PING_ALONE = 'bare route + Durable Object ping, 1 connection';
const CROWD = `${WARM_READ}, 1,000 connections`;
const CROWD_BARE = `${BARE}, 1,000 connections`;
/** The scenarios each target compares, measured together round after round (`measureRounds`). */
const TARGET_GROUPS = [
  [BARE, WARM_READ],
  [BARE_ALONE, PING_ALONE, LIMITER_ALONE],
];

const allScenarios: Scenario[] = [
  // The first scenario is the baseline the others are compared with: the same workerd, no middleware at all.
  { name: BARE, path: '/__bench/bare' },
  { name: LIMITER, path: '/__bench/limiter' },
  { name: BARE_ALONE, path: '/__bench/bare', connections: 1 },
  { name: LIMITER_ALONE, path: '/__bench/limiter', connections: 1 },
  { name: PING_ALONE, path: '/__bench/ping', connections: 1 },
  { name: 'liveness', path: '/api/health/live' },
  { name: 'readiness', path: '/api/health/ready' },
  // Admitted by the org's edge authority and served from the edge cache: no Postgres.
  { name: WARM_READ, path: demoProject, setup: bearer },
  { name: 'project read, warm (API key)', path: demoProject, headers: { 'x-api-key': demo.apiKey.key } },
  // Admitted at the edge, read from Postgres (lists are not edge-cached).
  { name: 'project list (Postgres read)', path: `/api/v1/orgs/${demo.org.id}/projects`, setup: bearer },
  { name: 'project write (token)', method: 'PATCH', path: demoProject, body: { description: 'Updated by the benchmark' }, setup: bearer },
  // The same write with an Idempotency-Key: a new key per request (claim in the write's round trip, then the
  // answer stored: one more), and one key for every request (after the first, each is a replay).
  { name: 'project write, new Idempotency-Key each', method: 'PATCH', path: demoProject, body: { description: 'Updated by the benchmark' }, setup: keyed },
  { name: 'project write, one Idempotency-Key (replays)', method: 'PATCH', path: demoProject, body: { description: 'Updated by the benchmark' }, setup: async (baseUrl) => ({ headers: { ...(await bearer(baseUrl)).headers, 'idempotency-key': `bench-${Date.now()}` } }) },
  // Locally a few hundred requests/s are served, so each of 1,000 connections waits seconds: allow each request a
  // minute, and measure long enough for every connection to be answered a few times. The bare route's row is the
  // runtime's own behaviour at that many connections.
  { name: CROWD_BARE, path: '/__bench/bare', connections: 1_000, timeoutS: 60, durationS: 30 },
  { name: CROWD, path: demoProject, setup: bearer, connections: 1_000, timeoutS: 60, durationS: 30 },
  // PBKDF2 (100,000 iterations) and the per-address sign-in limit: most answers are 429, by design.
  { name: 'login (throttled)', method: 'POST', path: '/api/v1/auth/login', body: { email: owner?.email, password: DEMO_PASSWORD }, expectRefusals: true },
];

const scenarios = process.env.BENCH_ONLY ? allScenarios.filter((s) => process.env.BENCH_ONLY?.split(';').includes(s.name)) : allScenarios;
const DURATION_S = positiveEnv('BENCH_DURATION', 10, { fractions: true });
const CONNECTIONS = positiveEnv('BENCH_CONNECTIONS', 10);
const WARMUP_S = positiveEnv('BENCH_WARMUP', 2, { fractions: true });
// The targets are judged on their scenarios measured again in interleaved rounds (`measureRounds`).
const ROUNDS = positiveEnv('BENCH_ROUNDS', 5);
const ROUND_S = positiveEnv('BENCH_ROUND_DURATION', 5, { fractions: true });
const RESULTS_FILE = join(ROOT, 'bench-results.json');

interface Measurement {
  name: string;
  expectRefusals: boolean;
  method: string;
  path: string;
  requests: number;
  reqPerSec: number;
  latencyMs: { p50: number; p95: number; p99: number; mean: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  /** CPU the bench's workerd processes spent per request (the Worker, its objects and wrangler's local proxy): steadier than req/s on a shared machine. */
  workerdCpuMsPerRequest: number;
}

const dataDir = mkdtempSync(join(tmpdir(), 'edge-saas-bench-'));
// Wrangler's Durable Object, KV and R2 state on tmpfs when there is room (BENCH_STATE_DIR: elsewhere). Every object
// write is committed before its answer leaves; locally that commit is an fsync of this disk (~1.3 ms here), which
// deployed objects do not pay (theirs is a replication in the object's region) and which would swamp the limiter's
// own cost. README, "Where the bench keeps Durable Object state".
const STATE_PARENT = process.env.BENCH_STATE_DIR || (hasRoom('/dev/shm', 2 * 2 ** 30) ? '/dev/shm' : tmpdir());
const stateDir = mkdtempSync(join(STATE_PARENT, 'edge-saas-bench-state-'));
const controller = new AbortController();
let platform: Platform | undefined;
let running: autocannon.Instance | undefined;

onShutdownSignal((signal) => {
  if (controller.signal.aborted) return;
  console.log(`\n${signal}: stopping…`);
  controller.abort(new Error(`interrupted by ${signal}`));
  running?.stop();
});

let exitCode = 0;
try {
  // As root, PostgreSQL runs as the `postgres` user, who must be able to enter the data folder.
  chmodSync(dataDir, 0o755);
  console.log(`Starting the platform (${DURATION_S} s per scenario, ${CONNECTIONS} connections, ${WARMUP_S} s warm-up)…`);
  // A known inspector port: the files section reads the Worker isolate's heap through it.
  const inspectorPort = await freePort();
  platform = await startPlatform({
    entry: 'scripts/bench-worker.ts',
    inspectorPort,
    // Keep the request log out of the measured path: locally every line crosses to wrangler's process.
    vars: ['LOG_LEVEL:warn', ...BENCH_VARS],
    port: await freePort(),
    dataDir,
    stateDir,
    persistent: false,
    pgPort: await freePort(),
    proxyPort: await freePort(),
    inheritOutput: false,
    // Wrangler pretty-printing every request is a local-only cost that would dominate the figures.
    logLevel: 'warn',
    // So is its local trace collector, which syncs every request's spans to disk.
    localTraces: false,
    signal: controller.signal,
  });
  const measurements: Measurement[] = [];
  for (const scenario of scenarios) {
    controller.signal.throwIfAborted();
    measurements.push(await measure(platform.url, scenario));
  }
  if (measurements.length > 0) report(measurements, await measureRounds(platform.url));
  // Files (scripts/lib/bench-files.ts): MB/s through the API next to bare R2, and a 200 MB upload's memory.
  const files = !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(';').includes('files') ? await benchFiles(platform.url, (await bearer(platform.url)).headers, inspectorPort) : undefined;
  if (files) writeFileSync(join(ROOT, 'bench-files-results.json'), `${JSON.stringify({ date: new Date().toISOString(), files }, null, 2)}\n`);
  // Webhook fan-out (scripts/lib/bench-webhooks.ts): not an autocannon scenario; BENCH_ONLY=webhooks runs only it.
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(';').includes('webhooks')) {
    const webhooks = await benchWebhooks(platform.url, (await bearer(platform.url)).headers);
    console.log(`webhook fan-out: ${webhooks.deliveries} deliveries (${webhooks.endpoints} endpoints × ${webhooks.writes} writes, ${webhooks.duplicates} duplicates) in ${webhooks.seconds} s = ${webhooks.deliveriesPerSecond} deliveries/s; first after ${webhooks.firstDeliveryMs} ms`);
  }
  // Realtime rooms: one room, BENCH_ROOM_SOCKETS sockets (default 1,000), a broadcast per round (scripts/lib/bench-rooms.ts).
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(';').includes('rooms')) {
    reportRoomBench(await benchRooms(platform.url, { sockets: positiveEnv('BENCH_ROOM_SOCKETS', 1_000), rounds: 5, signal: controller.signal }));
  }
  // Usage analytics (scripts/lib/bench-usage.ts): recording on vs off on the warm read, and product events ingestion.
  if (!process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(';').includes('usage')) {
    const usage = await benchUsage(platform.url, platform.databaseUrl, (await bearer(platform.url)).headers);
    reportUsageBench(usage);
    writeFileSync(join(ROOT, 'bench-usage-results.json'), `${JSON.stringify({ date: new Date().toISOString(), usage }, null, 2)}\n`);
  }
} catch (error) {
  if (!controller.signal.aborted) {
    console.error(error instanceof Error ? error.message : error);
    exitCode = 1;
  } else exitCode = 130;
} finally {
  try {
    await platform?.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
}
process.exit(exitCode);

/** Whether `dir` exists with at least `bytes` free (a container's /dev/shm is often 64 MB; the files section stores 200 MB). */
function hasRoom(dir: string, bytes: number): boolean {
  try {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize >= bytes;
  } catch {
    return false;
  }
}

async function measure(baseUrl: string, scenario: Scenario, timing = { warmupS: WARMUP_S, durationS: DURATION_S }): Promise<Measurement> {
  const method = scenario.method ?? 'GET';
  const prepared = await scenario.setup?.(baseUrl);
  const headers = { ...scenario.headers, ...prepared?.headers };
  if (scenario.body !== undefined || prepared?.setupRequest) headers['content-type'] ??= 'application/json';
  const options: autocannon.Options = {
    url: `${baseUrl}${scenario.path}`,
    method,
    headers,
    body: scenario.body === undefined ? undefined : JSON.stringify(scenario.body),
    connections: scenario.connections ?? CONNECTIONS,
    timeout: scenario.timeoutS,
    requests: prepared?.setupRequest ? [{ method, setupRequest: prepared.setupRequest, onResponse: prepared.onResponse }] : undefined,
  };
  process.stdout.write(`  ${scenario.name}: warming up… `);
  await run({ ...options, duration: timing.warmupS });
  process.stdout.write('measuring… ');
  // autocannon's own histogram has whole-millisecond buckets and no p95; keep every sample instead.
  const samples: number[] = [];
  const cpuBefore = await cpuSnapshot();
  const result = await run({ ...options, duration: scenario.durationS ?? timing.durationS }, (ms) => samples.push(ms));
  const workerdCpuMs = cpuSpent(cpuBefore, await cpuSnapshot()).workerd ?? 0;
  console.log('done');
  samples.sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    name: scenario.name,
    expectRefusals: scenario.expectRefusals ?? false,
    method,
    path: scenario.path,
    requests: result.requests.total,
    reqPerSec: Math.round(result.requests.total / result.duration),
    latencyMs: {
      p50: round(percentile(samples, 50)),
      p95: round(percentile(samples, 95)),
      p99: round(percentile(samples, 99)),
      mean: round(samples.reduce((sum, ms) => sum + ms, 0) / Math.max(1, samples.length)),
      max: round(samples.at(-1) ?? 0),
    },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    workerdCpuMsPerRequest: round(workerdCpuMs / Math.max(1, result.requests.total)),
  };
}

function run(options: autocannon.Options, onLatency?: (ms: number) => void): Promise<autocannon.Result> {
  return new Promise((resolveRun, reject) => {
    running = autocannon(options, (error: unknown, result: autocannon.Result) => {
      running = undefined;
      if (controller.signal.aborted) reject(controller.signal.reason);
      else if (error) reject(error instanceof Error ? error : new Error(String(error)));
      else resolveRun(result);
    });
    if (onLatency) running.on('response', (_client, _status, _bytes, ms) => onLatency(ms));
  });
}

type Rounds = Map<string, Measurement[]>;

/**
 * The targets' scenarios again, ROUNDS times, each round measuring a group's scenarios one after the other for
 * ROUND_S seconds: a machine shared with other work drifts over a run, and a target judged on two measurements a
 * minute apart judges the drift as much as the code. Each target is judged on the median of its per-round figures,
 * every round printed. A group runs only when BENCH_ONLY selected all of its scenarios.
 */
async function measureRounds(baseUrl: string): Promise<Rounds> {
  const rounds: Rounds = new Map();
  const groups = TARGET_GROUPS.map((group) => group.map((name) => scenarios.find((scenario) => scenario.name === name))).filter((group) => group.every(Boolean)) as Scenario[][];
  if (groups.length === 0) return rounds;
  console.log(`\nThe targets' scenarios in ${ROUNDS} interleaved rounds of ${ROUND_S} s each:`);
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const scenario of groups.flat()) {
      controller.signal.throwIfAborted();
      process.stdout.write(`  round ${round}/${ROUNDS}:`);
      const measurement = await measure(baseUrl, scenario, { warmupS: 1, durationS: ROUND_S });
      rounds.set(scenario.name, [...(rounds.get(scenario.name) ?? []), measurement]);
    }
  }
  return rounds;
}

/** The median of `values` (the mean of the middle two for an even count). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function report(measurements: Measurement[], rounds: Rounds): void {
  const [baseline] = measurements;
  const rows = measurements.map((m) => ({
    scenario: m.name,
    'req/s': m.reqPerSec,
    'p50 ms': m.latencyMs.p50,
    'p95 ms': m.latencyMs.p95,
    'p99 ms': m.latencyMs.p99,
    'non-2xx': m.non2xx,
    errors: m.errors + m.timeouts,
    'workerd CPU ms/req': m.workerdCpuMsPerRequest,
    // How much slower than the baseline: its req/s over ours, our p50 over its.
    [`req/s ÷ ${baseline?.name}`]: ratio(baseline?.reqPerSec, m.reqPerSec),
    [`p50 ÷ ${baseline?.name}`]: ratio(m.latencyMs.p50, baseline?.latencyMs.p50),
  }));
  // The load generator shares the machine with the server; a busy machine lowers every row.
  const load = loadavg().map((value) => value.toFixed(2));
  console.log(`\n${CONNECTIONS} connections, ${DURATION_S} s per scenario, Node ${process.versions.node}, ${cpus().length} CPUs, load average ${load.join(' ')}, wrangler state in ${STATE_PARENT}`);
  console.table(rows);
  const live = measurements.find((m) => m.path === '/api/health/live');
  const ready = measurements.find((m) => m.path === '/api/health/ready');
  const ratios = live && ready ? { liveReqPerSecOverReady: ratio(live.reqPerSec, ready.reqPerSec), readyP50OverLive: ratio(ready.latencyMs.p50, live.latencyMs.p50) } : undefined;
  if (ratios) console.log(`live ÷ ready req/s: ${ratios.liveReqPerSecOverReady}×; ready p50 ÷ live p50: ${ratios.readyP50OverLive}×`);
  const targets = checkTargets(measurements, rounds);
  for (const target of targets) console.log(`${target.met ? 'MET ' : 'MISSED'}  ${target.name}: ${target.figure}`);
  const failed = measurements.filter((m) => (m.expectRefusals ? 0 : m.non2xx) + m.errors + m.timeouts > 0);
  if (failed.length > 0) console.warn(`Warning: non-2xx or errors in ${failed.map((m) => m.name).join(', ')}; their figures are suspect.`);
  const settings = { durationS: DURATION_S, connections: CONNECTIONS, warmupS: WARMUP_S, node: process.versions.node, cpus: cpus().length, loadAverage: load, stateDir: STATE_PARENT };
  writeFileSync(RESULTS_FILE, `${JSON.stringify({ date: new Date().toISOString(), settings, scenarios: measurements, rounds: Object.fromEntries(rounds), ratios, targets }, null, 2)}\n`);
  console.log(`Written to ${RESULTS_FILE}`);
}

/**
 * The request path's targets (issue: "the request path at the edge"), each against the bare route of the same run:
 * the throughput, tail and limiter targets on the median of the interleaved rounds, the crowd on its one measurement.
 */
function checkTargets(measurements: Measurement[], rounds: Rounds): Array<{ name: string; met: boolean; figure: string }> {
  const series = (name: string) => rounds.get(name) ?? [];
  const [bare, warm, bareAlone, limiterAlone, pingAlone] = [series(BARE), series(WARM_READ), series(BARE_ALONE), series(LIMITER_ALONE), series(PING_ALONE)];
  const perRound = (figure: (round: number) => number) => (bare.length > 0 ? bare : bareAlone).map((_, round) => figure(round));
  const judged = (figures: number[], digits: number, unit: string) => `median ${median(figures).toFixed(digits)}${unit} of ${figures.length} rounds (${figures.map((figure) => figure.toFixed(digits)).join(', ')})`;
  const at = (series: Measurement[], round: number) => series[round] as Measurement;
  // Each target whose scenarios ran (BENCH_ONLY may run a few).
  const targets: Array<{ name: string; met: boolean; figure: string }> = [];
  if (bare.length > 0 && warm.length > 0) {
    const throughput = perRound((round) => at(warm, round).reqPerSec / at(bare, round).reqPerSec);
    const tail = perRound((round) => at(warm, round).latencyMs.p99 / at(bare, round).latencyMs.p99);
    targets.push(
      { name: 'warm read ≥ 0.6 × bare req/s', met: median(throughput) >= 0.6, figure: `warm ÷ bare req/s: ${judged(throughput, 2, '×')}` },
      { name: 'warm read p99 ≤ 2 × bare p99', met: median(tail) <= 2, figure: `warm ÷ bare p99: ${judged(tail, 2, '×')}` },
    );
  }
  if (bareAlone.length > 0 && limiterAlone.length > 0 && pingAlone.length > 0) {
    const p50 = (series: Measurement[], round: number) => at(series, round).latencyMs.p50;
    const limiterCost = perRound((round) => p50(limiterAlone, round) - p50(bareAlone, round));
    // The split: a `ping` of the same object is the round trip with no work in it.
    const roundTrip = perRound((round) => p50(pingAlone, round) - p50(bareAlone, round));
    targets.push({
      name: 'limiter adds ≤ 1 ms at p50 (1 connection)',
      met: median(limiterCost) <= 1,
      figure: `limiter − bare p50: ${judged(limiterCost, 2, ' ms')}; the round trip alone (a ping − bare): ${judged(roundTrip, 2, ' ms')}`,
    });
  }
  const crowd = measurements.find((m) => m.name === CROWD);
  if (crowd) {
    targets.push({
      name: 'warm read at 1,000 connections: 0 errors, 0 non-2xx',
      // Answers for at least as many requests as connections: not a run where most connections were never answered.
      met: crowd.errors + crowd.timeouts + crowd.non2xx === 0 && crowd.requests >= 1_000,
      figure: `${crowd.requests} requests, ${crowd.non2xx} non-2xx, ${crowd.errors} errors, ${crowd.timeouts} timeouts, p50 ${crowd.latencyMs.p50} ms`,
    });
  }
  return targets;
}

function ratio(numerator: number | undefined, denominator: number | undefined): number | null {
  if (!numerator || !denominator) return null;
  return Math.round((numerator / denominator) * 100) / 100;
}
