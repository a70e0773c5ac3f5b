// BENCH_ONLY=files npm run bench — file throughput through the API (streamed upload, signed download) next to
// a bare R2 put/get of the same bytes in the same workerd (scripts/bench-worker.ts: /__bench/r2-put, /r2-get),
// and a 40 MB and a 200 MB upload with the Worker isolate's heap read over the DevTools inspector every 100 ms
// (judged: it must not grow with the file) and workerd's resident memory from /proc as context (the bench runs
// with MAX_REQUEST_BODY_BYTES at an Enterprise plan's 500 MB, so one request may carry it). BENCH_FILE_MB,
// BENCH_FILE_ROUNDS (at least 8), BENCH_MID_FILE_MB and BENCH_BIG_FILE_MB change the sizes.
//
// The machine is shared and its load moves within seconds, so the API and the bare R2 are measured in pairs, one
// right after the other (the order alternating per round), and judged on the median of the per-pair ratios; the
// spread of those ratios says how much to trust it. Every stored file's SHA-256 is checked against Node's.
import { createHash, randomBytes } from 'node:crypto';
import { FLAT_HEAP_MB, heapDuring, heapLine, isolateInspector } from './isolate-heap.ts';
import { ownWorkerdPids, rssMb } from './processes.ts';
import { demo } from './seed.ts';
import { positiveEnv } from './env-numbers.ts';

const MB = 2 ** 20;
const SIZE = positiveEnv('BENCH_FILE_MB', 16) * MB;
const ROUNDS = Math.max(8, positiveEnv('BENCH_FILE_ROUNDS', 8));
const BIG = positiveEnv('BENCH_BIG_FILE_MB', 200) * MB;
// A smaller upload measured like the big one: the isolate's heap growth must be the same for both.
const MID = positiveEnv('BENCH_MID_FILE_MB', 40) * MB;

/** Random bytes after a zip signature (the allowlist checks the first bytes); random, so a hash proves the bytes. */
function zipBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(randomBytes(size));
  bytes.set([0x50, 0x4b, 0x03, 0x04]);
  return bytes;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Seconds `work` takes. */
async function seconds(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

/**
 * MB/s of the API and of bare R2 over `rounds` pairs, each pair's ratio, and their median and spread; `check`
 * runs after each pair, outside the timing.
 */
async function paired(rounds: number, bytes: number, raw: (pair: number) => Promise<unknown>, api: (pair: number) => Promise<unknown>, check?: (pair: number) => void) {
  const rates = { api: [] as number[], raw: [] as number[] };
  const ratios: number[] = [];
  const run = { raw, api };
  for (let pair = 0; pair < rounds; pair++) {
    // Alternating which goes first, so neither side always meets the other's after-effects (GC, R2's flushes).
    const [first, second] = pair % 2 === 0 ? (['raw', 'api'] as const) : (['api', 'raw'] as const);
    const times = { [first]: await seconds(() => run[first](pair)), [second]: await seconds(() => run[second](pair)) } as Record<'api' | 'raw', number>;
    rates.api.push(bytes / MB / times.api);
    rates.raw.push(bytes / MB / times.raw);
    ratios.push(times.raw / times.api);
    check?.(pair);
  }
  return {
    api: round(median(rates.api)),
    rawR2: round(median(rates.raw)),
    ratio: round(median(ratios)),
    spread: { min: round(Math.min(...ratios)), max: round(Math.max(...ratios)) },
    ratios: ratios.map((ratio) => round(ratio)),
  };
}

/** Runs one phase; a failure says which phase, and the network cause behind undici's bare "fetch failed". */
async function phase<T>(name: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const cause = error instanceof Error && error.cause ? ` (${String(error.cause)})` : '';
    throw new Error(`files bench, ${name}: ${error instanceof Error ? error.message : String(error)}${cause}`, { cause: error });
  }
}

async function ok(response: Response, what: string): Promise<Response> {
  if (!response.ok) throw new Error(`${what}: ${response.status} ${await response.text()}`);
  return response;
}

/** Throws unless the API's (or the downloaded bytes') SHA-256 is the one Node computed of the bytes sent. */
function sameHash(what: string, got: string | undefined, expected: string): void {
  if (got !== expected) throw new Error(`files bench, ${what}: SHA-256 ${got ?? 'missing'}, Node computed ${expected}`);
}

/**
 * Runs the file scenarios against `baseUrl` with `auth` headers of the demo owner, reading the Worker isolate's heap
 * through wrangler dev's inspector on `inspectorPort`; prints and returns the figures.
 */
export async function benchFiles(baseUrl: string, auth: Record<string, string>, inspectorPort: number) {
  const body = zipBytes(SIZE);
  const bodyHash = sha256(body);
  const files = `${baseUrl}/api/v1/orgs/${demo.org.id}/files`;
  const zip = { 'content-type': 'application/zip' };
  const upload = (bytes: Uint8Array) => fetch(`${files}?name=bench.zip`, { method: 'POST', headers: { ...auth, ...zip }, body: bytes }).then((r) => ok(r, 'upload'));
  const rawPut = async (key: string, bytes: Uint8Array) => ok(await fetch(`${baseUrl}/__bench/r2-put?key=${key}`, { method: 'PUT', headers: zip, body: bytes }), 'raw put');
  console.log(`  files: ${ROUNDS} pairs × ${SIZE / MB} MB each way (API and bare R2 alternating), then one ${MID / MB} MB and one ${BIG / MB} MB upload…`);
  await rawPut('warm', body);
  const ids: string[] = [];
  const uploaded: Array<string | undefined> = [];
  const uploads = await phase('uploads', () =>
    paired(
      ROUNDS,
      SIZE,
      (pair) => rawPut(`raw-${pair}`, body),
      async () => {
        const { data } = (await (await upload(body)).json()) as { data: { id: string; sha256: string } };
        ids.push(data.id);
        uploaded.push(data.sha256);
      },
    ),
  );
  uploaded.forEach((hash, pair) => sameHash(`upload ${pair}`, hash, bodyHash));
  const urls: string[] = [];
  for (const id of ids) {
    const signed = await ok(await fetch(`${files}/${id}/download-url`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' }), 'sign');
    urls.push(((await signed.json()) as { data: { url: string } }).data.url);
  }
  // Each round's downloaded bytes are hashed after its pair's timing.
  let downloaded = new Uint8Array(0);
  const downloads = await phase('downloads', () =>
    paired(
      ROUNDS,
      SIZE,
      async (pair) => (await ok(await fetch(`${baseUrl}/__bench/r2-get?key=raw-${pair}`), 'raw get')).arrayBuffer(),
      async (pair) => {
        downloaded = new Uint8Array(await (await ok(await fetch(urls[pair] ?? ''), 'download')).arrayBuffer());
      },
      (pair) => sameHash(`download ${pair}`, sha256(downloaded), bodyHash),
    ),
  );

  console.log(
    `  ${SIZE / MB} MB pairs: upload ${uploads.api} vs raw ${uploads.rawR2} MB/s (median ratio ${uploads.ratio}×, ${uploads.spread.min}–${uploads.spread.max}), ` +
      `download ${downloads.api} vs raw ${downloads.rawR2} MB/s (median ratio ${downloads.ratio}×, ${downloads.spread.min}–${downloads.spread.max})`,
  );

  // 200 MB through bare R2, then 40 MB and 200 MB through the API, while the isolate's heap and workerd's resident
  // memory are sampled every 100 ms.
  const pids = await ownWorkerdPids();
  const big = zipBytes(BIG);
  const inspector = await phase('inspector', () => isolateInspector(inspectorPort, async () => (await fetch(`${baseUrl}/__bench/bare`)).text()));
  const sampled = async (work: () => Promise<Response>) => {
    const before = rssMb(pids);
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssMb(pids)), 100);
    const started = performance.now();
    const { result: response, heap } = await heapDuring(inspector, () => work().finally(() => clearInterval(sampler)));
    const seconds = (performance.now() - started) / 1000;
    return { response, seconds, heap, before, peak: Math.max(before, ...samples), after: rssMb(pids) };
  };
  // A kept-alive connection the server closes as a large body starts is EPIPE ("fetch failed"); a request just
  // before makes the connection fresh, and one such failure is retried (once, from the start).
  const fresh = async <T>(work: () => Promise<T>) => {
    await (await fetch(`${baseUrl}/__bench/bare`)).text();
    return work().catch(async (error: unknown) => {
      if (!String((error as Error).cause).includes('EPIPE')) throw error;
      await (await fetch(`${baseUrl}/__bench/bare`)).text();
      return work();
    });
  };
  const rawBig = await phase(`raw ${BIG / MB} MB put`, () => fresh(() => sampled(() => rawPut('big', big))));
  const mid = zipBytes(MID);
  const apiMid = await phase(`API ${MID / MB} MB upload`, () => fresh(() => sampled(() => upload(mid))));
  sameHash(`${MID / MB} MB upload`, ((await apiMid.response.json()) as { data: { sha256: string } }).data.sha256, sha256(mid));
  const apiBig = await phase(`API ${BIG / MB} MB upload`, () => fresh(() => sampled(() => upload(big))));
  inspector.close();
  const { before, peak, after } = apiBig;
  const bigSeconds = apiBig.seconds;
  const bigFile = ((await apiBig.response.json()) as { data: { size: number; sha256: string } }).data;
  sameHash(`${BIG / MB} MB upload`, bigFile.sha256, sha256(big));
  const stored = bigFile.size;
  const rawRss = { before: round(rawBig.before), peakDuring: round(rawBig.peak), after: round(rawBig.after) };
  const bigMbPerS = { api: round(BIG / MB / bigSeconds), rawR2: round(BIG / MB / rawBig.seconds), ratio: round(rawBig.seconds / bigSeconds) };

  const figures = {
    fileMb: SIZE / MB,
    rounds: ROUNDS,
    // Per direction: the medians of each side's MB/s, the median of the per-pair ratios (the judged figure), its spread.
    uploadMbPerS: uploads,
    downloadMbPerS: downloads,
    sha256Checked: true,
    bigUpload: {
      mb: BIG / MB,
      stored: stored === BIG,
      seconds: round(bigSeconds),
      mbPerS: bigMbPerS,
      // The judged figure: the Worker isolate's heap (`isolate`: the inspector target's title), in MB.
      isolate: inspector.target,
      isolateHeapMb: apiBig.heap,
      rawR2IsolateHeapMb: rawBig.heap,
      // Context: every workerd process's RSS, the local R2 simulator's and V8's uncollected garbage included.
      workerdPids: pids,
      rssMb: { before: round(before), peakDuring: round(peak), after: round(after) },
      rawR2RssMb: rawRss,
    },
    midUpload: {
      mb: MID / MB,
      seconds: round(apiMid.seconds),
      isolateHeapMb: apiMid.heap,
      rssMb: { before: round(apiMid.before), peakDuring: round(apiMid.peak), after: round(apiMid.after) },
    },
    flatHeapThresholdMb: FLAT_HEAP_MB,
  };
  const row = (figure: typeof uploads) => ({ api: figure.api, 'raw R2': figure.rawR2, 'median api ÷ raw': figure.ratio, spread: `${figure.spread.min}–${figure.spread.max}` });
  console.table({
    'upload MB/s': row(uploads),
    'download MB/s': row(downloads),
    [`${BIG / MB} MB upload MB/s`]: { api: bigMbPerS.api, 'raw R2': bigMbPerS.rawR2, 'median api ÷ raw': bigMbPerS.ratio, spread: 'one pair' },
  });
  const rss = figures.bigUpload.rssMb;
  console.log(heapLine(`${MID / MB} MB upload`, apiMid.heap));
  console.log(heapLine(`${BIG / MB} MB upload`, apiBig.heap));
  console.log(heapLine(`${BIG / MB} MB bare R2 put`, rawBig.heap));
  console.log(`${BIG / MB} MB upload: ${stored === BIG ? 'stored' : 'NOT stored'} in ${figures.bigUpload.seconds} s; context, workerd RSS (pids ${pids.join(', ')}, the R2 simulator included) ${rss.before} MB before, ${rss.peakDuring} MB peak during, ${rss.after} MB after; the same ${BIG / MB} MB as a bare R2 put: ${rawRss.before} → peak ${rawRss.peakDuring} → ${rawRss.after} MB; the ${MID / MB} MB upload: ${figures.midUpload.rssMb.before} → peak ${figures.midUpload.rssMb.peakDuring} → ${figures.midUpload.rssMb.after} MB`);
  console.log(`SHA-256 of every stored and downloaded file matched Node's (${ROUNDS} uploads, ${ROUNDS} downloads, the ${MID / MB} MB and ${BIG / MB} MB uploads)`);
  const met = (name: string, ok: boolean, figure: string) => console.log(`${ok ? 'MET ' : 'MISSED'}  ${name}: ${figure}`);
  const judged = (figure: typeof uploads) => `median of ${ROUNDS} pair ratios ${figure.ratio}× (spread ${figure.spread.min}–${figure.spread.max}×; ${figure.api} vs ${figure.rawR2} MB/s)`;
  met('upload ≥ 0.8 × raw R2 put', uploads.ratio >= 0.8, judged(uploads));
  met('download ≥ 0.8 × raw R2 get', downloads.ratio >= 0.8, judged(downloads));
  // Flat: under the threshold for both sizes, so the growth does not follow the file (holding either whole would be ≥ 40 MB).
  const flat = stored === BIG && apiMid.heap.growthMb < FLAT_HEAP_MB && apiBig.heap.growthMb < FLAT_HEAP_MB;
  met(
    `${BIG / MB} MB upload with the Worker isolate's heap flat (peak − baseline of used heap + backing stores < ${FLAT_HEAP_MB} MB, at ${MID / MB} MB and ${BIG / MB} MB)`,
    flat,
    `+${apiMid.heap.growthMb} MB at ${MID / MB} MB, +${apiBig.heap.growthMb} MB at ${BIG / MB} MB`,
  );
  return figures;
}

const round = (value: number) => Math.round(value * 100) / 100;
