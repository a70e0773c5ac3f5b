// BENCH_ONLY=files npm run bench — file throughput through the API (streamed upload, signed download) next to
// a bare R2 put/get of the same bytes in the same workerd (scripts/bench-worker.ts: /__bench/r2-put, /r2-get),
// and a 200 MB upload with workerd's resident memory sampled from /proc before, during and after (the bench runs
// with MAX_REQUEST_BODY_BYTES at an Enterprise plan's 500 MB, so one request may carry it). BENCH_FILE_MB,
// BENCH_FILE_ROUNDS and BENCH_BIG_FILE_MB change the sizes.
import { ownWorkerdPids, rssMb } from './processes.ts';
import { demo } from './seed.ts';

const MB = 2 ** 20;
const SIZE = Number(process.env.BENCH_FILE_MB || 16) * MB;
const ROUNDS = Number(process.env.BENCH_FILE_ROUNDS || 8);
const BIG = Number(process.env.BENCH_BIG_FILE_MB || 200) * MB;

/** A zip-signed body of `size` bytes (the allowlist checks the first bytes). */
function zipBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) bytes[i] = i % 251;
  bytes.set([0x50, 0x4b, 0x03, 0x04]);
  return bytes;
}


async function timed(rounds: number, bytes: number, once: (round: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  for (let round = 0; round < rounds; round++) await once(round);
  return (rounds * bytes) / MB / ((performance.now() - started) / 1000);
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

/** Runs the file scenarios against `baseUrl` with `auth` headers of the demo owner; prints and returns the figures. */
export async function benchFiles(baseUrl: string, auth: Record<string, string>) {
  const body = zipBytes(SIZE);
  const files = `${baseUrl}/api/v1/orgs/${demo.org.id}/files`;
  const upload = (bytes: Uint8Array) =>
    fetch(`${files}?name=bench.zip`, { method: 'POST', headers: { ...auth, 'content-type': 'application/zip' }, body: bytes }).then((r) => ok(r, 'upload'));
  console.log(`  files: ${ROUNDS} × ${SIZE / MB} MB each way, then one ${BIG / MB} MB upload…`);
  await ok(await fetch(`${baseUrl}/__bench/r2-put?key=warm`, { method: 'PUT', body }), 'raw put');
  const rawPut = await phase('raw puts', () => timed(ROUNDS, SIZE, async (round) => {
    await ok(await fetch(`${baseUrl}/__bench/r2-put?key=raw-${round}`, { method: 'PUT', body }), 'raw put');
  }));
  const ids: string[] = [];
  const apiPut = await phase('API uploads', () => timed(ROUNDS, SIZE, async () => {
    ids.push(((await (await upload(body)).json()) as { data: { id: string } }).data.id);
  }));
  const rawGet = await timed(ROUNDS, SIZE, async (round) => {
    await (await ok(await fetch(`${baseUrl}/__bench/r2-get?key=raw-${round}`), 'raw get')).arrayBuffer();
  });
  const urls: string[] = [];
  for (const id of ids) {
    const signed = await ok(await fetch(`${files}/${id}/download-url`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' }), 'sign');
    urls.push(((await signed.json()) as { data: { url: string } }).data.url);
  }
  const apiGet = await timed(ROUNDS, SIZE, async (round) => {
    await (await ok(await fetch(urls[round] ?? ''), 'download')).arrayBuffer();
  });

  console.log(`  ${SIZE / MB} MB rounds: upload ${round(apiPut)} vs raw ${round(rawPut)} MB/s (${round(apiPut / rawPut)}×), download ${round(apiGet)} vs raw ${round(rawGet)} MB/s`);

  // 200 MB through bare R2, then through the API, while workerd's resident memory is sampled every 100 ms.
  const pids = await ownWorkerdPids();
  const big = zipBytes(BIG);
  const sampled = async (work: () => Promise<Response>) => {
    const before = rssMb(pids);
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssMb(pids)), 100);
    const started = performance.now();
    const response = await work().finally(() => clearInterval(sampler));
    return { response, seconds: (performance.now() - started) / 1000, before, peak: Math.max(before, ...samples), after: rssMb(pids) };
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
  const rawBig = await phase(`raw ${BIG / MB} MB put`, () => fresh(() => sampled(async () => ok(await fetch(`${baseUrl}/__bench/r2-put?key=big`, { method: 'PUT', body: big }), 'raw big put'))));
  const apiBig = await phase(`API ${BIG / MB} MB upload`, () => fresh(() => sampled(() => upload(big))));
  const { before, peak, after } = apiBig;
  const bigSeconds = apiBig.seconds;
  const stored = ((await apiBig.response.json()) as { data: { size: number } }).data.size;
  const rawRss = { before: round(rawBig.before), peakDuring: round(rawBig.peak), after: round(rawBig.after) };
  const bigMbPerS = { api: round(BIG / MB / bigSeconds), rawR2: round(BIG / MB / rawBig.seconds), ratio: round(rawBig.seconds / bigSeconds) };

  const figures = {
    fileMb: SIZE / MB,
    rounds: ROUNDS,
    uploadMbPerS: { api: round(apiPut), rawR2: round(rawPut), ratio: round(apiPut / rawPut) },
    downloadMbPerS: { api: round(apiGet), rawR2: round(rawGet), ratio: round(apiGet / rawGet) },
    bigUpload: {
      mb: BIG / MB,
      stored: stored === BIG,
      seconds: round(bigSeconds),
      mbPerS: bigMbPerS,
      workerdPids: pids,
      rssMb: { before: round(before), peakDuring: round(peak), after: round(after) },
      rawR2RssMb: rawRss,
    },
  };
  console.table({
    'upload MB/s': { api: figures.uploadMbPerS.api, 'raw R2': figures.uploadMbPerS.rawR2, 'api ÷ raw': figures.uploadMbPerS.ratio },
    'download MB/s': { api: figures.downloadMbPerS.api, 'raw R2': figures.downloadMbPerS.rawR2, 'api ÷ raw': figures.downloadMbPerS.ratio },
    [`${BIG / MB} MB upload MB/s`]: { api: bigMbPerS.api, 'raw R2': bigMbPerS.rawR2, 'api ÷ raw': bigMbPerS.ratio },
  });
  const rss = figures.bigUpload.rssMb;
  console.log(`${BIG / MB} MB upload: ${stored === BIG ? 'stored' : 'NOT stored'} in ${figures.bigUpload.seconds} s; workerd RSS (pids ${pids.join(', ')}) ${rss.before} MB before, ${rss.peakDuring} MB peak during, ${rss.after} MB after; the same ${BIG / MB} MB as a bare R2 put: ${rawRss.before} → peak ${rawRss.peakDuring} → ${rawRss.after} MB`);
  const met = (name: string, ok: boolean, figure: string) => console.log(`${ok ? 'MET ' : 'MISSED'}  ${name}: ${figure}`);
  met('upload ≥ 0.8 × raw R2 put', figures.uploadMbPerS.ratio >= 0.8, `${figures.uploadMbPerS.api} ÷ ${figures.uploadMbPerS.rawR2} MB/s = ${figures.uploadMbPerS.ratio}×`);
  met('download ≥ 0.8 × raw R2 get', figures.downloadMbPerS.ratio >= 0.8, `${figures.downloadMbPerS.api} ÷ ${figures.downloadMbPerS.rawR2} MB/s = ${figures.downloadMbPerS.ratio}×`);
  met(`${BIG / MB} MB upload with workerd memory flat (peak − before < ${BIG / MB / 4} MB)`, stored === BIG && rss.peakDuring - rss.before < BIG / MB / 4, `+${round(rss.peakDuring - rss.before)} MB`);
  return figures;
}

const round = (value: number) => Math.round(value * 100) / 100;
