import { sql } from 'drizzle-orm';
import { rateLimiterFor, rateLimiterPingReply } from '../../durable-objects/rate-limiter/index.ts';
import { roomFor, roomPingReply } from '../../durable-objects/room/index.ts';
import type { Database } from '../db/client.ts';

import { describeError, log } from '../lib/log.ts';
import { enqueueJob } from './jobs.ts';

export type CheckResult = { status: 'ok' | 'fail'; latencyMs: number };

const CHECK_TIMEOUT_MS = 3_000;
const PROBE_KEY = 'health:probe';

/** Each dependency the Worker needs to serve traffic, probed with a real round trip. */
function probes(env: Env, db: Database): Record<string, () => Promise<unknown>> {
  return {
    postgres: () => db.http.execute(sql`select 1`),
    cache: () => env.CACHE.get(PROBE_KEY),
    flags: () => env.FLAGS.get(PROBE_KEY),
    files: () => env.FILES.head(PROBE_KEY),
    rateLimiter: async () => rateLimiterPingReply.parse(await rateLimiterFor(env, PROBE_KEY).ping()),
    rooms: async () => roomPingReply.parse(await roomFor(env, PROBE_KEY).ping()),
    jobs: () => enqueueJob(env.JOBS, 'system.probe', {}),
  };
}

async function timed(name: string, probe: () => Promise<unknown>): Promise<CheckResult> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return { status: 'ok', latencyMs: elapsed(started) };
  } catch (error) {
    // The cause stays in the logs: a public probe endpoint names the failing check, not its internals.
    log('warn', 'readiness check failed', { check: name, error: describeError(error) });
    return { status: 'fail', latencyMs: elapsed(started) };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 100) / 100;

export interface Readiness {
  status: 'ok' | 'fail';
  checks: Record<string, CheckResult>;
}

/** Runs every readiness probe concurrently; never throws. */
export async function checkReadiness(env: Env, db: Database): Promise<Readiness> {
  const entries = await Promise.all(
    Object.entries(probes(env, db)).map(async ([name, probe]) => [name, await timed(name, probe)] as const),
  );
  const checks = Object.fromEntries(entries);
  const healthy = entries.every(([, result]) => result.status === 'ok');
  return { status: healthy ? ('ok' as const) : ('fail' as const), checks };
}
