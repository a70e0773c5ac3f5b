import type { z } from '@hono/zod-openapi';

/**
 * A route's JSON request body (`request: { body: jsonBody(schema, '…') }`), the one way a route declares
 * one. The schema must be a strict object (`z.strictObject`), so a misspelt or unexpected key is a 400
 * naming it rather than being dropped while the request "succeeds"; the OpenAPI document then says
 * `additionalProperties: false`. A non-strict schema fails here, when the route module loads, so no
 * route can forget. (This checks rather than calls `.strict()` itself because zod's copy would lose the
 * component name and docs that `.openapi()` attached.)
 */
export function jsonBody<T extends z.ZodObject>(schema: T, description: string) {
  assertStrict(schema, `jsonBody(${description})`);
  return { description, required: true, content: { 'application/json': { schema } } } as const;
}

/** Like `jsonBody`, for a body the client may leave out entirely (then the handler sees `{}`). */
export function optionalJsonBody<T extends z.ZodObject>(schema: T, description: string) {
  assertStrict(schema, `optionalJsonBody(${description})`);
  return { description, required: false, content: { 'application/json': { schema } } } as const;
}

/** Throws unless `schema` is a strict object (unknown keys refused): bodies here, query schemas in the route kinds. */
export function assertStrict(schema: z.ZodType, description: string): void {
  const def = schema._zod.def;
  if (def.type !== 'object' || !('catchall' in def) || (def.catchall as z.ZodType | undefined)?._zod.def.type !== 'never') {
    throw new TypeError(`${description}: the schema must be z.strictObject(…) so unknown keys are refused`);
  }
}
