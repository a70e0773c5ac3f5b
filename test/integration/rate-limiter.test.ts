import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { rateLimiterFor, type LimitDecision, type LimitRule } from '../../durable-objects/rate-limiter/index.ts';
import { MAX_RATE_LIMIT } from '../../src/lib/limits.ts';
import { env } from '../helpers/worker.ts';

// The limiter through the real binding: every call is an RPC to a real Durable Object with SQLite storage.

const name = () => `test:${crypto.randomUUID()}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `count` truly concurrent calls, each through its own stub, as separate requests would make them. */
function burst(key: string, rules: LimitRule[], count: number, cost?: number): Promise<LimitDecision[]> {
  return Promise.all(Array.from({ length: count }, () => rateLimiterFor(env, key).limit(rules, cost)));
}

/** The error a call fails with (awaited once: `expect(rpc).rejects` leaves the RPC promise's rejection unhandled). */
async function failure(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error('the call succeeded');
}

const admitted = (decisions: LimitDecision[]) => decisions.filter((decision) => decision.allowed).length;

/** Rows of the object's log for `ruleKey`, as its storage holds them. */
function storedUntil(key: string, ruleKey: string): Promise<number[]> {
  return runInDurableObject(rateLimiterFor(env, key), (_, state) =>
    state.storage.sql.exec<{ until: number }>('SELECT until FROM sliding_log WHERE key = ? ORDER BY until', ruleKey).toArray().map((row) => row.until),
  );
}

describe('RateLimiter.limit: exactness', () => {
  it('admits exactly L of 10 × L concurrent requests on a fresh key, 100 trials out of 100', async () => {
    const results: Array<{ limit: number; admitted: number; remaining: number[] }> = [];
    for (let trial = 0; trial < 100; trial += 1) {
      const limit = 5 + (trial % 16);
      const decisions = await burst(name(), [{ key: 'read', limit, windowMs: 60_000 }], 10 * limit);
      const remaining = decisions.filter((d) => d.allowed).map((d) => d.remaining).sort((a, b) => a - b);
      results.push({ limit, admitted: admitted(decisions), remaining });
    }
    for (const result of results) {
      expect(result.admitted).toBe(result.limit);
      // Each admitted request saw a different count: none was admitted on a stale view.
      expect(result.remaining).toEqual(Array.from({ length: result.limit }, (_, i) => i));
    }
  }, 120_000);

  it('answers the tightest rule: limit, remaining, when it regains a unit, and how long a refused caller waits', async () => {
    const key = name();
    const rules = [{ key: 'read', limit: 3, windowMs: 60_000 }];
    const first = await rateLimiterFor(env, key).limit(rules);
    expect(first).toMatchObject({ allowed: true, limit: 3, remaining: 2, retryAfterMs: 0 });
    expect(first.resetMs).toBeGreaterThan(59_000);
    expect(first.resetMs).toBeLessThanOrEqual(60_000);
    await burst(key, rules, 2);
    const refused = await rateLimiterFor(env, key).limit(rules);
    expect(refused).toMatchObject({ allowed: false, limit: 3, remaining: 0 });
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('charges a cost of several units, and refuses one that does not fit without spending any', async () => {
    const key = name();
    const rules = [{ key: 'upload', limit: 10, windowMs: 60_000 }];
    expect(await rateLimiterFor(env, key).limit(rules, 7)).toMatchObject({ allowed: true, remaining: 3 });
    expect(await rateLimiterFor(env, key).limit(rules, 4)).toMatchObject({ allowed: false, remaining: 3 });
    expect(await rateLimiterFor(env, key).limit(rules, 3)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await storedUntil(key, 'upload')).toHaveLength(10);
  });
});

describe('RateLimiter.limit: window edges', () => {
  it('admits exactly L again once the window has passed', async () => {
    const key = name();
    const rules = [{ key: 'write', limit: 7, windowMs: 1_500 }];
    expect(admitted(await burst(key, rules, 70))).toBe(7);
    expect(admitted(await burst(key, rules, 70))).toBe(0);
    await sleep(1_600);
    expect(admitted(await burst(key, rules, 70))).toBe(7);
  });

  it('never admits more than L inside any window, for bursts that straddle window edges', async () => {
    const key = name();
    const limit = 5;
    const windowMs = 1_500;
    // A second rule that never refuses records when each admitted request was admitted (until − its window).
    const recorder = { key: 'recorder', limit: 10_000, windowMs: 86_400_000 };
    const rules = [{ key: 'write', limit, windowMs }, recorder];
    const waves: Array<Promise<LimitDecision[]>> = [];
    for (let wave = 0; wave < 35; wave += 1) {
      waves.push(burst(key, rules, 2 * limit));
      await sleep(100);
    }
    const total = (await Promise.all(waves)).reduce((sum, decisions) => sum + admitted(decisions), 0);
    const times = (await storedUntil(key, 'recorder')).map((until) => until - recorder.windowMs);
    expect(times).toHaveLength(total);
    // Sorted admission times: any L + 1 consecutive ones must span at least a whole window.
    for (let i = 0; i + limit < times.length; i += 1) {
      expect((times[i + limit] ?? 0) - (times[i] ?? 0)).toBeGreaterThanOrEqual(windowMs);
    }
    // ~3.5 s of demand over 1.5 s windows: the limiter admitted again in later windows, not only the first.
    expect(total).toBeGreaterThanOrEqual(2 * limit);
  });
});

describe('RateLimiter.limit: restart', () => {
  it('keeps counting after the object is evicted and a new instance loads its storage', async () => {
    const key = name();
    const stub = rateLimiterFor(env, key);
    const rules = [{ key: 'read', limit: 8, windowMs: 60_000 }];
    expect(admitted(await burst(key, rules, 3))).toBe(3);
    const before = await runInDurableObject(stub, (instance) => instance);
    await evictDurableObject(stub);
    const after = await runInDurableObject(stub, (instance) => instance);
    expect(after).not.toBe(before);
    expect(admitted(await burst(key, rules, 80))).toBe(5);
    await evictDurableObject(stub);
    expect(admitted(await burst(key, rules, 80))).toBe(0);
  });
});

describe('RateLimiter.limit: several rules', () => {
  it('is all or nothing: a request one rule refuses spends nothing of the others', async () => {
    const key = name();
    const minute = { key: 'minute', limit: 3, windowMs: 60_000 };
    const hour = { key: 'hour', limit: 5, windowMs: 3_600_000 };
    expect(admitted(await burst(key, [minute, hour], 10))).toBe(3);
    const refused = await rateLimiterFor(env, key).limit([minute, hour]);
    expect(refused).toMatchObject({ allowed: false, limit: 3, remaining: 0 });
    // `hour` counted the 3 admitted requests only: it still has exactly 2.
    expect(admitted(await burst(key, [hour], 10))).toBe(2);
    expect(await storedUntil(key, 'hour')).toHaveLength(5);
  });

  it('names each rule that refused, with its own limit and wait (an org\'s edge cache holds each for its own wait)', async () => {
    const key = name();
    const rules = [
      { key: 'org', limit: 1, windowMs: 60_000 },
      { key: 'caller', limit: 1, windowMs: 2_000 },
    ];
    const first = await rateLimiterFor(env, key).limit(rules);
    expect(first.allowed).toBe(true);
    expect(first.refusedBy).toBeUndefined();
    const refused = await rateLimiterFor(env, key).limit(rules);
    expect(refused.allowed).toBe(false);
    const [org, caller] = [refused.refusedBy?.find((r) => r.key === 'org'), refused.refusedBy?.find((r) => r.key === 'caller')];
    expect(org).toMatchObject({ limit: 1, retryAfterMs: expect.any(Number) });
    expect(caller).toMatchObject({ limit: 1, retryAfterMs: expect.any(Number) });
    expect(org?.retryAfterMs).toBeGreaterThan(55_000);
    expect(caller?.retryAfterMs).toBeLessThanOrEqual(2_000);
    // The request itself waits for the longest.
    expect(refused.retryAfterMs).toBe(org?.retryAfterMs);
  });

  it('reports the rule with the fewest remaining', async () => {
    const key = name();
    const decision = await rateLimiterFor(env, key).limit([
      { key: 'loose', limit: 100, windowMs: 60_000 },
      { key: 'tight', limit: 2, windowMs: 10_000 },
    ]);
    expect(decision).toMatchObject({ allowed: true, limit: 2, remaining: 1 });
    expect(decision.resetMs).toBeLessThanOrEqual(10_000);
  });

  it('refuses everything under a limit of 0, and spends nothing of the other rules', async () => {
    const key = name();
    const other = { key: 'other', limit: 5, windowMs: 60_000 };
    const decisions = await burst(key, [{ key: 'blocked', limit: 0, windowMs: 60_000 }, other], 20);
    expect(admitted(decisions)).toBe(0);
    for (const decision of decisions) expect(decision).toMatchObject({ allowed: false, limit: 0, remaining: 0 });
    expect(decisions[0]?.retryAfterMs).toBeGreaterThan(0);
    expect(await storedUntil(key, 'other')).toHaveLength(0);
  });

  it('drops the older entries when a limit is lowered, and counts exactly under the new one', async () => {
    const key = name();
    expect(admitted(await burst(key, [{ key: 'read', limit: 10, windowMs: 60_000 }], 10))).toBe(10);
    expect(admitted(await burst(key, [{ key: 'read', limit: 4, windowMs: 60_000 }], 10))).toBe(0);
    expect(await storedUntil(key, 'read')).toHaveLength(4);
  });
});

describe('RateLimiter.limit: validation', () => {
  const invalid: Array<[string, unknown[], number?]> = [
    ['no rules', []],
    ['a negative limit', [{ key: 'a', limit: -1, windowMs: 1_000 }]],
    ['a fractional limit', [{ key: 'a', limit: 1.5, windowMs: 1_000 }]],
    ['a zero window', [{ key: 'a', limit: 1, windowMs: 0 }]],
    ['a blank key', [{ key: '', limit: 1, windowMs: 1_000 }]],
    ['a limit above the maximum', [{ key: 'a', limit: MAX_RATE_LIMIT + 1, windowMs: 1_000 }]],
    ['a window longer than a day', [{ key: 'a', limit: 1, windowMs: 86_400_001 }]],
    ['a key of 257 characters', [{ key: 'a'.repeat(257), limit: 1, windowMs: 1_000 }]],
    ['nine rules', Array.from({ length: 9 }, (_, i) => ({ key: i === 0 ? 'a' : `r${i}`, limit: 1, windowMs: 1_000 }))],
    ['a limit that is not a number', [{ key: 'a', limit: '1', windowMs: 1_000 }]],
    ['rules that are not an array', { key: 'a', limit: 1, windowMs: 1_000 } as unknown as unknown[]],
    ['a key twice', [{ key: 'a', limit: 1, windowMs: 1_000 }, { key: 'a', limit: 2, windowMs: 2_000 }]],
    ['a zero cost', [{ key: 'a', limit: 1, windowMs: 1_000 }], 0],
    ['a fractional cost', [{ key: 'a', limit: 2, windowMs: 1_000 }], 1.5],
  ];
  it.each(invalid)('rejects %s and records nothing', async (_, rules, cost) => {
    const key = name();
    expect(await failure(rateLimiterFor(env, key).limit(rules as LimitRule[], cost))).toBeInstanceOf(Error);
    expect(await storedUntil(key, 'a')).toHaveLength(0);
  });

  it('accepts rules at every bound', async () => {
    const key = name();
    const widest = { key: 'a', limit: MAX_RATE_LIMIT, windowMs: 86_400_000 };
    const rules = [
      widest,
      { key: 'k'.repeat(256), limit: 0, windowMs: 1 },
      ...Array.from({ length: 6 }, (_, i) => ({ key: `r${i}`, limit: 1, windowMs: 1_000 })),
    ];
    // Every rule is valid; the `limit: 0` one refuses, so nothing is recorded.
    expect(await rateLimiterFor(env, key).limit(rules)).toMatchObject({ allowed: false, refusedBy: [{ key: 'k'.repeat(256), limit: 0 }] });
    expect(await rateLimiterFor(env, key).limit([widest], MAX_RATE_LIMIT)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await storedUntil(key, 'a')).toHaveLength(MAX_RATE_LIMIT);
  });
});

describe('RateLimiter backoff', () => {
  const policy = { freeFailures: 5, baseDelayMs: 1_000, maxDelayMs: 900_000, forgetAfterMs: 86_400_000 };

  it('admits exactly the free attempts of a concurrent burst, then asks for the first delay', async () => {
    const key = name();
    const decisions = await Promise.all(Array.from({ length: 50 }, () => rateLimiterFor(env, key).backoffAttempt('login', policy)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    const refused = decisions.find((d) => !d.allowed);
    expect(refused?.failures).toBe(5);
    expect(refused?.retryAfterMs).toBeGreaterThan(0);
    expect(refused?.retryAfterMs).toBeLessThanOrEqual(1_000);
  });

  it('doubles the delay after each further failure, and reset or forgive take attempts back', async () => {
    const key = name();
    const stub = rateLimiterFor(env, key);
    const quick = { ...policy, freeFailures: 1, baseDelayMs: 200 };
    expect(await stub.backoffAttempt('k', quick)).toMatchObject({ allowed: true, failures: 1 });
    expect((await stub.backoffAttempt('k', quick)).retryAfterMs).toBeGreaterThan(0);
    await sleep(250);
    expect(await stub.backoffAttempt('k', quick)).toMatchObject({ allowed: true, failures: 2 });
    await sleep(250);
    // The second delay is 400 ms: 250 ms is not enough.
    expect(await stub.backoffAttempt('k', quick)).toMatchObject({ allowed: false, failures: 2 });
    await stub.backoffForgive('k');
    expect(await stub.backoffFailures('k')).toBe(1);
    await stub.backoffReset('k');
    expect(await stub.backoffFailures('k')).toBe(0);
    expect(await stub.backoffAttempt('k', quick)).toMatchObject({ allowed: true, failures: 1 });
  });

  it('keeps its counters across an eviction', async () => {
    const key = name();
    const stub = rateLimiterFor(env, key);
    for (let i = 0; i < 5; i += 1) await stub.backoffAttempt('login', policy);
    await evictDurableObject(stub);
    expect(await stub.backoffAttempt('login', policy)).toMatchObject({ allowed: false, failures: 5 });
  });

  it('rejects a policy whose delays outlast its memory', async () => {
    expect(await failure(rateLimiterFor(env, name()).backoffAttempt('k', { ...policy, forgetAfterMs: 1_000 }))).toBeInstanceOf(Error);
  });
});

describe('RateLimiter cleanup alarm', () => {
  it('deletes expired entries on its own, so idle keys cost no storage', async () => {
    const key = name();
    await burst(key, [{ key: 'short', limit: 5, windowMs: 50 }], 5);
    expect(await storedUntil(key, 'short')).toHaveLength(5);
    // Nobody asks about the key again: only the alarm can delete its entries.
    for (let waited = 0; waited < 3_000 && (await storedUntil(key, 'short')).length > 0; waited += 100) await sleep(100);
    expect(await storedUntil(key, 'short')).toHaveLength(0);
  });

  it('keeps what is still inside its window and comes back for it', async () => {
    const key = name();
    const stub = rateLimiterFor(env, key);
    await burst(key, [{ key: 'long', limit: 5, windowMs: 60_000 }], 2);
    const scheduled = await runInDurableObject(stub, (_, state) => state.storage.getAlarm());
    expect(scheduled).toBeGreaterThan(Date.now() + 50_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await storedUntil(key, 'long')).toHaveLength(2);
    expect(await runInDurableObject(stub, (_, state) => state.storage.getAlarm())).toBeGreaterThan(Date.now() + 50_000);
  });
});
