import type { RouteHandler } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import { decodeCursor, takePage } from '../../lib/pagination.ts';
import { selectAuditLogPage, verifyAuditChain } from '../../services/audit.ts';
import type { listAuditLogs, verifyAuditLogs } from './audit-logs.routes.ts';
import { toAuditLog } from './audit-logs.schemas.ts';

/** One round trip: gate + one keyset query on the (org_id, seq) index. */
export const listAuditLogsHandler: RouteHandler<typeof listAuditLogs> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { limit, cursor, action, actorId, from, to } = c.req.valid('query');
  const after = cursor ? decodeCursor(cursor, z.tuple([z.number().int().positive()])) : undefined;
  const [rows] = await c.var.tenant.batch((db) => [selectAuditLogPage(db, { orgId, action, actorId, from, to }, { limit, after })]);
  const page = takePage(rows, limit, (row) => [row.seq]);
  return c.json({ data: page.items.map(toAuditLog), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

/** One round trip per 1,000 entries (each page is its own gated read). */
export const verifyAuditLogsHandler: RouteHandler<typeof verifyAuditLogs> = async (c) => {
  const { orgId } = c.req.valid('param');
  return c.json({ data: await verifyAuditChain(c.var.tenant, orgId) }, 200);
};
