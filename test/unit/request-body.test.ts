import { z } from '@hono/zod-openapi';
import { describe, expect, it } from 'vitest';
import { lineField } from '../../src/lib/fields.ts';
import { jsonBody, optionalJsonBody } from '../../src/lib/request-body.ts';
import { validationError } from '../../src/lib/validation.ts';
import { publicRoute } from '../../src/routes/route-kinds.ts';

describe('jsonBody', () => {
  it('takes a strict object and declares a required JSON body', () => {
    const schema = z.strictObject({ name: z.string() });
    expect(jsonBody(schema, 'A thing.')).toEqual({ description: 'A thing.', required: true, content: { 'application/json': { schema } } });
    expect(optionalJsonBody(schema, 'A thing.').required).toBe(false);
  });

  it('refuses, when the route module loads, a schema that would drop unknown keys', () => {
    expect(() => jsonBody(z.object({ name: z.string() }), 'Loose.')).toThrow(/strictObject/);
    expect(() => jsonBody(z.looseObject({ name: z.string() }), 'Loose.')).toThrow(/strictObject/);
  });

  it('holds query schemas to the same rule: a route kind refuses a loose one when it is declared', () => {
    const route = (query: z.ZodObject) => () => publicRoute({ method: 'get', path: '/loose', request: { query }, responses: {} });
    expect(route(z.object({ q: z.string().optional() }))).toThrow(/query of \/loose.*strictObject/);
    expect(route(z.strictObject({ q: z.string().optional() }))).not.toThrow();
  });
});

describe('validationError', () => {
  it('gives each unknown key an issue of its own, whose path is the key', () => {
    const result = z.strictObject({ name: z.string() }).safeParse({ name: 'x', nmae: 'y', extra: 1 });
    if (result.success) throw new Error('expected a failure');
    expect(validationError(result.error).details).toEqual({
      issues: [
        { path: 'nmae', code: 'unrecognized_keys', message: 'unknown field "nmae"' },
        { path: 'extra', code: 'unrecognized_keys', message: 'unknown field "extra"' },
      ],
    });
  });
});

describe('lineField', () => {
  it('checks the length as sent, then trims', () => {
    const field = lineField(5);
    expect(field.parse(' ab ')).toBe('ab');
    expect(field.safeParse('ab    ').success).toBe(false);
    expect(field.safeParse('   ').success).toBe(false);
  });
});
