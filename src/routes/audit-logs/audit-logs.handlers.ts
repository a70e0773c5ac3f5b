import type { RouteHandler } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import { and, eq, gte, lt } from 'drizzle-orm';
import { auditLogs } from '../../db/schema/index.ts';
import { decodeCursor, keysetAfter, keysetOrderBy, takePage, type KeyPart } from '../../lib/pagination.ts';
import { verifyAuditChain } from '../../services/audit.ts';
import type { listAuditLogs, verifyAuditLogs } from './audit-logs.routes.ts';
import { toAuditLog } from './audit-logs.schemas.ts';

// seq is unique per org, so it is the whole key.
const newestFirst: KeyPart[] = [{ expression: auditLogs.seq, direction: 'desc' }];

/** One round trip: gate + one keyset query on the (org_id, seq) index. */
export const listAuditLogsHandler: RouteHandler<typeof listAuditLogs> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { limit, cursor, action, actorId, from, to } = c.req.valid('query');
  const after = cursor ? decodeCursor(cursor, z.tuple([z.number().int().positive()])) : undefined;
  const [rows] = await c.var.tenant.batch((db) => [
    db
      .select()
      .from(auditLogs)
      .where(
        and(
          eq(auditLogs.orgId, orgId),
          action ? eq(auditLogs.action, action) : undefined,
          actorId ? eq(auditLogs.actorId, actorId) : undefined,
          from ? gte(auditLogs.createdAt, new Date(from)) : undefined,
          to ? lt(auditLogs.createdAt, new Date(to)) : undefined,
          after ? keysetAfter(newestFirst, after) : undefined,
        ),
      )
      .orderBy(...keysetOrderBy(newestFirst))
      .limit(limit + 1),
  ]);
  const page = takePage(rows, limit, (row) => [row.seq]);
  return c.json({ data: page.items.map(toAuditLog), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

/** One round trip per 1,000 entries (each page is its own gated read). */
export const verifyAuditLogsHandler: RouteHandler<typeof verifyAuditLogs> = async (c) => {
  const { orgId } = c.req.valid('param');
  c.header('Cache-Control', 'no-store');
  return c.json({ data: await verifyAuditChain(c.var.tenant, orgId) }, 200);
};
