import { createExecutionContext, createScheduledController } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { featureFlags } from '../../src/db/schema/index.ts';
import { FLAGS_KV_KEY, flagSnapshotSchema, readFlagSnapshot } from '../../src/services/flags-edge.ts';
import { createScheduledHandler, schedule } from '../../workers/scheduled.ts';
import { resyncFlags } from '../../workers/tasks/flags-resync.ts';
import { ownerDb } from '../helpers/factories.ts';
import { env, testDb } from '../helpers/worker.ts';

const db = testDb();
const resync = () => resyncFlags({ env, db, scheduledTime: Date.now() });
const newKey = () => `r-${crypto.randomUUID().slice(0, 13)}`;

/** A flag written straight into Postgres (as the owner), as if its edge copy had been lost. */
async function insertFlag(key: string, enabled: boolean) {
  await ownerDb.http.insert(featureFlags).values({ key, enabled, rules: { percentage: 10 } });
}
const copiedKeys = async () => (await readFlagSnapshot(env.FLAGS))?.flags.map((flag) => flag.key) ?? [];

describe('flags resync (cron)', () => {
  it('writes a missing edge copy from Postgres', async () => {
    const key = newKey();
    await insertFlag(key, true);
    await env.FLAGS.delete(FLAGS_KV_KEY);
    await resync();
    const copy = flagSnapshotSchema.parse(await env.FLAGS.get(FLAGS_KV_KEY, 'json'));
    expect(copy.flags.find((flag) => flag.key === key)).toEqual({ key, enabled: true, rules: { percentage: 10 }, value: null, variants: null, version: 1 });
  });

  it('repairs a stale copy and an unreadable one', async () => {
    const key = newKey();
    await insertFlag(key, false);
    await env.FLAGS.put(FLAGS_KV_KEY, JSON.stringify({ version: 'old', writtenAt: new Date(0).toISOString(), flags: [{ key, enabled: true, rules: {}, value: null, variants: null, version: 1 }] }));
    await resync();
    expect((await readFlagSnapshot(env.FLAGS))?.flags.find((flag) => flag.key === key)).toMatchObject({ enabled: false });

    await env.FLAGS.put(FLAGS_KV_KEY, '{"not": "a snapshot"}');
    await resync();
    expect(await copiedKeys()).toContain(key);
  });

  it('is idempotent: an up-to-date copy is left as it is', async () => {
    await insertFlag(newKey(), true);
    await resync();
    const first = await env.FLAGS.get(FLAGS_KV_KEY);
    await resync();
    expect(await env.FLAGS.get(FLAGS_KV_KEY)).toBe(first);
  });

  it('runs on the 5-minute cron', async () => {
    expect(schedule['*/5 * * * *']).toContain(resyncFlags);
    const key = newKey();
    await insertFlag(key, true);
    await env.FLAGS.delete(FLAGS_KV_KEY);
    // Only this task, so the run does not depend on the queue.
    await createScheduledHandler({ '*/5 * * * *': [resyncFlags] })(createScheduledController({ cron: '*/5 * * * *', scheduledTime: Date.now() }), env, createExecutionContext());
    expect(await copiedKeys()).toContain(key);
  });
});
