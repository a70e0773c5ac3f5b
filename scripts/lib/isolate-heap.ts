// The Worker isolate's memory during a benchmark (scripts/lib/bench-files.ts), read over wrangler dev's inspector.
import { once } from 'node:events';
import WebSocket from 'ws';
import { z } from 'zod';

const MB = 2 ** 20;
const round = (value: number) => Math.round(value * 100) / 100;

// The Worker isolate's own heap, read over wrangler dev's DevTools inspector (V8's Runtime.getHeapUsage): unlike
// workerd's RSS it leaves out the local R2 simulator and the other services in the same process, and what V8 has
// not collected yet. usedSize alone would miss a buffered body: an ArrayBuffer's bytes live outside the V8 heap, in
// backingStorageSize (a Worker that awaits request.arrayBuffer() of 50 MB leaves usedSize flat and adds 50 MB
// there), so the judged figure is their sum. Bytes workerd streams natively (kj buffers) are in neither: RSS.
const HeapUsage = z.object({ usedSize: z.number(), totalSize: z.number(), backingStorageSize: z.number().default(0) });
const Targets = z.array(z.object({ title: z.string(), webSocketDebuggerUrl: z.string() })).min(1);
/** Replies carry the call's id; events (no id) fail this and are ignored. */
const Reply = z.object({ id: z.number(), result: z.unknown().optional(), error: z.object({ message: z.string() }).optional() });

/** MB of the isolate's used V8 heap, of its ArrayBuffers' backing stores, their sum (judged), and V8's reserved heap. */
interface Heap {
  usedMb: number;
  backingMb: number;
  sumMb: number;
  totalMb: number;
}

/** Heap growth above which an upload is not "flat": below the smallest file measured, so holding any file whole fails. */
export const FLAT_HEAP_MB = 16;

/**
 * A DevTools connection to the Worker's isolate. `nudge` makes a request: workerd runs HeapProfiler.collectGarbage's
 * task only when the isolate next wakes, so without one the collection (and its reply) waits forever. The Worker
 * (`bench-worker.ts`, its Durable Objects included) is one isolate, wrangler's one inspector target.
 */
export async function isolateInspector(inspectorPort: number, nudge: () => Promise<unknown>) {
  const targets = Targets.parse(await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json());
  // More than one would be more than one isolate, and the heap read would be of whichever came first.
  if (targets.length > 1) throw new Error(`inspector: ${targets.length} targets (${targets.map((each) => each.title).join(', ')}), expected the Worker's one`);
  const [target] = targets;
  // wrangler's inspector proxy refuses a WebSocket from an origin other than loopback or Cloudflare's DevTools.
  const socket = new WebSocket(target?.webSocketDebuggerUrl ?? '', { headers: { origin: 'http://127.0.0.1' } });
  await once(socket, 'open');
  let nextId = 0;
  const waiting = new Map<number, (reply: z.infer<typeof Reply>) => void>();
  socket.on('message', (data) => {
    const reply = Reply.safeParse(JSON.parse(String(data)));
    if (reply.success) waiting.get(reply.data.id)?.(reply.data);
  });
  const call = (method: string, timeoutMs = 10_000) =>
    new Promise<unknown>((resolveCall, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => reject(new Error(`inspector: ${method} did not answer within ${timeoutMs} ms`)), timeoutMs);
      waiting.set(id, (reply) => {
        clearTimeout(timer);
        waiting.delete(id);
        if (reply.error) reject(new Error(`inspector: ${method}: ${reply.error.message}`));
        else resolveCall(reply.result);
      });
      socket.send(JSON.stringify({ id, method }));
    });
  const heap = async (): Promise<Heap> => {
    const usage = HeapUsage.parse(await call('Runtime.getHeapUsage'));
    const [usedMb, backingMb] = [usage.usedSize / MB, usage.backingStorageSize / MB];
    return { usedMb, backingMb, sumMb: usedMb + backingMb, totalMb: usage.totalSize / MB };
  };
  const collectGarbage = async () => {
    let answered = false;
    const collected = call('HeapProfiler.collectGarbage').finally(() => (answered = true));
    // The call travels through wrangler's proxy, a nudge straight to workerd: one may arrive first, so nudge until answered.
    while (!answered) await Promise.race([nudge().then(() => new Promise((resolveWait) => setTimeout(resolveWait, 200))), collected]);
    await collected;
  };
  await call('HeapProfiler.enable');
  return { target: target?.title ?? '', heap, collectGarbage, close: () => socket.close() };
}

type Inspector = Awaited<ReturnType<typeof isolateInspector>>;

/**
 * Runs `work` while the isolate's heap is read every 100 ms (one call at a time): the baseline after a full
 * collection, the peak of each figure, the end before and after a full collection.
 */
export async function heapDuring<T>(inspector: Inspector, work: () => Promise<T>) {
  await inspector.collectGarbage();
  const baseline = await inspector.heap();
  const samples = [baseline];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push(await inspector.heap());
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
  })();
  const result = await work().finally(() => (sampling = false));
  await sampler;
  const endBeforeGc = await inspector.heap();
  samples.push(endBeforeGc);
  await inspector.collectGarbage();
  const end = await inspector.heap();
  const peak = (key: keyof Heap) => Math.max(...samples.map((sample) => sample[key]));
  const figures = (heap: Heap) => ({ usedMb: round(heap.usedMb), backingMb: round(heap.backingMb), sumMb: round(heap.sumMb) });
  return {
    result,
    heap: {
      samples: samples.length,
      baseline: figures(baseline),
      peak: { usedMb: round(peak('usedMb')), backingMb: round(peak('backingMb')), sumMb: round(peak('sumMb')), totalMb: round(peak('totalMb')) },
      endBeforeGc: figures(endBeforeGc),
      end: figures(end),
      growthMb: round(peak('sumMb') - baseline.sumMb),
    },
  };
}

type HeapFigures = Awaited<ReturnType<typeof heapDuring>>['heap'];

/** One line of the isolate's heap during an upload. */
export const heapLine = (what: string, heap: HeapFigures) =>
  `${what}: Worker isolate heap (used + ArrayBuffer backing stores, ${heap.samples} samples) ${heap.baseline.sumMb} MB baseline, ${heap.peak.sumMb} MB peak, ${heap.end.sumMb} MB end (${heap.endBeforeGc.sumMb} before the last GC): ` +
  `+${heap.growthMb} MB; used heap ${heap.baseline.usedMb} → peak ${heap.peak.usedMb} → ${heap.end.usedMb} MB, backing stores ${heap.baseline.backingMb} → peak ${heap.peak.backingMb} → ${heap.end.backingMb} MB`;

