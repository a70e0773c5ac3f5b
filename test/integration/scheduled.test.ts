import { createExecutionContext, createScheduledController, SELF } from 'cloudflare:test';
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import wranglerToml from '../../wrangler.toml?raw';
import { emailTokens, heartbeats, jobFailures, refreshTokens, sessions } from '../../src/db/schema/index.ts';
import { createUser, ownerDb } from '../helpers/factories.ts';
import { createScheduledHandler, schedule } from '../../workers/scheduled.ts';
import type { MaintenanceTask } from '../../workers/tasks/types.ts';
import { env, testDb } from '../helpers/worker.ts';

const db = testDb();

/** SELF.scheduled() exists with the test-only `service_binding_extra_handlers` flag; the types predate it. */
type ScheduledFetcher = Fetcher & { scheduled(options: { cron: string; scheduledTime: Date }): Promise<{ outcome: string }> };

function run(handler: ReturnType<typeof createScheduledHandler>, cron: string, scheduledTime = Date.now()) {
  return handler(createScheduledController({ cron, scheduledTime }), env, createExecutionContext());
}

describe('daily credential pruning', () => {
  it('deletes long-ended sessions (with their refresh tokens) and expired email tokens, keeping live ones', async () => {
    const user = await createUser();
    const [expired, revoked, live] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    await ownerDb.http.insert(sessions).values([
      { id: expired, userId: user.id, expiresAt: sql`now() - interval '31 days'` },
      { id: revoked, userId: user.id, expiresAt: sql`now() + interval '1 day'`, revokedAt: sql`now() - interval '31 days'` },
      { id: live, userId: user.id, expiresAt: sql`now() + interval '1 day'` },
    ]);
    await ownerDb.http.insert(refreshTokens).values([{ tokenHash: `h-${expired}`, sessionId: expired }, { tokenHash: `h-${live}`, sessionId: live }]);
    await ownerDb.http.insert(emailTokens).values([
      { tokenHash: `old-${live}`, userId: user.id, purpose: 'reset_password', expiresAt: sql`now() - interval '1 hour'` },
      { tokenHash: `new-${live}`, userId: user.id, purpose: 'reset_password', expiresAt: sql`now() + interval '1 hour'` },
    ]);

    await run(createScheduledHandler(), '17 3 * * *');

    const remaining = (await ownerDb.http.select({ id: sessions.id }).from(sessions).where(eq(sessions.userId, user.id))).map((row) => row.id);
    expect(remaining.sort()).toEqual([live, user.sessionId].sort());
    expect((await ownerDb.http.select().from(refreshTokens).where(eq(refreshTokens.sessionId, expired)))).toEqual([]);
    const tokens = (await ownerDb.http.select({ hash: emailTokens.tokenHash }).from(emailTokens).where(eq(emailTokens.userId, user.id))).map((row) => row.hash);
    expect(tokens).toEqual([`new-${live}`]);
  });
});

describe('cron dispatch', () => {
  it('has tasks for every cron in wrangler.toml, and no task for a cron that never fires', () => {
    const crons = [...new Set([...wranglerToml.matchAll(/crons\s*=\s*\[([^\]]*)\]/g)].flatMap((m) => [...(m[1] ?? '').matchAll(/"([^"]+)"/g)].map((c) => c[1])))];
    expect(crons.length).toBeGreaterThan(0);
    expect(Object.keys(schedule).sort()).toEqual(crons.sort());
  });

  it('runs through the Worker entry: the 5-minute cron enqueues a heartbeat that the consumer writes', async () => {
    const before = (await db.http.select({ n: sql<number>`count(*)::int` }).from(heartbeats).where(eq(heartbeats.source, 'cron')))[0]?.n ?? 0;
    const result = await (SELF as ScheduledFetcher).scheduled({ cron: '*/5 * * * *', scheduledTime: new Date() });
    expect(result.outcome).toBe('ok');
    await expect
      .poll(async () => (await db.http.select({ n: sql<number>`count(*)::int` }).from(heartbeats).where(eq(heartbeats.source, 'cron')))[0]?.n, { timeout: 10_000, interval: 200 })
      .toBeGreaterThan(before);
  });

  it('rejects a cron with no tasks registered', async () => {
    await expect(run(createScheduledHandler(), '0 0 1 1 *')).rejects.toThrow('No maintenance tasks');
  });

  it('runs every task even when one fails, then fails the invocation', async () => {
    const ran: string[] = [];
    const ok: MaintenanceTask = async () => void ran.push('ok');
    const broken: MaintenanceTask = async () => Promise.reject(new Error('disk full'));
    await expect(run(createScheduledHandler({ '* * * * *': [broken, ok] }), '* * * * *')).rejects.toThrow('1 maintenance task(s) failed');
    expect(ran).toEqual(['ok']);
  });

  it('the daily cron prunes old dead letters and heartbeats, and keeps recent ones', async () => {
    const tag = crypto.randomUUID();
    await db.http.insert(jobFailures).values([
      { jobId: `old-${tag}`, type: 't', payload: {}, attempts: 6, lastError: 'x', deadAt: sql`now() - interval '31 days'` },
      { jobId: `new-${tag}`, type: 't', payload: {}, attempts: 6, lastError: 'x', deadAt: sql`now() - interval '1 day'` },
      { jobId: `failing-${tag}`, type: 't', payload: {}, attempts: 2, lastError: 'x', failedAt: sql`now() - interval '60 days'` },
    ]);
    await db.http.insert(heartbeats).values([
      { source: `old-${tag}`, createdAt: sql`now() - interval '8 days'` },
      { source: `new-${tag}`, createdAt: sql`now()` },
    ]);

    await run(createScheduledHandler(), '17 3 * * *');

    const remainingJobs = (await db.http.select({ id: jobFailures.jobId }).from(jobFailures)).map((row) => row.id).filter((id) => id.endsWith(tag));
    expect(remainingJobs.sort()).toEqual([`failing-${tag}`, `new-${tag}`]);
    const remainingBeats = (await db.http.select({ source: heartbeats.source }).from(heartbeats)).map((row) => row.source).filter((source) => source.endsWith(tag));
    expect(remainingBeats).toEqual([`new-${tag}`]);
  });
});
