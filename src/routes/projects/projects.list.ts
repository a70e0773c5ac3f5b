import type { RouteHandler } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import { decodeCursor, takePage } from '../../lib/pagination.ts';
import { selectProjectPage } from '../../services/projects.ts';
import type { listProjects } from './projects.routes.ts';
import { toProject, type ProjectSort } from './projects.schemas.ts';

/** How a sort's key text (the cursor's second part) must look (a forged cursor must not reach a SQL cast). */
interface SortSpec {
  keyTextSchema: z.ZodType<string>;
}

const byCreatedAt: SortSpec = {
  keyTextSchema: z.iso.datetime(),
};

const byName: SortSpec = {
  keyTextSchema: z.string().max(1000),
};

const sorts: Record<ProjectSort, SortSpec> = {
  createdAt: byCreatedAt,
  '-createdAt': byCreatedAt,
  name: byName,
  '-name': byName,
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
  const filter = { orgId, q, createdAfter, createdBefore };
  const [rows] = await c.var.tenant.batch((db) => [selectProjectPage(db, c.var.actor, filter, { sort, limit, after: after && [after[1], after[2]] })]);
  const page = takePage(rows, limit, (row) => [sort, row.keyText, row.project.id]);
  return c.json({ data: page.items.map((row) => toProject(row.project)), meta: { nextCursor: page.nextCursor, limit } }, 200);
};
