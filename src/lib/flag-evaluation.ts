import type { AppEnvironment } from './environments.ts';
import type { FlagDefinition, FlagValue, FlagVariant } from './flags.ts';
import type { Tier } from './limits.ts';
import { murmur3 } from './murmur3.ts';

/**
 * Flag evaluation: pure, synchronous, deterministic. The result is shaped like an OpenFeature resolution
 * (value, variant, reason, errorCode), so an OpenFeature provider can sit on top of GET /api/v1/flags.
 * @module
 */

/** Who is asking. The bucketing unit is the user, or the org when there is no user (an API key). */
export interface FlagContext {
  environment: AppEnvironment;
  userId?: string;
  orgId?: string;
  tier?: Tier;
}

/** OpenFeature's resolution reasons, those this evaluator gives. */
export type FlagReason = 'STATIC' | 'TARGETING_MATCH' | 'SPLIT' | 'DEFAULT' | 'DISABLED' | 'ERROR';
/** OpenFeature's error codes, those this evaluator gives. */
export type FlagErrorCode = 'FLAG_NOT_FOUND' | 'TARGETING_KEY_MISSING';

export interface FlagEvaluation {
  key: string;
  /** Whether the flag is on for this caller. */
  enabled: boolean;
  /** The flag's (or the variant's) value when on; null when off or when it carries none. */
  value: FlagValue | null;
  variant?: string;
  reason: FlagReason;
  errorCode?: FlagErrorCode;
}

/** Buckets per flag: a percentage with two decimals maps to a whole number of them. */
export const BUCKETS = 10_000;

/**
 * The caller's sticky bucket for a flag, in [0, 10 000): a hash of the flag key and the unit, so a caller
 * keeps their bucket while the percentage changes, and different flags bucket independently.
 */
export function bucketOf(flagKey: string, unit: string): number {
  return murmur3(`${flagKey}:${unit}`) % BUCKETS;
}

/** Whether a bucket is inside a percentage: p % admits buckets below p × 100, so raising p only adds callers. */
export const inPercentage = (bucket: number, percentage: number) => bucket < Math.round(percentage * 100);

/** The result for a key no flag has (e.g. deleted while code still asks): off, with OpenFeature's error code. */
export function flagNotFound(key: string): FlagEvaluation {
  return { key, enabled: false, value: null, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' };
}

/**
 * Evaluates `flag` for `context`:
 * 1. disabled → off (`DISABLED`); outside its `environments` → off (`DEFAULT`);
 * 2. a listed user or org → on (`TARGETING_MATCH`);
 * 3. a caller whose tier is not in `tiers` (or unknown) → off (`DEFAULT`);
 * 4. with `percentage`: on for callers whose bucket is inside it (`SPLIT`), else off (`DEFAULT`);
 * 5. without: on for everyone left (`STATIC`, or `TARGETING_MATCH` when a filter applied) — unless users
 *    or orgs are listed, which then are the only ones in.
 * When on, a flag with variants gives the caller's sticky variant (chosen by a second, independent hash).
 */
export function evaluateFlag(flag: FlagDefinition, context: FlagContext): FlagEvaluation {
  const { key, rules } = flag;
  const off = (reason: FlagReason, errorCode?: FlagErrorCode): FlagEvaluation => ({ key, enabled: false, value: null, reason, ...(errorCode ? { errorCode } : {}) });
  const unit = context.userId ?? context.orgId;
  const on = (reason: FlagReason) => turnOn(flag, unit, reason);

  if (!flag.enabled) return off('DISABLED');
  if (rules.environments && !rules.environments.includes(context.environment)) return off('DEFAULT');
  const listed = (context.userId !== undefined && rules.userIds?.includes(context.userId)) || (context.orgId !== undefined && rules.orgIds?.includes(context.orgId));
  if (listed) return on('TARGETING_MATCH');
  if (rules.tiers && !(context.tier && rules.tiers.includes(context.tier))) return off('DEFAULT');
  if (rules.percentage !== undefined) {
    if (unit === undefined) return off('ERROR', 'TARGETING_KEY_MISSING');
    return inPercentage(bucketOf(key, unit), rules.percentage) ? on('SPLIT') : off('DEFAULT');
  }
  if (rules.userIds?.length || rules.orgIds?.length) return off('DEFAULT');
  return on(rules.tiers || rules.environments ? 'TARGETING_MATCH' : 'STATIC');
}

function turnOn(flag: FlagDefinition, unit: string | undefined, reason: FlagReason): FlagEvaluation {
  if (!flag.variants) return { key: flag.key, enabled: true, value: flag.value, reason };
  const variant = pickVariant(flag.key, flag.variants, unit);
  return { key: flag.key, enabled: true, value: variant.value ?? null, variant: variant.key, reason };
}

/** The caller's variant by weight; without a unit to bucket, the first variant (the documented default). */
function pickVariant(flagKey: string, variants: readonly FlagVariant[], unit: string | undefined): FlagVariant {
  const [first] = variants;
  if (!first) throw new Error(`flag ${flagKey} has an empty variant list`);
  if (unit === undefined) return first;
  // Salted apart from the percentage's hash: otherwise a 20 % rollout would only ever see the first variants.
  const bucket = murmur3(`${flagKey}:variant:${unit}`) % BUCKETS;
  let upper = 0;
  for (const variant of variants) {
    upper += Math.round(variant.weight * 100);
    if (bucket < upper) return variant;
  }
  return variants[variants.length - 1] ?? first;
}
