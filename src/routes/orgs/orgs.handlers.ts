import type { RouteHandler } from '@hono/zod-openapi';
import { isUniqueViolation } from '../../db/errors.ts';
import { ApiError } from '../../errors.ts';
import { orgDeleted } from '../../middleware/room-changes.ts';
import { decodeCursor, takePage } from '../../lib/pagination.ts';
import {
  createOrganization,
  revokePendingInvitations,
  selectMyOrgs,
  selectOrg,
  SLUG_CONSTRAINT,
  slugTaken,
  softDeleteOrg,
  updateOrg,
} from '../../services/organizations.ts';
import type { createOrg, deleteOrg, getOrg, listOrgs, updateOrg as updateOrgRoute } from './orgs.routes.ts';
import { orgCursor, toOrganization } from './orgs.schemas.ts';

const orgNotFound = () => new ApiError('NOT_FOUND', 'Organization not found.');

/** One round trip (two only if a generated slug collides): the org and the owner membership together. */
export const createOrgHandler: RouteHandler<typeof createOrg> = async (c) => {
  const org = await createOrganization(c.var.account, c.req.valid('json'));
  return c.json({ data: toOrganization(org, 'owner') }, 201);
};

/** One round trip: the user gate (session check) and the page. */
export const listOrgsHandler: RouteHandler<typeof listOrgs> = async (c) => {
  const { limit, cursor } = c.req.valid('query');
  const after = cursor === undefined ? undefined : decodeCursor(cursor, orgCursor);
  const [rows] = await c.var.account.batch((db) => [selectMyOrgs(db, c.var.actor.id, { limit, after })]);
  const page = takePage(rows, limit, (row) => [row.org.name, row.org.id]);
  return c.json({ data: page.items.map((row) => toOrganization(row.org, row.role)), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

/** One round trip: gate and read. */
export const getOrgHandler: RouteHandler<typeof getOrg> = async (c) => {
  const [[org]] = await c.var.tenant.batch((db) => [selectOrg(db, c.req.valid('param').orgId)]);
  if (!org) throw orgNotFound();
  return c.json({ data: toOrganization(org, c.var.tenant.role) }, 200);
};

/** One round trip: gate and update (or, for an empty body, gate and read). */
export const updateOrgHandler: RouteHandler<typeof updateOrgRoute> = async (c) => {
  const { orgId } = c.req.valid('param');
  const changes = c.req.valid('json');
  const hasChanges = changes.name !== undefined || changes.slug !== undefined;
  const [[org]] = await c.var.tenant
    .batch((db) => [hasChanges ? updateOrg(db, orgId, changes) : selectOrg(db, orgId)])
    .catch((error: unknown) => {
      throw changes.slug !== undefined && isUniqueViolation(error, SLUG_CONSTRAINT) ? slugTaken(changes.slug) : error;
    });
  if (!org) throw orgNotFound();
  return c.json({ data: toOrganization(org, c.var.tenant.role) }, 200);
};

/** One round trip: gate, soft delete, and revocation of the pending invitations, in one transaction. */
export const deleteOrgHandler: RouteHandler<typeof deleteOrg> = async (c) => {
  const { orgId } = c.req.valid('param');
  const [deleted] = await c.var.tenant.batch((db) => [softDeleteOrg(db, orgId), revokePendingInvitations(db, orgId)]);
  if (deleted.length === 0) throw orgNotFound();
  await orgDeleted(c, orgId);
  return c.body(null, 204);
};
