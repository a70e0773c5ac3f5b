import { z } from '@hono/zod-openapi';
import { textField } from '../../lib/fields.ts';
import { flagKey, flagRules, flagValue, flagVariants, toFlagDefinition } from '../../lib/flags.ts';
import type { FlagRow } from '../../services/flags.ts';

const description = textField(500).openapi({ example: 'The new billing page.' });

/** A flag as platform admins see it. */
export const flagSchema = z
  .object({
    key: flagKey,
    description: z.string(),
    enabled: z.boolean(),
    rules: flagRules,
    value: flagValue.nullable(),
    variants: flagVariants.nullable(),
    version: z.int().openapi({ description: 'Grows by one with every change.' }),
    updatedBy: z.uuid().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi('Flag');

export const flagParams = z.object({ key: flagKey.openapi({ param: { name: 'key', in: 'path' } }) });

const oneOfValueOrVariants = (body: { value?: unknown; variants?: unknown }) => body.value === undefined || body.variants === undefined;
const VALUE_OR_VARIANTS = { message: 'a flag has a value or variants, not both', path: ['variants'] };

export const createFlagBody = z
  .strictObject({
    key: flagKey,
    description: description.optional(),
    enabled: z.boolean().optional().openapi({ description: 'Default false: a new flag is off until turned on.' }),
    rules: flagRules.optional(),
    value: flagValue.optional(),
    variants: flagVariants.optional(),
  })
  .refine(oneOfValueOrVariants, VALUE_OR_VARIANTS)
  .openapi('CreateFlag');

/** PATCH: fields left out are kept; `rules` is replaced whole; `null` clears the value or the variants; one replaces the other. */
export const updateFlagBody = z
  .strictObject({
    description: description.optional(),
    enabled: z.boolean().optional(),
    rules: flagRules.optional(),
    value: flagValue.nullable().optional(),
    variants: flagVariants.nullable().optional(),
  })
  .refine((body) => body.value === undefined || body.variants === undefined || body.value === null || body.variants === null, VALUE_OR_VARIANTS)
  .openapi('UpdateFlag');

/** One flag evaluated for the caller, shaped like an OpenFeature resolution. */
export const flagEvaluationSchema = z
  .object({
    key: z.string(),
    enabled: z.boolean(),
    value: flagValue.nullable(),
    variant: z.string().optional(),
    reason: z.enum(['STATIC', 'TARGETING_MATCH', 'SPLIT', 'DEFAULT', 'DISABLED', 'ERROR']),
    errorCode: z.enum(['FLAG_NOT_FOUND', 'TARGETING_KEY_MISSING']).optional(),
  })
  .openapi('FlagEvaluation');

/** Row → response: an explicit pick, so a new column never leaks by accident. */
export function toFlag(row: FlagRow): z.infer<typeof flagSchema> {
  const { key, enabled, rules, value, variants, version } = toFlagDefinition(row);
  return { key, description: row.description, enabled, rules, value, variants, version, updatedBy: row.updatedBy, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() };
}
