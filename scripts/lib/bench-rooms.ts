// `npm run bench` (BENCH_ONLY=rooms runs only this): N sockets in one room receive a broadcast. Reports the time
// from send to first and last delivery and p50/p99 across sockets, per round, and the memory of the workerd
// process that hosts the room, before and after the sockets connect. Localhost only; counts and time bounded.
// Sockets speak protocol v2 (coalesced presence); BENCH_ROOM_PROTOCOL=1 measures v1's join-per-socket instead.
import { ROOM_LIMITS } from '../../src/lib/limits.ts';
import { performance } from 'node:perf_hooks';
import { ownWorkerdPids, rssMb } from './processes.ts';
import { roomBenchVerdict, SocketCloses, type RoomBenchClosures, type RoomBenchRound } from './room-bench-tally.ts';
import { openRoomSocket, type RoomSocket } from './room-socket.ts';
import { demo } from './seed.ts';

export interface RoomBenchResult {
  sockets: number;
  protocol: 1 | 2;
  /** Presence frames the sockets received while connecting (all of them together). */
  presenceFrames: number;
  connectSeconds: number;
  /** Sockets (the sender too) the server closed during the run: a round cannot reach them, and the run is void. */
  closed: RoomBenchClosures;
  rounds: Array<RoomBenchRound & { firstMs: number; p50Ms: number; p99Ms: number }>;
  /** VmRSS of the workerd process(es) serving the port, in MiB: the room shares it with the rest of the Worker. */
  memoryMiB: { before: number | null; connected: number | null; afterRounds: number | null };
}

const BATCH = 50;
const ROUND_TIMEOUT_MS = 10_000;

/** Runs the room benchmark against the Worker at `baseUrl`. */
export async function benchRooms(baseUrl: string, options: { sockets: number; rounds: number; signal: AbortSignal }): Promise<RoomBenchResult> {
  const protocol = process.env.BENCH_ROOM_PROTOCOL === '1' ? 1 : 2;
  const room = `${baseUrl.replace(/^http/, 'ws')}/api/v1/orgs/${demo.org.id}/rooms/bench-${Date.now()}/ws${protocol === 2 ? '?v=2' : ''}`;
  const headers = { 'x-api-key': demo.apiKey.key };
  const arrivals = new Map<number, number[]>();
  let presenceFrames = 0;
  const onFrame = (frame: { type: string } & Record<string, unknown>) => {
    if (frame.type === 'presence') presenceFrames++;
    const round = (frame.data as { round?: number } | undefined)?.round;
    if (frame.type === 'broadcast' && typeof round === 'number') arrivals.get(round)?.push(performance.now());
  };
  const before = await workerdRssMiB();
  const sockets: RoomSocket[] = [];
  const closes = new SocketCloses();
  const started = performance.now();
  const watch = (socket: RoomSocket) => {
    const index = sockets.push(socket) - 1;
    void socket.closed.then(({ code }) => closes.closed(index, code, performance.now() - started));
  };
  const openReceivers = () => sockets.slice(0, options.sockets).filter((_, index) => closes.isOpen(index)).length;
  try {
    while (sockets.length < options.sockets) {
      options.signal.throwIfAborted();
      const batch = Math.min(BATCH, options.sockets - sockets.length);
      (await Promise.all(Array.from({ length: batch }, () => openRoomSocket(room, { headers, onFrame, timeoutMs: 30_000 })))).forEach(watch);
    }
    const connectSeconds = (performance.now() - started) / 1000;
    const presenceWhileConnecting = presenceFrames;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const connected = await workerdRssMiB();
    const sender = await openRoomSocket(room, { headers });
    watch(sender);
    // The sender's own join reaches every socket as a presence change, up to ROOM_LIMITS.presenceFlushMs later: let it
    // pass, so the rounds time broadcasts, not broadcasts racing that flush.
    await quiet(() => presenceFrames, ROOM_LIMITS.presenceFlushMs + 250);
    const rounds: RoomBenchResult['rounds'] = [];
    for (let round = 1; round <= options.rounds; round++) {
      options.signal.throwIfAborted();
      const times: number[] = [];
      arrivals.set(round, times);
      const sent = performance.now();
      sender.ws.send(JSON.stringify({ v: 1, type: 'broadcast', data: { round } }));
      const deadline = sent + ROUND_TIMEOUT_MS;
      while (times.length < openReceivers() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      const latencies = times.map((time) => time - sent).sort((a, b) => a - b);
      rounds.push({ delivered: latencies.length, open: openReceivers(), firstMs: ms(latencies[0]), p50Ms: ms(pick(latencies, 50)), p99Ms: ms(pick(latencies, 99)), lastMs: ms(latencies.at(-1)) });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    closes.stop();
    return { sockets: options.sockets, protocol, presenceFrames: presenceWhileConnecting, connectSeconds: Math.round(connectSeconds * 10) / 10, closed: closes.summary(), rounds, memoryMiB: { before, connected, afterRounds: await workerdRssMiB() } };
  } finally {
    closes.stop();
    for (const socket of sockets) socket.ws.close(1000);
  }
}

/** Prints the result as a table and the target line. */
export function reportRoomBench(result: RoomBenchResult): void {
  console.log(`\nRooms: ${result.sockets} sockets in one room, protocol v${result.protocol} (connected in ${result.connectSeconds} s, ${result.presenceFrames} presence frames received meanwhile); a broadcast per round, send → delivery:`);
  console.table(result.rounds.map((round, index) => ({ round: index + 1, delivered: round.delivered, open: round.open, 'first ms': round.firstMs, 'p50 ms': round.p50Ms, 'p99 ms': round.p99Ms, 'last ms': round.lastMs })));
  for (const line of roomBenchVerdict(result)) console.log(line);
  const { before, connected, afterRounds } = result.memoryMiB;
  console.log(`workerd RSS (MiB, the whole local runtime): before ${before ?? 'n/a'}, ${result.sockets} sockets connected ${connected ?? 'n/a'}, after the rounds ${afterRounds ?? 'n/a'}`);
}

/** Resolves once `count` has not moved for `forMs` (at most 10 s). */
async function quiet(count: () => number, forMs: number): Promise<void> {
  const until = performance.now() + 10_000;
  let last = count();
  let since = performance.now();
  while (performance.now() - since < forMs && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (count() !== last) [last, since] = [count(), performance.now()];
  }
}

const ms = (value: number | undefined) => (value === undefined ? Number.NaN : Math.round(value * 10) / 10);
const pick = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

/** The resident memory of the local runtime (the workerd processes the benchmark started), in MiB; null if none found. */
async function workerdRssMiB(): Promise<number | null> {
  const pids = await ownWorkerdPids();
  return pids.length === 0 ? null : Math.round(rssMb(pids) * 10) / 10;
}
