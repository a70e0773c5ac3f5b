import { sample as sampleArbitrary, stringMatching } from 'fast-check';
import { EMAIL_PATTERN } from '../../src/lib/fields.ts';

type Schema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minItems?: number;
  format?: string;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  exclusiveMinimum?: number;
};

export type OpenApiDocument = { components?: { schemas?: Record<string, Schema> } };

/**
 * A minimal value that satisfies `schema` (required fields only, first enum member, formats honoured),
 * so generated requests pass validation and reach authorization.
 */
export function sampleFor(schema: Schema | undefined, doc: OpenApiDocument): unknown {
  if (!schema) return undefined;
  if (schema.$ref) return sampleFor(doc.components?.schemas?.[schema.$ref.split('/').pop() ?? ''], doc);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return sampleFor(variants.find((variant) => variant.type !== 'null') ?? variants[0], doc);
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map((part) => sampleFor(part, doc)));
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object':
      return Object.fromEntries((schema.required ?? []).map((key) => [key, sampleFor(schema.properties?.[key], doc)]));
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => sampleFor(schema.items, doc));
    case 'integer':
    case 'number':
      return schema.minimum ?? (schema.exclusiveMinimum === undefined ? 1 : schema.exclusiveMinimum + 1);
    case 'boolean':
      return true;
    case 'string':
      return sampleString(schema);
    default:
      return undefined;
  }
}

function sampleString(schema: Schema): string {
  // Emails are published as the server's pattern, not `format: email` (see src/lib/fields.ts).
  if (schema.pattern === EMAIL_PATTERN.source) return `matrix-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const sample = formattedString(schema);
  if (!schema.pattern) return sample;
  // A pattern the plain sample misses (a token format, say) gets a seeded string that matches it.
  const pattern = new RegExp(schema.pattern);
  if (pattern.test(sample)) return sample;
  // fast-check cannot generate from lookarounds: generate without them, keep what the whole pattern takes.
  const generator = new RegExp(schema.pattern.replace(/\(\?<?[=!][^()]*\)/g, ''));
  const matching = stringMatching(generator, { maxLength: schema.maxLength }).filter((value) => pattern.test(value) && value.length >= (schema.minLength ?? 0));
  return sampleArbitrary(matching, { numRuns: 1, seed: 1 })[0] ?? sample;
}

function formattedString(schema: Schema): string {
  switch (schema.format) {
    case 'email':
      return `matrix-${crypto.randomUUID().slice(0, 8)}@example.com`;
    case 'uuid':
      return crypto.randomUUID();
    case 'date-time':
      return new Date(Date.now() + 86_400_000).toISOString();
    case 'date':
      return new Date().toISOString().slice(0, 10);
    case 'uri':
    case 'url':
      return 'https://example.com/matrix';
    default:
      return 'matrix-sample'.padEnd(schema.minLength ?? 0, 'x');
  }
}
