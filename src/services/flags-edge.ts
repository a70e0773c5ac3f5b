import { z } from 'zod';
import { createMemoryCache } from '../cache/memory-cache.ts';
import { canonicalJson, flagDefinition, toFlagDefinition, type FlagDefinition } from '../lib/flags.ts';
import { describeError, log } from '../lib/log.ts';
import { murmur3 } from '../lib/murmur3.ts';
import type { FlagRow } from './flags.ts';

/**
 * The edge copy of every flag: one KV value (`FLAGS` binding) that request-time evaluation reads, so it
 * never queries Postgres. Written after every committed change and rewritten by the cron's resync when it
 * differs from Postgres. Reads go through a short in-isolate cache (single flight): an edge sees a change
 * after at most KV's own propagation (~60 s) plus `EDGE_FLAGS_TTL_MS`; the isolate that wrote it, at once.
 * @module
 */

export const FLAGS_KV_KEY = 'flags:v1';
export const EDGE_FLAGS_TTL_MS = 10_000;

export const flagSnapshotSchema = z.object({
  /** A hash of the flags' canonical JSON: equal versions, equal flags. */
  version: z.string(),
  writtenAt: z.iso.datetime(),
  flags: z.array(flagDefinition),
});
export type FlagSnapshot = z.infer<typeof flagSnapshotSchema>;

/** The snapshot as evaluation uses it: flags by key. */
export interface EdgeFlags {
  version: string;
  flags: ReadonlyMap<string, FlagDefinition>;
}

const edgeFlags = createMemoryCache<'flags', EdgeFlags>({ name: 'edge-flags', max: 1, ttlMs: EDGE_FLAGS_TTL_MS });
const EMPTY: EdgeFlags = { version: 'none', flags: new Map() };

/** Postgres rows → the snapshot to store. */
export function toSnapshot(rows: readonly FlagRow[], writtenAt = new Date()): FlagSnapshot {
  const flags = rows.map(toFlagDefinition);
  return { version: murmur3(canonicalJson(flags)).toString(16).padStart(8, '0'), writtenAt: writtenAt.toISOString(), flags };
}

const toEdgeFlags = (snapshot: FlagSnapshot): EdgeFlags => ({ version: snapshot.version, flags: new Map(snapshot.flags.map((flag) => [flag.key, flag])) });

/** Writes the snapshot to KV, and to this isolate's cache so the writer's next request sees it at once. */
export async function writeFlagSnapshot(kv: KVNamespace, snapshot: FlagSnapshot): Promise<void> {
  await kv.put(FLAGS_KV_KEY, JSON.stringify(snapshot));
  edgeFlags.set('flags', toEdgeFlags(snapshot));
}

/**
 * After a committed change: writes the edge copy. A failure cannot undo the commit, so it is logged and
 * left to the cron's resync (every 5 minutes); the answer says whether the copy was written.
 */
export async function publishFlags(kv: KVNamespace, rows: readonly FlagRow[]): Promise<boolean> {
  try {
    await writeFlagSnapshot(kv, toSnapshot(rows));
    return true;
  } catch (error) {
    log('error', 'flags edge copy not written; the cron resync will repair it', { error: describeError(error) });
    return false;
  }
}

/** The stored snapshot, or undefined when KV holds none or holds one that does not parse. */
export async function readFlagSnapshot(kv: KVNamespace): Promise<FlagSnapshot | undefined> {
  const stored: unknown = await kv.get(FLAGS_KV_KEY, 'json');
  if (stored === null) return undefined;
  const parsed = flagSnapshotSchema.safeParse(stored);
  if (!parsed.success) log('error', 'flags edge copy does not parse; ignored until the cron resync rewrites it', { issues: parsed.error.issues.length });
  return parsed.success ? parsed.data : undefined;
}

/**
 * Every flag as this edge knows it, for evaluation: memory, then KV — never Postgres. Without a copy
 * (never written, or unreadable) every flag evaluates as not found, i.e. off, until the resync writes one.
 */
export async function edgeFlagsFor(kv: KVNamespace): Promise<EdgeFlags> {
  try {
    return (
      (await edgeFlags.getOrLoad('flags', async () => {
        const snapshot = await readFlagSnapshot(kv);
        if (!snapshot) log('warn', 'no flags edge copy in KV: every flag evaluates off');
        return snapshot ? toEdgeFlags(snapshot) : EMPTY;
      })) ?? EMPTY
    );
  } catch (error) {
    // Not cached: the next request tries KV again.
    log('error', 'flags edge copy unreadable: every flag evaluates off', { error: describeError(error) });
    return EMPTY;
  }
}
