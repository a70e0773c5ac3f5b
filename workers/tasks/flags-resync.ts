import { canonicalJson } from '../../src/lib/flags.ts';
import { log } from '../../src/lib/log.ts';
import { readFlagSnapshot, toSnapshot, writeFlagSnapshot } from '../../src/services/flags-edge.ts';
import { selectFlags } from '../../src/services/flags.ts';
import type { TaskContext } from './types.ts';

/**
 * Rewrites the flags' edge copy in KV from Postgres when it differs (missing, unreadable, or stale after a
 * KV write that failed or lost a race with another admin's). Idempotent; an unchanged copy is not rewritten,
 * which keeps KV writes to real changes.
 */
export async function resyncFlags({ env, db }: TaskContext): Promise<void> {
  const snapshot = toSnapshot(await selectFlags(db.http));
  const stored = await readFlagSnapshot(env.FLAGS);
  if (stored && canonicalJson(stored.flags) === canonicalJson(snapshot.flags)) return;
  await writeFlagSnapshot(env.FLAGS, snapshot);
  log('warn', 'flags edge copy repaired from Postgres', { previous: stored?.version ?? null, version: snapshot.version, flags: snapshot.flags.length });
}
