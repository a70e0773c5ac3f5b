import { z } from '@hono/zod-openapi';
import { and, asc, desc, eq, gt, lt, or, sql, type AnyColumn, type SQL, type SQLWrapper } from 'drizzle-orm';
import { ApiError } from '../errors.ts';
import { base64url, fromBase64url } from './crypto.ts';

/**
 * Keyset (cursor) pagination for every list endpoint.
 *
 * A list is ordered by a *key*: one or more non-null expressions, the last of them unique (the id), so
 * the order is total. A page is the first `limit` rows strictly after the cursor in that order, and the
 * cursor is the key of a page's last row. Unlike offsets this is stable under inserts and deletes
 * between pages (no duplicates, no gaps) and costs the same on page 1000 as on page 1.
 *
 * Usage, split between a service's query builder and its handler (see selectApiKeyPage in services/api-keys.ts and routes/api-keys/api-keys.handlers.ts):
 *   const key: KeyPart[] = [{ expression: apiKeys.createdAt, direction: 'desc' }, { expression: apiKeys.id, direction: 'desc' }];
 *   const after = cursor ? decodeCursor(cursor, apiKeyCursor) : undefined;   // z.tuple([cursorTimestamp, z.uuid()])
 *   db.select({ row: apiKeys, keyText: exactTimestamp(apiKeys.createdAt) }).from(apiKeys)
 *     .where(and(...filters, after ? keysetAfter(key, after) : undefined)).orderBy(...keysetOrderBy(key)).limit(limit + 1)
 *   const page = takePage(rows, limit, (r) => [r.keyText, r.row.id]);
 *   return c.json({ data: page.items.map(toX), meta: { nextCursor: page.nextCursor, limit } }, 200);
 *
 * A cursor is client input: validate its shape with a zod schema strict enough that no value can make the
 * SQL fail (e.g. `cursorTimestamp` from lib/fields.ts for a timestamp: year 0000 is valid ISO but not
 * a Postgres timestamp). Keep it in the resource's schemas file, next to the list's query schema. When a list has several sorts, put the sort in the
 * cursor and make the schema accept only the current one (see routes/projects/projects.list.ts), so a
 * cursor never continues a different order. Filters may change between pages; the key alone fixes the position.
 *
 * Timestamps: JS Dates hold milliseconds but Postgres keeps microseconds, so select the key with
 * `exactTimestamp(column)` and put that text in the cursor, never `Date#toISOString()`.
 */

/** 1–100 in decimal digits, no sign, no leading zero: `0x10`, `1e1`, ` 5` and `05` are refused, not read as numbers. */
export const LIMIT_PATTERN = /^(?:[1-9]\d?|100)$/;

/**
 * `limit` and `cursor`, for a list's query schema: `paginationQuery.extend({ …filters })`. Strict, like
 * every query schema: an unknown parameter is a 400 naming it (`?limt=5` must not quietly mean 20).
 */
export const paginationQuery = z.strictObject({
  limit: z
    .string()
    .regex(LIMIT_PATTERN, 'must be a whole number from 1 to 100, in digits')
    .default('20')
    .transform(Number)
    .openapi({ param: { name: 'limit', in: 'query' }, description: 'Page size, 1–100 (decimal digits).', example: '20' }),
  cursor: z
    .string()
    .min(1)
    .max(1024)
    .optional()
    .openapi({
      param: { name: 'cursor', in: 'query' },
      description: 'Opaque: pass `meta.nextCursor` of the previous page unchanged. Any other value is a 400.',
    }),
});

/** `meta` of every list response. `nextCursor` is null on the last page. */
export const listMetaSchema = z
  .object({ nextCursor: z.string().nullable(), limit: z.number().int() })
  .openapi('ListMeta');

/** The list envelope: `{ data: T[], meta: { nextCursor, limit } }`. */
export function listEnvelope<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), meta: listMetaSchema });
}

/** Encodes any JSON value as an opaque, URL-safe cursor. */
export function encodeCursor(value: unknown): string {
  return base64url(new TextEncoder().encode(JSON.stringify(value)));
}

/**
 * Decodes a cursor made by `encodeCursor` and validates it with `schema` (a cursor is client input:
 * it may be forged, truncated, or from another list). Anything else is a 400 on the `cursor` field.
 */
export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(fromBase64url(cursor));
    value = JSON.parse(text, refuseUnstorableText);
  } catch {
    throw invalidCursor();
  }
  const result = schema.safeParse(value);
  if (!result.success) throw invalidCursor();
  return result.data;
}

// Cursor values become SQL parameters, and Postgres text holds neither NUL nor a lone surrogate (which
// JSON can spell as `\u0000`, `\ud800`): refuse them here rather than fail in the database.
function refuseUnstorableText(_key: string, value: unknown): unknown {
  if (typeof value === 'string' && (value.includes('\u0000') || LONE_SURROGATE.test(value))) throw new SyntaxError('unstorable text');
  return value;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The 400 for a cursor that does not belong to this list (or to this sort order). */
export function invalidCursor(): ApiError {
  return new ApiError('VALIDATION_FAILED', 'Request validation failed.', {
    issues: [{ path: 'cursor', code: 'invalid_cursor', message: 'must be a cursor returned by this list, with the same sort' }],
  });
}

export type Direction = 'asc' | 'desc';

/** One part of a sort key: a column or SQL expression that is never null, and its direction. */
export interface KeyPart {
  expression: AnyColumn | SQLWrapper;
  direction: Direction;
}

/** ORDER BY terms for a key. */
export function keysetOrderBy(key: readonly KeyPart[]): SQL[] {
  return key.map((part) => (part.direction === 'asc' ? asc(part.expression) : desc(part.expression)));
}

/**
 * The condition "strictly after `values` in the key's order". Values are compared as untyped
 * parameters, so Postgres casts them to each expression's type (text → timestamptz, uuid …).
 * When every part has the same direction this is a row comparison, which an index on the key serves.
 */
export function keysetAfter(key: readonly KeyPart[], values: readonly unknown[]): SQL {
  if (key.length === 0 || key.length !== values.length) throw new Error('keysetAfter: one value per key part');
  const param = (value: unknown) => sql`${value}`;
  const direction = key[0]?.direction;
  if (key.every((part) => part.direction === direction)) {
    const columns = sql.join(key.map((part) => sql`${part.expression}`), sql`, `);
    const params = sql.join(values.map(param), sql`, `);
    return direction === 'asc' ? sql`(${columns}) > (${params})` : sql`(${columns}) < (${params})`;
  }
  // Mixed directions: (a after x) or (a = x and b after y) or …
  const branches = key.map((part, index) => {
    const equalBefore = key.slice(0, index).map((earlier, i) => eq(earlier.expression, param(values[i])));
    const after = part.direction === 'asc' ? gt(part.expression, param(values[index])) : lt(part.expression, param(values[index]));
    return and(...equalBefore, after);
  });
  return or(...branches) ?? sql`false`;
}

/**
 * Turns `limit + 1` fetched rows into a page: the first `limit` rows, and a cursor (the key of the last
 * one, from `keyOf`) only when the extra row proves there is more.
 */
export function takePage<T>(rows: readonly T[], limit: number, keyOf: (row: T) => unknown): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

/**
 * A timestamp as exact UTC text with microseconds (`2025-01-02T03:04:05.123456Z`): the form to select
 * for a cursor, because a JS Date would round it to milliseconds and break ties between rows.
 */
export function exactTimestamp(column: AnyColumn | SQLWrapper): SQL<string> {
  return sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** Escapes `%`, `_` and `\` so user text matches literally inside a LIKE / ILIKE pattern. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}

/**
 * What a service's page builder takes: the page size, and the key of the previous page's last row (the
 * decoded cursor's position). The builder fetches `limit + 1` rows, for `takePage`.
 */
export interface PageRequest {
  limit: number;
  after?: readonly unknown[];
}
