import type { RouteHandler } from '@hono/zod-openapi';
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import { invitations, memberships, organizations } from '../../db/schema/index.ts';
import { createScopedDatabase, userActor } from '../../db/tenant.ts';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors.ts';
import { decodeCursor, keysetAfter, keysetOrderBy, takePage, type KeyPart } from '../../lib/pagination.ts';
import { requestMeta } from '../../middleware/auth.ts';
import { createOrganization, isUniqueViolation, SLUG_CONSTRAINT, slugTaken } from '../../services/organizations.ts';
import type { createOrg, deleteOrg, getOrg, listOrgs, updateOrg } from './orgs.routes.ts';
import { orgCursor, toOrganization } from './orgs.schemas.ts';

/** One round trip (two only if a generated slug collides): the org and the owner membership together. */
export const createOrgHandler: RouteHandler<typeof createOrg, AppEnv> = async (c) => {
  const org = await createOrganization(c.var.db, userActor(c.var.actor), requestMeta(c), c.req.valid('json'));
  return c.json({ data: toOrganization(org, 'owner') }, 201);
};

const orgOrder: KeyPart[] = [
  { expression: organizations.name, direction: 'asc' },
  { expression: organizations.id, direction: 'asc' },
];

/** One round trip: the user gate (session check) and the page. */
export const listOrgsHandler: RouteHandler<typeof listOrgs, AppEnv> = async (c) => {
  const actor = userActor(c.var.actor);
  const { limit, cursor } = c.req.valid('query');
  const after = cursor === undefined ? undefined : decodeCursor(cursor, orgCursor);
  const scoped = createScopedDatabase(c.var.db, actor, requestMeta(c), { kind: 'user' });
  const [rows] = await scoped.batch((db) => [
    db
      .select({ org: organizations, role: memberships.role })
      .from(memberships)
      .innerJoin(organizations, eq(organizations.id, memberships.orgId))
      .where(
        and(
          eq(memberships.userId, actor.id),
          isNull(organizations.deletedAt),
          after && keysetAfter(orgOrder, after),
        ),
      )
      .orderBy(...keysetOrderBy(orgOrder))
      .limit(limit + 1),
  ]);
  const page = takePage(rows, limit, (row) => [row.org.name, row.org.id]);
  return c.json({ data: page.items.map((row) => toOrganization(row.org, row.role)), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

/** One round trip: gate and read. */
export const getOrgHandler: RouteHandler<typeof getOrg, AppEnv> = async (c) => {
  const { orgId } = c.req.valid('param');
  const [[org]] = await c.var.tenant.batch((db) => [db.select().from(organizations).where(and(eq(organizations.id, orgId), isNull(organizations.deletedAt)))]);
  if (!org) throw new ApiError('NOT_FOUND', 'Organization not found.');
  return c.json({ data: toOrganization(org, c.var.tenant.role) }, 200);
};

/** One round trip: gate and update (or, for an empty body, gate and read). */
export const updateOrgHandler: RouteHandler<typeof updateOrg, AppEnv> = async (c) => {
  const { orgId } = c.req.valid('param');
  const changes = c.req.valid('json');
  const target = and(eq(organizations.id, orgId), isNull(organizations.deletedAt));
  const hasChanges = changes.name !== undefined || changes.slug !== undefined;
  const [rows] = await c.var.tenant
    .batch((db) => [
      hasChanges
        ? db.update(organizations).set({ ...changes, updatedAt: sql`now()` }).where(target).returning()
        : db.select().from(organizations).where(target),
    ])
    .catch((error: unknown) => {
      throw changes.slug !== undefined && isUniqueViolation(error, SLUG_CONSTRAINT) ? slugTaken(changes.slug) : error;
    });
  const org = rows[0];
  if (!org) throw new ApiError('NOT_FOUND', 'Organization not found.');
  return c.json({ data: toOrganization(org, c.var.tenant.role) }, 200);
};

/** One round trip: gate, soft delete, and revocation of the pending invitations, in one transaction. */
export const deleteOrgHandler: RouteHandler<typeof deleteOrg, AppEnv> = async (c) => {
  const { orgId } = c.req.valid('param');
  const [deleted] = await c.var.tenant.batch((db) => [
    db.update(organizations).set({ deletedAt: sql`now()` }).where(and(eq(organizations.id, orgId), isNull(organizations.deletedAt))).returning({ id: organizations.id }),
    // invitation_accept refuses invitations of deleted orgs anyway; revoking them keeps their status true.
    db
      .update(invitations)
      .set({ revokedAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(eq(invitations.orgId, orgId), isNull(invitations.acceptedAt), isNull(invitations.revokedAt), gt(invitations.expiresAt, sql`now()`))),
  ]);
  if (deleted.length === 0) throw new ApiError('NOT_FOUND', 'Organization not found.');
  return c.body(null, 204);
};
