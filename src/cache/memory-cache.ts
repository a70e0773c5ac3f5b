/**
 * The one in-isolate cache. Every module that wants to remember something across requests asks for a
 * named cache here instead of keeping its own map: each cache is bounded (`max`, least recently used
 * evicted first, one entry at a time) and, when given `ttlMs`, forgets an entry that long after it was set.
 *
 * The KV tier (`CACHE`) sits behind `getOrLoad`, in the caller's loader: see cache/edge-cache.ts (bodies) and
 * the API-key lookups in middleware/auth.ts. Caches whose keys or values are not shareable beyond the isolate
 * (secrets, clients) stay memory-only.
 * @module
 */
import { LRUCache } from 'lru-cache';

/** Cache keys: plain strings or numbers, so a KV tier can use them as (prefixed) KV keys. */
export type CacheKey = string | number;
/** Any value but `undefined` (which means "not cached") and `null`. */
export type CacheValue = NonNullable<unknown>;

export interface MemoryCacheOptions {
  /** Names the cache in logs and, with the KV tier, in its key prefix. */
  name: string;
  /** Most entries kept; beyond it the least recently used entry is evicted. */
  max: number;
  /** Lifetime of an entry from when it was set; omit for values that are valid for the isolate's life. */
  ttlMs?: number;
  /** Clock in milliseconds; tests pass their own. In workerd `Date.now()` advances with I/O, which is what a TTL needs. */
  now?: () => number;
  /** How long a caller waits for another caller's load of the same key before loading on its own. */
  joinTimeoutMs?: number;
}

export interface MemoryCache<K extends CacheKey, V extends CacheValue> {
  readonly name: string;
  /** Entries held now (expired ones may count until touched). */
  readonly size: number;
  /** The live value, or `undefined` when absent or expired. Marks the entry as recently used. */
  get(key: K): V | undefined;
  /** Stores the value; a load of the key in flight will not overwrite it. */
  set(key: K, value: V): void;
  /** Removes the entry; a load of the key in flight will not store its result. */
  delete(key: K): void;
  /**
   * The cached value, or the loader's. Concurrent calls for one key share a single load (single flight).
   * The loader's `undefined` (a miss) and its failures are returned or thrown, never cached.
   */
  getOrLoad(key: K, load: () => Promise<V | undefined>): Promise<V | undefined>;
}

const DEFAULT_JOIN_TIMEOUT_MS = 5_000;

/** Creates a bounded LRU + TTL cache (see the module comment). Create it once, at module level. */
export function createMemoryCache<K extends CacheKey, V extends CacheValue>(options: MemoryCacheOptions): MemoryCache<K, V> {
  const now = options.now ?? Date.now;
  const joinTimeoutMs = options.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS;
  const entries = new LRUCache<K, V>({
    max: options.max,
    ttl: options.ttlMs,
    // lru-cache would otherwise memoise the clock and reset it with a timer; workerd cancels a request's
    // timers when it ends, which would freeze that clock and keep entries forever.
    ttlResolution: 0,
    perf: { now },
  });
  const inFlight = new Map<K, Promise<V | undefined>>();

  function load(key: K, loader: () => Promise<V | undefined>): Promise<V | undefined> {
    const flight = loader().then(
      (value) => {
        if (inFlight.get(key) === flight) {
          inFlight.delete(key);
          if (value !== undefined) entries.set(key, value);
        }
        return value;
      },
      (error: unknown) => {
        if (inFlight.get(key) === flight) inFlight.delete(key);
        throw error;
      },
    );
    inFlight.set(key, flight);
    // A load whose request was cancelled never settles: bound the table too, forgetting the oldest first.
    if (inFlight.size > options.max) inFlight.delete(inFlight.keys().next().value as K);
    return flight;
  }

  return {
    name: options.name,
    get size() {
      return entries.size;
    },
    get: (key) => entries.get(key),
    set(key, value) {
      entries.set(key, value);
      inFlight.delete(key);
    },
    delete(key) {
      entries.delete(key);
      inFlight.delete(key);
    },
    async getOrLoad(key, loader) {
      const cached = entries.get(key);
      if (cached !== undefined) return cached;
      const running = inFlight.get(key);
      return running ? join(running, () => load(key, loader), joinTimeoutMs) : load(key, loader);
    },
  };
}

/**
 * Waits for another request's load, but not forever: workerd cancels a request's pending work when the
 * client goes away, and a load started by that request would then never settle for its followers.
 */
async function join<V>(running: Promise<V>, loadAlone: () => Promise<V>, timeoutMs: number): Promise<V> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = Symbol('timed out');
  const timeout = new Promise<typeof timedOut>((resolve) => {
    timer = setTimeout(() => resolve(timedOut), timeoutMs);
  });
  try {
    const result = await Promise.race([running, timeout]);
    return result === timedOut ? await loadAlone() : result;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
