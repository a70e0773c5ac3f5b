// The Worker `npm run bench` serves: the real one (src/index.ts), plus two routes that exist only here, served
// by the same wrangler/workerd so they make a fair baseline:
//   GET /__bench/bare     a bare Hono route: the ceiling for anything this runtime serves;
//   GET /__bench/limiter  the same route after one exact rate-limit call (a RateLimiter object's `limit`):
//                         the difference between the two is what the limiter costs a request;
//   GET /__bench/ping     the same route after a `ping` of that object: the round trip alone, no work;
//   PUT /__bench/r2-put, GET /__bench/r2-get   a body straight to R2 and back: the files baseline.
import { Hono } from 'hono';
import { rateLimiterFor } from '../durable-objects/rate-limiter/index.ts';
import { MAX_RATE_LIMIT } from '../src/lib/limits.ts';
import worker from '../src/index.ts';

// Every Durable Object class the real Worker exports (its named exports are exactly those), so a new one is never missed here.
export * from '../src/index.ts';

const bench = new Hono<{ Bindings: Env }>()
  .get('/__bench/bare', (c) => c.text('ok'))
  .get('/__bench/limiter', async (c) => {
    const decision = await rateLimiterFor(c.env, 'bench:limiter').limit([{ key: 'bench', limit: MAX_RATE_LIMIT, windowMs: 1_000 }]);
    return c.text(decision.allowed ? 'ok' : 'limited', decision.allowed ? 200 : 429);
  })
  // The same object's `ping`, which does nothing: what the round trip to a Durable Object costs by itself.
  .get('/__bench/ping', async (c) => c.text(await rateLimiterFor(c.env, 'bench:limiter').ping()))
  // The files baseline (scripts/lib/bench-files.ts): the body straight to R2 and back, nothing checked.
  .put('/__bench/r2-put', async (c) => {
    const length = Number(c.req.header('content-length'));
    const body = (c.req.raw.body ?? new ReadableStream()).pipeThrough(new FixedLengthStream(length));
    await c.env.FILES.put(`bench/${c.req.query('key')}`, body, { httpMetadata: { contentType: c.req.header('content-type') ?? 'application/octet-stream' } });
    return c.text('ok');
  })
  // The same response headers as the API's signed download (src/routes/files/files.signed.ts), so the two
  // differ only in what the API does before streaming: the signature, the row, the conditional checks.
  .get('/__bench/r2-get', async (c) => {
    const object = await c.env.FILES.get(`bench/${c.req.query('key')}`);
    if (!object) return c.text('missing', 404);
    const headers = new Headers({
      ETag: object.httpEtag,
      'Last-Modified': object.uploaded.toUTCString(),
      'Cache-Control': 'private, no-cache',
      'Content-Type': object.httpMetadata?.contentType ?? 'application/octet-stream',
      'Content-Length': String(object.size),
      'Accept-Ranges': 'bytes',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'; sandbox",
    });
    return new Response(object.body, { headers });
  });

// GET /__bench/usage-<side>/<path>: the real Worker serving <path> with usage recording changed, to split what
// recording costs (scripts/lib/bench-usage.ts compares them with <path> served as usual, in one run):
//   usage-off       USAGE_RECORDING=off: nothing recorded;
//   usage-nosend    recorded into the buffer, but its sends go nowhere (the middleware's own work alone);
//   usage-noinsert  recorded and sent to the queue, but the consumer acks them without inserting (no Postgres).
// One env object per side, so the configuration is parsed once, as for the real one.
const USAGE_SIDE = /^\/__bench\/usage-(off|nosend|noinsert)(\/.*)$/;
type UsageSide = 'off' | 'nosend' | 'noinsert';
/** Marks a message sent from the `noinsert` side: the bench's queue handler acks it unrun. */
const DISCARD = 'benchDiscard';
const dropped: Queue = { send: async () => {}, sendBatch: async () => {} } as unknown as Queue;
function discarded(queue: Queue): Queue {
  return {
    send: (body: unknown, options?: QueueSendOptions) => queue.send({ ...(body as object), [DISCARD]: true }, options),
    sendBatch: (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) =>
      queue.sendBatch([...messages].map((message) => ({ ...message, body: { ...(message.body as object), [DISCARD]: true } })), options),
  } as unknown as Queue;
}
let usageSides: { env: Env; sides: Record<UsageSide, Env> } | undefined;
function withUsageSide(request: Request, env: Env, ctx: ExecutionContext, side: UsageSide, path: string) {
  if (usageSides?.env !== env) {
    usageSides = {
      env,
      sides: { off: { ...env, USAGE_RECORDING: 'off' } as Env, nosend: { ...env, JOBS: dropped }, noinsert: { ...env, JOBS: discarded(env.JOBS) } },
    };
  }
  const url = new URL(request.url);
  url.pathname = path;
  return worker.fetch(new Request(url, request), usageSides.sides[side], ctx);
}

/** The real queue handler, without the messages the `noinsert` side marked (acked here, never run). */
function queue(batch: MessageBatch, env: Env, ctx: ExecutionContext) {
  const kept: Message[] = [];
  for (const message of batch.messages) {
    if ((message.body as Record<string, unknown> | null)?.[DISCARD] === true) message.ack();
    else kept.push(message);
  }
  if (!kept.length) return Promise.resolve();
  const ackAll = () => kept.forEach((message) => message.ack());
  const retryAll = (options?: QueueRetryOptions) => kept.forEach((message) => message.retry(options));
  return worker.queue({ queue: batch.queue, metadata: batch.metadata, messages: kept, ackAll, retryAll }, env, ctx);
}

export default {
  fetch: (request, env, ctx) => {
    const path = new URL(request.url).pathname;
    const usage = USAGE_SIDE.exec(path);
    if (usage?.[1] && usage[2]) return withUsageSide(request, env, ctx, usage[1] as UsageSide, usage[2]);
    return path.startsWith('/__bench/') ? bench.fetch(request, env, ctx) : worker.fetch(request, env, ctx);
  },
  queue,
  scheduled: worker.scheduled,
} satisfies ExportedHandler<Env>;
