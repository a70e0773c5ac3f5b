import type { RouteHandler } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import { cursorTimestamp } from '../../lib/fields.ts';
import { decodeCursor, takePage } from '../../lib/pagination.ts';
import { selectProjectPage } from '../../services/projects.ts';
import type { listProjects } from './projects.routes.ts';
import { toProject, type ProjectSort } from './projects.schemas.ts';

/** How each sort's key text (the cursor's second part) must look: a forged cursor must not reach a SQL cast. */
const keyTextSchemas: Record<ProjectSort, z.ZodType<string>> = {
  createdAt: cursorTimestamp,
  '-createdAt': cursorTimestamp,
  name: z.string().max(1000),
  '-name': z.string().max(1000),
};

/**
 * One round trip: gate + one keyset query. The cursor is `[sort, keyText, id]`; it only continues the
 * sort it was made for. Filters may differ between pages (the key alone fixes the position).
 */
export const listProjectsHandler: RouteHandler<typeof listProjects> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { limit, cursor, q, createdAfter, createdBefore, sort } = c.req.valid('query');
  const after = cursor ? decodeCursor(cursor, z.tuple([z.literal(sort), keyTextSchemas[sort], z.uuid()])) : undefined;
  const filter = { orgId, q, createdAfter, createdBefore };
  const [rows] = await c.var.tenant.batch((db) => [selectProjectPage(db, c.var.actor, filter, { sort, limit, after: after && [after[1], after[2]] })]);
  const page = takePage(rows, limit, (row) => [sort, row.keyText, row.project.id]);
  return c.json({ data: page.items.map((row) => toProject(row.project)), meta: { nextCursor: page.nextCursor, limit } }, 200);
};
