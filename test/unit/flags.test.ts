import { describe, expect, it } from 'vitest';
import { bucketOf, BUCKETS, evaluateFlag, flagNotFound, inPercentage, type FlagContext } from '../../src/lib/flag-evaluation.ts';
import { canonicalJson, flagRules, flagVariants, toFlagDefinition, type FlagDefinition } from '../../src/lib/flags.ts';
import { murmur3 } from '../../src/lib/murmur3.ts';

/** Sequential uuids (a hard case: they differ in a few trailing characters), fixed so every run is the same. */
const ids = (n: number, prefix = 0) => Array.from({ length: n }, (_, i) => `${prefix.toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`);
const flag = (overrides: Partial<FlagDefinition> = {}): FlagDefinition => ({ key: 'beta', enabled: true, rules: {}, value: null, variants: null, version: 1, ...overrides });
const prod: FlagContext = { environment: 'production' };
const admittedAt = (key: string, units: string[], percentage: number) => units.filter((unit) => inPercentage(bucketOf(key, unit), percentage));

describe('murmur3', () => {
  it('matches the reference MurmurHash3_x86_32 vectors', () => {
    expect(murmur3('')).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('hello')).toBe(0x248bfa47);
    expect(murmur3('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
    // Tails of 1, 2 and 3 bytes, and non-ASCII (hashed as UTF-8).
    expect(murmur3('a')).toBe(0x3c2569b2);
    expect(murmur3('ab')).toBe(0x9bbfd75f);
    expect(murmur3('abc')).toBe(0xb3dd93fa);
  });
});

describe('sticky bucketing', () => {
  const units = ids(10_000);

  it('is stable: the same flag and unit give the same bucket every time, and buckets lie in [0, 10 000)', () => {
    for (const unit of units) {
      const bucket = bucketOf('checkout-v2', unit);
      expect(bucket).toBeGreaterThanOrEqual(0);
      expect(bucket).toBeLessThan(BUCKETS);
      expect(bucketOf('checkout-v2', unit)).toBe(bucket);
    }
  });

  it.each([1, 5, 20, 33.33, 50, 80, 99])('admits %s %% of 10,000 ids, within ±2 points', (percentage) => {
    const share = (admittedAt('checkout-v2', units, percentage).length / units.length) * 100;
    expect(Math.abs(share - percentage)).toBeLessThanOrEqual(2);
  });

  it('20 % → 30 % keeps every id that was in, and 30 % → 20 % takes out only ids that were added', () => {
    const at20 = new Set(admittedAt('checkout-v2', units, 20));
    const at30 = new Set(admittedAt('checkout-v2', units, 30));
    expect([...at20].every((unit) => at30.has(unit))).toBe(true);
    expect(at30.size).toBeGreaterThan(at20.size);
    // Through evaluation too, for the reason and the whole path.
    for (const unit of units.slice(0, 500)) {
      const before = evaluateFlag(flag({ rules: { percentage: 20 } }), { ...prod, userId: unit });
      const after = evaluateFlag(flag({ rules: { percentage: 30 } }), { ...prod, userId: unit });
      if (before.enabled) expect(after).toMatchObject({ enabled: true, reason: 'SPLIT' });
    }
  });

  it('buckets flags independently: being in one rollout says nothing about another', () => {
    const inA = new Set(admittedAt('flag-a', units, 50));
    const inBoth = admittedAt('flag-b', units, 50).filter((unit) => inA.has(unit)).length;
    expect(Math.abs(inBoth / units.length - 0.25)).toBeLessThan(0.02);
  });

  it('0 % admits nobody and 100 % everybody', () => {
    expect(admittedAt('x', units, 0)).toHaveLength(0);
    expect(admittedAt('x', units, 100)).toHaveLength(units.length);
  });
});

describe('evaluateFlag', () => {
  const user = '0b4d3c9e-1a2b-4c3d-8e4f-5a6b7c8d9e0f';
  const org = '1c5e4d0f-2b3c-4d4e-9f50-6b7c8d9e0f1a';

  it('a disabled flag is off for everyone, even listed users: DISABLED', () => {
    expect(evaluateFlag(flag({ enabled: false, rules: { userIds: [user] } }), { ...prod, userId: user })).toEqual({ key: 'beta', enabled: false, value: null, reason: 'DISABLED' });
  });

  it('an enabled flag without rules is on for everyone, with its value: STATIC', () => {
    expect(evaluateFlag(flag({ value: 'blue' }), prod)).toEqual({ key: 'beta', enabled: true, value: 'blue', reason: 'STATIC' });
  });

  it('environments apply to everyone, listed users included', () => {
    const staged = flag({ rules: { environments: ['staging'], userIds: [user] } });
    expect(evaluateFlag(staged, { ...prod, userId: user })).toMatchObject({ enabled: false, reason: 'DEFAULT' });
    expect(evaluateFlag(staged, { environment: 'staging', userId: user })).toMatchObject({ enabled: true, reason: 'TARGETING_MATCH' });
    expect(evaluateFlag(flag({ rules: { environments: ['staging'] } }), { environment: 'staging' })).toMatchObject({ enabled: true, reason: 'TARGETING_MATCH' });
  });

  it('listed users and orgs are in whatever the percentage and tiers; others are not unless a percentage admits them', () => {
    const listed = flag({ rules: { userIds: [user], orgIds: [org], tiers: ['enterprise'], percentage: 0 } });
    expect(evaluateFlag(listed, { ...prod, userId: user, tier: 'free' })).toMatchObject({ enabled: true, reason: 'TARGETING_MATCH' });
    expect(evaluateFlag(listed, { ...prod, orgId: org })).toMatchObject({ enabled: true, reason: 'TARGETING_MATCH' });
    expect(evaluateFlag(listed, { ...prod, userId: crypto.randomUUID(), tier: 'enterprise' })).toMatchObject({ enabled: false, reason: 'DEFAULT' });
    expect(evaluateFlag(flag({ rules: { userIds: [user] } }), { ...prod, userId: crypto.randomUUID() })).toMatchObject({ enabled: false, reason: 'DEFAULT' });
  });

  it('tiers filter the callers that are not listed; an unknown tier is not in', () => {
    const pro = flag({ rules: { tiers: ['pro', 'enterprise'] } });
    expect(evaluateFlag(pro, { ...prod, orgId: org, tier: 'pro' })).toMatchObject({ enabled: true, reason: 'TARGETING_MATCH' });
    expect(evaluateFlag(pro, { ...prod, orgId: org, tier: 'free' })).toMatchObject({ enabled: false, reason: 'DEFAULT' });
    expect(evaluateFlag(pro, { ...prod, orgId: org })).toMatchObject({ enabled: false, reason: 'DEFAULT' });
  });

  it('a percentage buckets by user, else by org; without either it is an error, and off', () => {
    const half = flag({ rules: { percentage: 50 } });
    const results = ids(200).map((unit) => evaluateFlag(half, { ...prod, orgId: unit }));
    expect(new Set(results.map((result) => result.reason))).toEqual(new Set(['SPLIT', 'DEFAULT']));
    for (const result of results) expect(result.enabled).toBe(result.reason === 'SPLIT');
    // The user decides when there is one: same user, any org, same answer.
    const answers = new Set(ids(20, 1).map((orgId) => evaluateFlag(half, { ...prod, userId: user, orgId }).enabled));
    expect(answers.size).toBe(1);
    expect(evaluateFlag(half, prod)).toEqual({ key: 'beta', enabled: false, value: null, reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' });
  });

  it('variants: each caller keeps one, shares follow the weights, and the variant carries the value', () => {
    const ab = flag({ variants: [{ key: 'control', weight: 70, value: 'old' }, { key: 'treatment', weight: 30, value: 'new' }] });
    const units = ids(10_000);
    const counts = { control: 0, treatment: 0 };
    for (const unit of units) {
      const result = evaluateFlag(ab, { ...prod, userId: unit });
      expect(evaluateFlag(ab, { ...prod, userId: unit })).toEqual(result);
      expect(result.value).toBe(result.variant === 'control' ? 'old' : 'new');
      counts[result.variant as keyof typeof counts] += 1;
    }
    expect(Math.abs(counts.treatment / units.length - 0.3)).toBeLessThan(0.02);
    // Independent of the rollout bucket: inside a 20 % rollout both variants still appear in their shares.
    const rolled = flag({ ...ab, rules: { percentage: 20 } });
    const inside = units.map((unit) => evaluateFlag(rolled, { ...prod, userId: unit })).filter((result) => result.enabled);
    expect(Math.abs(inside.filter((result) => result.variant === 'treatment').length / inside.length - 0.3)).toBeLessThan(0.04);
    // No unit to bucket: the first variant.
    expect(evaluateFlag(ab, prod)).toMatchObject({ enabled: true, variant: 'control', value: 'old' });
  });

  it('a missing flag is off with FLAG_NOT_FOUND', () => {
    expect(flagNotFound('gone')).toEqual({ key: 'gone', enabled: false, value: null, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
  });
});

describe('the flag model', () => {
  it('percentages take two decimals at most, within 0–100', () => {
    for (const percentage of [0, 0.01, 12.34, 33.33, 99.99, 100]) expect(flagRules.safeParse({ percentage }).success, String(percentage)).toBe(true);
    for (const percentage of [-1, 100.01, 12.345, 0.001]) expect(flagRules.safeParse({ percentage }).success, String(percentage)).toBe(false);
  });

  it('rules are strict and typed: unknown conditions, tiers and environments are refused', () => {
    expect(flagRules.safeParse({ countries: ['FR'] }).success).toBe(false);
    expect(flagRules.safeParse({ tiers: ['platinum'] }).success).toBe(false);
    expect(flagRules.safeParse({ environments: ['prod'] }).success).toBe(false);
    expect(flagRules.safeParse({ userIds: ['not-a-uuid'] }).success).toBe(false);
    expect(flagRules.safeParse({ tiers: ['free'], environments: ['production', 'staging'] }).success).toBe(true);
  });

  it('variant weights add up to 100 and keys are unique', () => {
    expect(flagVariants.safeParse([{ key: 'a', weight: 50 }, { key: 'b', weight: 50 }]).success).toBe(true);
    expect(flagVariants.safeParse([{ key: 'a', weight: 33.33 }, { key: 'b', weight: 33.33 }, { key: 'c', weight: 33.34 }]).success).toBe(true);
    expect(flagVariants.safeParse([{ key: 'a', weight: 50 }, { key: 'b', weight: 40 }]).success).toBe(false);
    expect(flagVariants.safeParse([{ key: 'a', weight: 50 }, { key: 'a', weight: 50 }]).success).toBe(false);
  });

  it('a stored row parses into the definition; a row holding both a value and variants does not', () => {
    const row = { key: 'k', enabled: true, rules: { percentage: 5 }, value: { value: 3 }, version: 2 };
    expect(toFlagDefinition(row)).toEqual({ key: 'k', enabled: true, rules: { percentage: 5 }, value: 3, variants: null, version: 2 });
    expect(() => toFlagDefinition({ ...row, value: { value: 3, variants: [] } })).toThrow();
  });

  it('canonical JSON ignores key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: 2 } })).toBe(canonicalJson({ a: { c: 2, d: [1, { y: 2, z: 1 }] }, b: 1 }));
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: 2 }));
  });
});
