import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { JsonSchema, SchemaDocument } from './schema-arbitraries.ts';

/**
 * JSON Schema validation of bodies against the OpenAPI document, with ajv (a real validator, already
 * installed with @seriousme/openapi-schema-validator). `#/components/schemas/…` refs resolve because
 * each compiled schema carries the document's components at its root.
 */
export interface OpenApiValidator {
  /** Errors of `value` against a response schema, or undefined when it is valid. */
  response(schema: JsonSchema, value: unknown): string | undefined;
  /** Errors of a request body, with every object strict (the input policy: an unknown key is an error). */
  requestBody(schema: JsonSchema, value: unknown): string | undefined;
}

/** Copies `schema`, making every object that does not say otherwise refuse unknown keys. */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (!schema || typeof schema !== 'object') return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, key === 'enum' || key === 'const' ? value : strict(value)]));
  if ('properties' in copy && !('additionalProperties' in copy)) copy.additionalProperties = false;
  return copy;
}

export function createOpenApiValidator(doc: SchemaDocument): OpenApiValidator {
  const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
  addFormats(ajv);
  const strictComponents = strict(doc.components);
  const compiled = new Map<string, ValidateFunction>();
  const check = (kind: 'response' | 'request', schema: JsonSchema, value: unknown) => {
    const key = `${kind} ${JSON.stringify(schema)}`;
    let validate = compiled.get(key);
    if (!validate) {
      const root = kind === 'request' ? { ...(strict(schema) as object), components: strictComponents } : { ...schema, components: doc.components };
      validate = ajv.compile(root);
      compiled.set(key, validate);
    }
    return validate(value) ? undefined : ajv.errorsText(validate.errors);
  };
  return {
    response: (schema, value) => check('response', schema, value),
    requestBody: (schema, value) => check('request', schema, value),
  };
}
