// The Worker `npm run bench` serves: the real one (src/index.ts), plus two routes that exist only here, served
// by the same wrangler/workerd so they make a fair baseline:
//   GET /__bench/bare     a bare Hono route: the ceiling for anything this runtime serves;
//   GET /__bench/limiter  the same route after one exact rate-limit call (a RateLimiter object's `limit`):
//                         the difference between the two is what the limiter costs a request;
//   PUT /__bench/r2-put, GET /__bench/r2-get   a body straight to R2 and back: the files baseline.
import { Hono } from 'hono';
import { rateLimiterFor } from '../durable-objects/rate-limiter/index.ts';
import { MAX_RATE_LIMIT } from '../src/lib/limits.ts';
import worker from '../src/index.ts';

export { OrgAuthority, RateLimiter, Room } from '../src/index.ts';

const bench = new Hono<{ Bindings: Env }>()
  .get('/__bench/bare', (c) => c.text('ok'))
  .get('/__bench/limiter', async (c) => {
    const decision = await rateLimiterFor(c.env, 'bench:limiter').limit([{ key: 'bench', limit: MAX_RATE_LIMIT, windowMs: 1_000 }]);
    return c.text(decision.allowed ? 'ok' : 'limited', decision.allowed ? 200 : 429);
  })
  // The files baseline (scripts/lib/bench-files.ts): the body straight to R2 and back, nothing checked.
  .put('/__bench/r2-put', async (c) => {
    const length = Number(c.req.header('content-length'));
    await c.env.FILES.put(`bench/${c.req.query('key')}`, (c.req.raw.body ?? new ReadableStream()).pipeThrough(new FixedLengthStream(length)));
    return c.text('ok');
  })
  .get('/__bench/r2-get', async (c) => {
    const object = await c.env.FILES.get(`bench/${c.req.query('key')}`);
    return object ? new Response(object.body, { headers: { 'content-length': String(object.size) } }) : c.text('missing', 404);
  });

// GET /__bench/usage-off/<path>: the real Worker with USAGE_RECORDING=off (scripts/lib/bench-usage.ts compares it
// with <path> served as usual). One env object for it, so the configuration is parsed once, as for the real one.
const USAGE_OFF = '/__bench/usage-off';
let usageOff: { env: Env; off: Env } | undefined;
function withoutUsage(request: Request, env: Env, ctx: ExecutionContext) {
  if (usageOff?.env !== env) usageOff = { env, off: { ...env, USAGE_RECORDING: 'off' } as Env };
  const url = new URL(request.url);
  url.pathname = url.pathname.slice(USAGE_OFF.length);
  return worker.fetch(new Request(url, request), usageOff.off, ctx);
}

export default {
  fetch: (request, env, ctx) => {
    const path = new URL(request.url).pathname;
    if (path.startsWith(`${USAGE_OFF}/`)) return withoutUsage(request, env, ctx);
    return path.startsWith('/__bench/') ? bench.fetch(request, env, ctx) : worker.fetch(request, env, ctx);
  },
  queue: worker.queue,
  scheduled: worker.scheduled,
} satisfies ExportedHandler<Env>;
