import { z } from '@hono/zod-openapi';

/** The success envelope: `{ data }`, with `meta` for lists (pagination). */
export function dataEnvelope<T extends z.ZodType>(data: T) {
  return z.object({ data });
}

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}
