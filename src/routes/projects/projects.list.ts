import type { RouteHandler } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import { and, eq, gte, ilike, isNull, lt, sql, type SQL } from 'drizzle-orm';
import { projects } from '../../db/schema/index.ts';
import { cursorTimestamp } from '../../lib/fields.ts';
import { decodeCursor, escapeLike, exactTimestamp, keysetAfter, keysetOrderBy, takePage, type KeyPart } from '../../lib/pagination.ts';
import type { listProjects } from './projects.routes.ts';
import { toProject, type ProjectSort } from './projects.schemas.ts';

interface SortSpec {
  key: KeyPart[];
  /** The first key part as text, selected with each row for its cursor. */
  keyText: SQL<string>;
  /** What that text must look like in a cursor (a forged cursor must not reach a SQL cast). */
  keyTextSchema: z.ZodType<string>;
}

const byCreatedAt = (direction: 'asc' | 'desc'): SortSpec => ({
  key: [
    { expression: projects.createdAt, direction },
    { expression: projects.id, direction },
  ],
  keyText: exactTimestamp(projects.createdAt),
  keyTextSchema: cursorTimestamp,
});

const lowerName = sql`lower(${projects.name})`;
const byName = (direction: 'asc' | 'desc'): SortSpec => ({
  key: [
    { expression: lowerName, direction },
    { expression: projects.id, direction },
  ],
  keyText: sql<string>`lower(${projects.name})`,
  keyTextSchema: z.string().max(1000),
});

const sorts: Record<ProjectSort, SortSpec> = {
  createdAt: byCreatedAt('asc'),
  '-createdAt': byCreatedAt('desc'),
  name: byName('asc'),
  '-name': byName('desc'),
};

/**
 * One round trip: gate + one keyset query. The cursor is `[sort, keyText, id]`; it only continues the
 * sort it was made for. Filters may differ between pages (the key alone fixes the position).
 */
export const listProjectsHandler: RouteHandler<typeof listProjects> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { limit, cursor, q, createdAfter, createdBefore, sort } = c.req.valid('query');
  const spec = sorts[sort];
  const after = cursor ? decodeCursor(cursor, z.tuple([z.literal(sort), spec.keyTextSchema, z.uuid()])) : undefined;
  const actor = c.var.actor;
  const conditions = [
    // RLS already limits rows to the org; saying so lets the planner use the (org_id, …) indexes.
    eq(projects.orgId, orgId),
    isNull(projects.deletedAt),
    // A key limited to one project sees only that project, even in lists.
    actor.type === 'api_key' && actor.projectId ? eq(projects.id, actor.projectId) : undefined,
    q ? ilike(projects.name, `%${escapeLike(q)}%`) : undefined,
    createdAfter ? gte(projects.createdAt, new Date(createdAfter)) : undefined,
    createdBefore ? lt(projects.createdAt, new Date(createdBefore)) : undefined,
    after ? keysetAfter(spec.key, [after[1], after[2]]) : undefined,
  ];
  const [rows] = await c.var.tenant.batch((db) => [
    db
      .select({ project: projects, keyText: spec.keyText })
      .from(projects)
      .where(and(...conditions))
      .orderBy(...keysetOrderBy(spec.key))
      .limit(limit + 1),
  ]);
  const page = takePage(rows, limit, (row) => [sort, row.keyText, row.project.id]);
  return c.json({ data: page.items.map((row) => toProject(row.project)), meta: { nextCursor: page.nextCursor, limit } }, 200);
};
