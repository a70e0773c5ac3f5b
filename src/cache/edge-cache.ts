import { describeError, log } from '../lib/log.ts';
import { createMemoryCache } from './memory-cache.ts';

/**
 * Bodies of hot single-resource reads, in two tiers: this isolate's memory (bounded, seconds), then KV
 * (`CACHE`, this location's copy). Keys carry the org's data version from its edge authority, and a version
 * is never reused (it is random and moves with every write), so KV's lag can only cause a miss, never a
 * stale hit. A second key per resource holds its latest body whatever the version, served only when
 * Postgres cannot be reached (stale-if-error).
 * @module
 */

/** A cached response: its JSON text, as the handler produced it, and its strong ETag (computed once, when stored). */
export interface CachedBody {
  body: string;
  etag: string;
}

const L1_TTL_MS = 10_000;
/** KV drops entries after this, bounding a body's life should a change ever bypass the authority. */
const KV_TTL_SECONDS = 600;

const memory = createMemoryCache<string, CachedBody>({ name: 'edge-bodies', max: 5_000, ttlMs: L1_TTL_MS });

/** Names one resource as one caller's role sees it (bodies may differ by role, e.g. the org's `role` field). */
export interface BodyKey {
  orgId: string;
  role: string;
  path: string;
}

const versioned = (key: BodyKey, version: string) => `body:${key.orgId}:${version}:${key.role}:${key.path}`;
const latest = (key: BodyKey) => `latest:${key.orgId}:${key.role}:${key.path}`;

/** The body for `key` at data version `version`, from memory or KV; undefined on a miss. */
export async function readBody(kv: KVNamespace, key: BodyKey, version: string): Promise<CachedBody | undefined> {
  const name = versioned(key, version);
  return memory.getOrLoad(name, () => fromKv(kv, name));
}

/** A body from KV; a KV that fails is a miss (logged), never the request's failure. */
async function fromKv(kv: KVNamespace, name: string): Promise<CachedBody | undefined> {
  try {
    const { value, metadata } = await kv.getWithMetadata<{ etag?: unknown }>(name);
    return value !== null && typeof metadata?.etag === 'string' ? { body: value, etag: metadata.etag } : undefined;
  } catch (error) {
    log('warn', 'edge cache: KV read failed, treated as a miss', { error: describeError(error) });
    return undefined;
  }
}

/** The latest body stored for `key`, whatever its version: for stale-if-error only. */
export async function readLatestBody(kv: KVNamespace, key: BodyKey): Promise<CachedBody | undefined> {
  return memory.get(latest(key)) ?? fromKv(kv, latest(key));
}

/** Stores a body read from Postgres at `version` (both tiers, and as the latest). KV writes may fail: a miss then. */
export async function storeBody(kv: KVNamespace, key: BodyKey, version: string, body: CachedBody): Promise<void> {
  memory.set(versioned(key, version), body);
  memory.set(latest(key), body);
  const metadata = { etag: body.etag };
  await Promise.allSettled([
    kv.put(versioned(key, version), body.body, { expirationTtl: KV_TTL_SECONDS, metadata }),
    kv.put(latest(key), body.body, { expirationTtl: 7 * 24 * 3600, metadata }),
  ]);
}
