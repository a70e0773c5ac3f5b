import { z } from '@hono/zod-openapi';
import { APP_ENVS } from './environments.ts';
import { idField } from './fields.ts';
import { TIERS } from './limits.ts';

/**
 * The feature-flag model, one schema for the admin API, the Postgres row and the edge copy in KV.
 * Evaluation lives in flag-evaluation.ts.
 * @module
 */

/** Lower-case letters, digits, `.`, `_` and `-`; starts with a letter or digit; at most 64 characters. */
export const FLAG_KEY_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const flagKey = z.string().regex(FLAG_KEY_PATTERN, 'must be 1–64 of a-z 0-9 . _ -, starting with a letter or digit').openapi({ example: 'new-billing' });

/** A percentage with at most two decimals: 12.34 % admits 1,234 of 10,000 buckets. */
const percentage = z.number().min(0).max(100).multipleOf(0.01);

// flagValue and flagVariants stay unnamed in the OpenAPI document: a named component used once as
// `.nullable()` would be published nullable everywhere, and the create body refuses null.

/**
 * The typed value a flag (or one of its variants) carries when it is on: a boolean, a number or a string,
 * OpenFeature's primitive types. (No free-form objects: every request body is closed, and a flag needing
 * structure is better as several flags or variants.)
 */
export const flagValue = z.union([z.boolean(), z.number(), z.string().max(2000)]).openapi({ description: 'Returned as `value` when the flag is on for the caller.' });
export type FlagValue = z.infer<typeof flagValue>;

/**
 * Who a flag is on for. Every condition is optional; see evaluateFlag for how they combine:
 * `environments` always applies; listed users and orgs are in; the others must be of one of `tiers`,
 * then `percentage` of them are in (sticky buckets); no list and no percentage means everyone.
 */
export const flagRules = z
  .strictObject({
    percentage: percentage.optional().openapi({ description: 'Share of callers (by user, else org) that are in: 0–100, two decimals.', example: 20 }),
    userIds: z.array(idField).max(500).optional().openapi({ description: 'Users for whom the flag is on, whatever the percentage and tiers.' }),
    orgIds: z.array(idField).max(500).optional().openapi({ description: 'Organizations for which the flag is on, whatever the percentage and tiers.' }),
    tiers: z.array(z.enum(TIERS)).min(1).optional().openapi({ description: 'Only callers whose org is on one of these tiers (others than listed users and orgs).' }),
    environments: z.array(z.enum(APP_ENVS)).min(1).optional().openapi({ description: 'Only in these deployments (`APP_ENV`); applies to everyone.' }),
  })
  .openapi('FlagRules');
export type FlagRules = z.infer<typeof flagRules>;

const variantKey = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, 'must be 1–32 of a-z 0-9 . _ -, starting with a letter or digit');

/** Weighted variants (an A/B split): weights are percentages summing to 100; a caller keeps their variant. */
export const flagVariants = z
  .array(z.strictObject({ key: variantKey, weight: percentage, value: flagValue.optional() }))
  .min(2)
  .max(20)
  .refine((variants) => Math.abs(variants.reduce((sum, variant) => sum + variant.weight, 0) - 100) < 1e-6, 'weights must add up to 100')
  .refine((variants) => new Set(variants.map((variant) => variant.key)).size === variants.length, 'variant keys must be unique')
  .openapi({ description: 'Weighted variants; weights are percentages (two decimals) adding up to 100.' });
export type FlagVariant = z.infer<typeof flagVariants>[number];

/** What evaluation needs of a flag: the edge copy in KV holds exactly this per flag. */
export const flagDefinition = z.object({
  key: flagKey,
  enabled: z.boolean(),
  rules: flagRules,
  value: flagValue.nullable(),
  variants: flagVariants.nullable(),
  version: z.int().min(1),
});
export type FlagDefinition = z.infer<typeof flagDefinition>;

/** The `value` column: the flag's value or its variants (never both), or null for a plain on/off flag. */
export const flagPayload = z.union([z.strictObject({ value: flagValue }), z.strictObject({ variants: flagVariants })]).nullable();
export type FlagPayload = z.infer<typeof flagPayload>;

/** Column values → the payload: a value and variants replace each other. */
export function toPayload(value: FlagValue | null, variants: FlagVariant[] | null): FlagPayload {
  if (variants) return { variants };
  return value === null ? null : { value };
}

/** A stored row → what evaluation needs (parsed: a row that does not fit the model is an error, not a guess). */
export function toFlagDefinition(row: { key: string; enabled: boolean; rules: unknown; value: unknown; version: number }): FlagDefinition {
  const payload = flagPayload.parse(row.value);
  return flagDefinition.parse({
    key: row.key,
    enabled: row.enabled,
    rules: row.rules,
    value: payload && 'value' in payload ? payload.value : null,
    variants: payload && 'variants' in payload ? payload.variants : null,
    version: row.version,
  });
}

/** JSON with object keys sorted: equal texts mean equal values, whatever order Postgres's jsonb or a client used. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : item,
  );
}
