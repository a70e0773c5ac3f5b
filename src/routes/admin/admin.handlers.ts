import type { RouteHandler } from '@hono/zod-openapi';
import { ApiError } from '../../errors.ts';
import { decodeCursor, takePage } from '../../lib/pagination.ts';
import { requestMeta } from '../../middleware/request-meta.ts';
import { reportGrantsChanged } from '../../middleware/edge-changes.ts';
import { insertPlatformAuditEntry, selectPlatformAuditPage } from '../../services/platform-audit.ts';
import { limitsChangeSql, selectPlatformOrg, selectPlatformOrgPage, setOrgLimits } from '../../services/platform-orgs.ts';
import type { getAdminOrg, listAdminOrgs, listPlatformAudit, updateAdminOrg } from './admin.routes.ts';
import { adminOrgCursor, platformAuditCursor, toAdminOrg, toAdminOrgDetail, toPlatformAuditEntry } from './admin.schemas.ts';

const orgNotFound = () => new ApiError('NOT_FOUND', 'Organization not found.');

/** One round trip: the platform gate and one keyset page through platform_org_page. */
export const listAdminOrgsHandler: RouteHandler<typeof listAdminOrgs> = async (c) => {
  const { limit, cursor, tier, q } = c.req.valid('query');
  const after = cursor === undefined ? undefined : decodeCursor(cursor, adminOrgCursor);
  const [{ rows }] = await c.var.platform.batch((db) => [selectPlatformOrgPage(db, { tier, q }, { limit, after })]);
  const page = takePage(rows, limit, (row) => [row.created_at, row.id]);
  return c.json({ data: page.items.map(toAdminOrg), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

/** One round trip: the platform gate and the org with its usage. */
export const getAdminOrgHandler: RouteHandler<typeof getAdminOrg> = async (c) => {
  const [{ rows }] = await c.var.platform.batch((db) => [selectPlatformOrg(db, c.req.valid('param').orgId)]);
  const row = rows[0];
  if (!row) throw orgNotFound();
  return c.json({ data: toAdminOrgDetail(row) }, 200);
};

/**
 * One round trip, one transaction: the platform gate, the platform audit entry (its `changes` read from the
 * locked org row; an unknown org rolls it back with a 404), the change, and the org as it now is. Then the
 * edge hears of the new limits.
 */
export const updateAdminOrgHandler: RouteHandler<typeof updateAdminOrg> = async (c) => {
  const { orgId } = c.req.valid('param');
  const change = c.req.valid('json');
  const { platform } = c.var;
  if (change.subscriptionTier === undefined && change.limitOverrides === undefined) {
    const [{ rows }] = await platform.batch((db) => [selectPlatformOrg(db, orgId)]);
    if (!rows[0]) throw orgNotFound();
    return c.json({ data: toAdminOrgDetail(rows[0]) }, 200);
  }
  const entry = { action: 'org.limits_changed', targetType: 'organization', targetId: orgId, changes: limitsChangeSql(orgId, change) };
  const [, , { rows }] = await platform.batch((db) => [
    insertPlatformAuditEntry(db, platform.actor, requestMeta(c), entry),
    setOrgLimits(db, orgId, change),
    selectPlatformOrg(db, orgId),
  ]);
  const row = rows[0];
  if (!row) throw orgNotFound();
  // The org's edge authority holds its tier and overrides: it must take the new figures from the next request.
  await reportGrantsChanged(c, [row.id]);
  return c.json({ data: toAdminOrgDetail(row) }, 200);
};

/** One round trip: the platform gate and one keyset page (RLS shows the log to platform admins only). */
export const listPlatformAuditHandler: RouteHandler<typeof listPlatformAudit> = async (c) => {
  const { limit, cursor, action, targetType, targetId } = c.req.valid('query');
  const after = cursor === undefined ? undefined : decodeCursor(cursor, platformAuditCursor);
  const [rows] = await c.var.platform.batch((db) => [selectPlatformAuditPage(db, { action, targetType, targetId }, { limit, after })]);
  const page = takePage(rows, limit, (row) => [row.id]);
  return c.json({ data: page.items.map(toPlatformAuditEntry), meta: { nextCursor: page.nextCursor, limit } }, 200);
};
