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
 *   const after = cursor ? decodeCursor(cursor, z.tuple([z.iso.datetime(), z.uuid()])) : undefined;
 *   db.select({ row: apiKeys, keyText: exactTimestamp(apiKeys.createdAt) }).from(apiKeys)
 *     .where(and(...filters, after ? keysetAfter(key, after) : undefined)).orderBy(...keysetOrderBy(key)).limit(limit + 1)
 *   const page = takePage(rows, limit, (r) => [r.keyText, r.row.id]);
 *   return c.json({ data: page.items.map(toX), meta: { nextCursor: page.nextCursor, limit } }, 200);
 *
 * A cursor is client input: validate its shape with a zod schema strict enough that no value can make the
 * SQL fail (e.g. `z.iso.datetime()` for a timestamp). When a list has several sorts, put the sort in the
 * cursor and make the schema accept only the current one (see routes/projects/projects.list.ts), so a
 * cursor never continues a different order. Filters may change between pages; the key alone fixes the position.
 *
 * Timestamps: JS Dates hold milliseconds but Postgres keeps microseconds, so select the key with
 * `exactTimestamp(column)` and put that text in the cursor, never `Date#toISOString()`.
 */

/** `limit` and `cursor`, for a list's query schema: `paginationQuery.extend({ …filters })`. */
export const paginationQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(20)
    .openapi({ param: { name: 'limit', in: 'query' }, description: 'Page size, 1–100.', example: 20 }),
  cursor: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[\w-]+$/, 'must be a cursor returned by this list')
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' }, description: 'Opaque: `meta.nextCursor` of the previous page.' }),
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
    // Cursor values become SQL parameters, and Postgres text cannot hold NUL: refuse rather than fail there.
    if (text.includes('\\u0000') || text.includes('\u0000')) throw invalidCursor();
    value = JSON.parse(text);
  } catch {
    throw invalidCursor();
  }
  const result = schema.safeParse(value);
  if (!result.success) throw invalidCursor();
  return result.data;
}

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
