import { z } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { projects } from '../../src/db/schema/index.ts';
import { ApiError } from '../../src/errors.ts';
import { decodeCursor, encodeCursor, escapeLike, keysetAfter, keysetOrderBy, paginationQuery, takePage } from '../../src/lib/pagination.ts';

const dialect = new PgDialect();
const render = (query: Parameters<PgDialect['sqlToQuery']>[0]) => dialect.sqlToQuery(query);
const cursorSchema = z.tuple([z.literal('name'), z.string(), z.uuid()]);

function cursorError(cursor: string): ApiError {
  try {
    decodeCursor(cursor, cursorSchema);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected decodeCursor to throw');
}

describe('cursors', () => {
  it('round-trip any JSON through an opaque, URL-safe string', () => {
    const key = ['name', 'ünïcode / + = ?', '0b9f5c9e-4a4e-4f8e-9c61-2f1f0b6a8d11'] as const;
    const cursor = encodeCursor(key);
    expect(cursor).toMatch(/^[\w-]+$/);
    expect(decodeCursor(cursor, cursorSchema)).toEqual(key);
  });

  it.each([
    ['not base64url', '!!!'],
    ['not JSON', btoa('{oops').replace(/=+$/, '')],
    ['the wrong shape', encodeCursor({ seq: 1 })],
    ['carrying NUL, which Postgres text cannot hold', encodeCursor(['name', 'a\u0000b', '0b9f5c9e-4a4e-4f8e-9c61-2f1f0b6a8d11'])],
    ['another sort', encodeCursor(['createdAt', '2025-01-01T00:00:00.000000Z', '0b9f5c9e-4a4e-4f8e-9c61-2f1f0b6a8d11'])],
    ['carrying a lone surrogate, which Postgres text cannot hold', encodeCursor(['name', 'a\ud800b', '0b9f5c9e-4a4e-4f8e-9c61-2f1f0b6a8d11'])],
    ['not even ASCII', 'a b\u00e9'],
  ])('reject a cursor that is %s with a 400 on the cursor field', (_, cursor) => {
    const error = cursorError(cursor);
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.status).toBe(400);
    expect(error.details).toEqual({ issues: [expect.objectContaining({ path: 'cursor' })] });
  });
});

describe('paginationQuery', () => {
  it('defaults limit to 20 and coerces query strings', () => {
    expect(paginationQuery.parse({})).toEqual({ limit: 20 });
    expect(paginationQuery.parse({ limit: '100', cursor: 'abc_-1' })).toEqual({ limit: 100, cursor: 'abc_-1' });
  });

  it.each([['0'], ['101'], ['1.5'], ['ten'], ['0x10'], ['1e1'], [' 16'], ['016'], ['+5'], ['']])('refuses limit=%s', (limit) => {
    expect(paginationQuery.safeParse({ limit }).success).toBe(false);
  });

  it('takes the cursor as an opaque string (decodeCursor judges it) but refuses an empty or oversized one', () => {
    expect(paginationQuery.safeParse({ cursor: 'a b' }).success).toBe(true);
    expect(paginationQuery.safeParse({ cursor: '' }).success).toBe(false);
    expect(paginationQuery.safeParse({ cursor: 'x'.repeat(1025) }).success).toBe(false);
  });

  it('refuses an unknown parameter, naming it', () => {
    const result = paginationQuery.safeParse({ limt: '5' });
    expect(result.error?.issues).toEqual([expect.objectContaining({ code: 'unrecognized_keys', keys: ['limt'] })]);
  });
});

describe('takePage', () => {
  const rows = [{ id: 1 }, { id: 2 }, { id: 3 }];

  it('keeps `limit` rows and points the cursor at the last one when an extra row proves there is more', () => {
    const page = takePage(rows, 2, (row) => [row.id]);
    expect(page.items).toEqual([{ id: 1 }, { id: 2 }]);
    expect(page.nextCursor).not.toBeNull();
    expect(decodeCursor(page.nextCursor ?? '', z.tuple([z.number()]))).toEqual([2]);
  });

  it('has no cursor on the last page, including an exactly full one', () => {
    expect(takePage(rows, 3, (row) => [row.id]).nextCursor).toBeNull();
    expect(takePage([], 3, (row: { id: number }) => [row.id])).toEqual({ items: [], nextCursor: null });
  });
});

describe('keyset SQL', () => {
  it('uses a row comparison when every part runs the same way', () => {
    const desc = [
      { expression: projects.createdAt, direction: 'desc' as const },
      { expression: projects.id, direction: 'desc' as const },
    ];
    const query = render(keysetAfter(desc, ['2025-01-01T00:00:00.000001Z', 'x']));
    expect(query.sql).toBe('("projects"."created_at", "projects"."id") < ($1, $2)');
    expect(query.params).toEqual(['2025-01-01T00:00:00.000001Z', 'x']);
    expect(render(sql.join(keysetOrderBy(desc), sql`, `)).sql).toBe('"projects"."created_at" desc, "projects"."id" desc');
    expect(render(keysetAfter([{ expression: projects.name, direction: 'asc' }], ['a'])).sql).toBe('("projects"."name") > ($1)');
  });

  it('expands mixed directions into (a after x) or (a = x and b after y)', () => {
    const mixed = [
      { expression: projects.name, direction: 'asc' as const },
      { expression: projects.id, direction: 'desc' as const },
    ];
    const query = render(keysetAfter(mixed, ['n', 'i']));
    expect(query.sql).toBe('("projects"."name" > $1 or ("projects"."name" = $2 and "projects"."id" < $3))');
    expect(query.params).toEqual(['n', 'n', 'i']);
  });

  it('needs one value per key part', () => {
    expect(() => keysetAfter([{ expression: projects.id, direction: 'asc' }], [])).toThrow();
  });
});

describe('escapeLike', () => {
  it('makes %, _ and \\ literal', () => {
    expect(escapeLike('50%_off\\')).toBe('50\\%\\_off\\\\');
    expect(escapeLike('plain')).toBe('plain');
  });
});
