import { describe, expect, it } from 'vitest';
import { createMemoryCache } from '../../src/cache/memory-cache.ts';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let time = start;
  return { now: () => time, advance: (ms: number) => void (time += ms) };
}

/** A promise the test settles by hand, and a count of how often the loader ran. */
function controlledLoader<V>() {
  let settle: { resolve: (value: V | undefined) => void; reject: (error: unknown) => void } | undefined;
  const loader = Object.assign(
    () => {
      loader.calls += 1;
      return new Promise<V | undefined>((resolve, reject) => (settle = { resolve, reject }));
    },
    { calls: 0 },
  );
  const control = () => {
    if (!settle) throw new Error('the loader has not run');
    return settle;
  };
  return { loader, resolve: (value: V | undefined) => control().resolve(value), reject: (error: unknown) => control().reject(error) };
}

describe('createMemoryCache', () => {
  it('runs inside workerd (lru-cache loads there)', () => {
    expect(navigator.userAgent).toBe('Cloudflare-Workers');
    const cache = createMemoryCache<string, number>({ name: 'smoke', max: 2 });
    cache.set('a', 1);
    expect(cache.get('a')).toBe(1);
  });

  it('forgets an entry once its TTL has passed, and not before', () => {
    const clock = manualClock();
    const cache = createMemoryCache<string, string>({ name: 'ttl', max: 10, ttlMs: 30_000, now: clock.now });
    cache.set('key', 'value');
    clock.advance(29_999);
    expect(cache.get('key')).toBe('value');
    clock.advance(2);
    expect(cache.get('key')).toBeUndefined();
  });

  it('expires entries on the real workerd clock too', async () => {
    const cache = createMemoryCache<string, string>({ name: 'ttl-real', max: 10, ttlMs: 20 });
    cache.set('key', 'value');
    expect(cache.get('key')).toBe('value');
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(cache.get('key')).toBeUndefined();
  });

  it('evicts the least recently used entry, one at a time, when full', () => {
    const cache = createMemoryCache<string, number>({ name: 'lru', max: 3 });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1); // a is now the most recently used; b the least
    cache.set('d', 4);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual([1, 3, 4]);
    expect(cache.size).toBe(3);
  });

  it('never holds more than max entries', () => {
    const cache = createMemoryCache<number, number>({ name: 'bound', max: 10 });
    for (let i = 0; i < 1_000; i++) cache.set(i, i);
    expect(cache.size).toBe(10);
    expect(cache.get(989)).toBeUndefined();
    expect(cache.get(990)).toBe(990);
    expect(cache.get(999)).toBe(999);
  });

  it('deletes one entry', () => {
    const cache = createMemoryCache<string, number>({ name: 'delete', max: 3 });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.delete('a');
    expect([cache.get('a'), cache.get('b')]).toEqual([undefined, 2]);
  });
});

describe('getOrLoad', () => {
  it('shares one load between concurrent callers, then serves the cached value', async () => {
    const cache = createMemoryCache<string, string>({ name: 'flight', max: 10 });
    const { loader, resolve } = controlledLoader<string>();
    const first = cache.getOrLoad('key', loader);
    const second = cache.getOrLoad('key', loader);
    resolve('loaded');
    expect(await Promise.all([first, second])).toEqual(['loaded', 'loaded']);
    expect(await cache.getOrLoad('key', loader)).toBe('loaded');
    expect(loader.calls).toBe(1);
  });

  it('loads different keys separately', async () => {
    const cache = createMemoryCache<string, string>({ name: 'keys', max: 10 });
    const values = await Promise.all(['a', 'b'].map((key) => cache.getOrLoad(key, async () => `value of ${key}`)));
    expect(values).toEqual(['value of a', 'value of b']);
  });

  it('does not cache a failure: every waiting caller sees it, and the next call loads again', async () => {
    const cache = createMemoryCache<string, string>({ name: 'failure', max: 10 });
    const { loader, reject } = controlledLoader<string>();
    const first = cache.getOrLoad('key', loader);
    const second = cache.getOrLoad('key', loader);
    reject(new Error('database down'));
    await expect(first).rejects.toThrow('database down');
    await expect(second).rejects.toThrow('database down');
    expect(await cache.getOrLoad('key', async () => 'recovered')).toBe('recovered');
    expect(cache.get('key')).toBe('recovered');
  });

  it('does not cache a miss (undefined)', async () => {
    const cache = createMemoryCache<string, string>({ name: 'miss', max: 10 });
    expect(await cache.getOrLoad('key', async () => undefined)).toBeUndefined();
    expect(await cache.getOrLoad('key', async () => 'created since')).toBe('created since');
  });

  it('does not store a load that was in flight when the key was deleted', async () => {
    const cache = createMemoryCache<string, string>({ name: 'invalidate', max: 10 });
    const { loader, resolve } = controlledLoader<string>();
    const pending = cache.getOrLoad('key', loader);
    cache.delete('key');
    resolve('stale');
    expect(await pending).toBe('stale');
    expect(cache.get('key')).toBeUndefined();
  });

  it('loads on its own when the load it joined does not settle in time', async () => {
    const cache = createMemoryCache<string, string>({ name: 'join', max: 10, joinTimeoutMs: 20 });
    const stuck = controlledLoader<string>();
    void cache.getOrLoad('key', stuck.loader);
    expect(await cache.getOrLoad('key', async () => 'fresh')).toBe('fresh');
    expect(cache.get('key')).toBe('fresh');
    stuck.resolve('late'); // the abandoned load settles later and must not overwrite the newer value
    await Promise.resolve();
    expect(cache.get('key')).toBe('fresh');
  });
});
