import { z as openapiZ } from '@hono/zod-openapi';
import { describe, expect, it } from 'vitest';
import * as zod from 'zod';
// zod's own classic entry point, locales and all (vitest.config.ts aliases exactly `zod`, not its subpaths).
import * as upstream from 'zod/v4';
import * as entry from '../../src/lib/zod-entry/index.ts';

const withoutLocales = (names: string[]) => names.filter((name) => name !== 'locales').sort();

describe('zod entry point (src/lib/zod-entry, what `zod` is in the bundle)', () => {
  it('exports exactly what zod does, less locales, at the top and in `core`', () => {
    expect(Object.keys(entry).sort()).toEqual(withoutLocales(Object.keys(upstream)));
    expect(Object.keys(entry.z).sort()).toEqual(withoutLocales(Object.keys(upstream.z)));
    expect(Object.keys(entry.core).sort()).toEqual(withoutLocales(Object.keys(upstream.core)));
    expect(upstream.core).toHaveProperty('locales');
  });

  it('is zod itself: the same classes, registry and config, not a second copy', () => {
    expect(entry.ZodType).toBe(upstream.ZodType);
    expect(entry.ZodObject).toBe(upstream.ZodObject);
    expect(entry.core.$ZodType).toBe(upstream.core.$ZodType);
    expect(entry.globalRegistry).toBe(upstream.globalRegistry);
    expect(entry.config).toBe(upstream.config);
    expect(entry.string()).toBeInstanceOf(upstream.ZodString);
  });

  it('is what `zod` resolves to here, for our code and for @hono/zod-openapi alike, as in the Worker bundle', () => {
    expect(zod.z).toBe(entry.z);
    expect(openapiZ).toBe(entry.z);
    expect(Object.keys(openapiZ)).not.toContain('locales');
    expect(Object.keys(openapiZ.core)).not.toContain('locales');
    // @hono/zod-openapi extended this very zod: `.openapi()` is there on schemas built from our imports.
    expect(typeof zod.z.string().openapi).toBe('function');
  });

  it('keeps the English messages, which zod installs from its en locale itself', () => {
    const result = zod.z.strictObject({ name: zod.z.string().min(2), age: zod.z.int() }).safeParse({ name: 'a', age: 1.5, x: 1 });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([
      'Too small: expected string to have >=2 characters',
      'Invalid input: expected int, received number',
      'Unrecognized key: "x"',
    ]);
  });
});
