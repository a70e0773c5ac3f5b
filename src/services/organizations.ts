import { and, eq, gt, isNull, sql, type SQL } from 'drizzle-orm';
import type { HttpDatabase } from '../db/client.ts';
import { invitations, memberships, organizations } from '../db/schema/index.ts';
import { isUniqueViolation } from '../db/errors.ts';
import type { Actor, ScopedDatabase, UserActor } from '../db/tenant.ts';
import { ApiError } from '../errors.ts';
import { keysetAfter, keysetOrderBy, type KeyPart, type PageRequest } from '../lib/pagination.ts';
import type { OrgRole } from '../lib/permissions.ts';
import { orgUsageSql } from './quotas.ts';

/** Slugs: lower-case letters and digits in hyphen-separated words (3–48 characters overall). */
export const SLUG_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

const SLUG_MAX = 48;
const SUFFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A slug derived from an organization's name: accents dropped, anything else that is not a letter or a
 * digit becomes a hyphen. Names with too few Latin characters ("東京", "AB") get a random suffix.
 */
export function slugFromName(name: string): string {
  const base = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, SLUG_MAX - 7)
    .replace(/-+$/, '');
  if (base.length >= 3) return base;
  return withSlugSuffix(base || 'org');
}

/** `base` plus a short random suffix, for when the plain slug is taken. */
export function withSlugSuffix(base: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  const suffix = [...bytes].map((byte) => SUFFIX_ALPHABET[byte % SUFFIX_ALPHABET.length]).join('');
  return `${base.slice(0, SLUG_MAX - suffix.length - 1)}-${suffix}`;
}

export const SLUG_CONSTRAINT = 'organizations_slug_unique';

/**
 * Locks the organization row for the rest of the transaction. Every change to who owns the org takes
 * this lock first, so two such changes serialise: the second one's statements start after the first
 * committed and see its result (READ COMMITTED takes a fresh snapshot per statement). Without it, two
 * owners demoting each other would each still count two owners and leave none. `no key update` rather
 * than `update`: it still excludes itself, but not the key-share locks of foreign-key checks, so inserts
 * elsewhere in the org (projects, keys, an accepted invitation's membership) do not wait on it.
 */
export function lockOrganization(db: HttpDatabase, orgId: string) {
  return db.select({ id: organizations.id, name: organizations.name }).from(organizations).where(eq(organizations.id, orgId)).for('no key update');
}

/**
 * The caller's org role as SQL. API keys count as admins here: they may manage members and invite,
 * but never grant, change or remove the owner role.
 */
export function callerRoleSql(actor: Actor, orgId: string): SQL<OrgRole> {
  if (actor.type === 'api_key') return sql<OrgRole>`'admin'::org_role`;
  return sql<OrgRole>`(select c.role from memberships c where c.org_id = ${orgId} and c.user_id = ${actor.id})`;
}

/**
 * SQL: the number of active owners of the org, as the current statement sees it. A deactivated owner
 * cannot act, so they do not count: the last active owner may not leave an org to owners who cannot.
 */
export function ownerCountSql(orgId: string): SQL<number> {
  return sql<number>`(select count(*)::int from memberships o join credentials c on c.user_id = o.user_id and c.deactivated_at is null
    where o.org_id = ${orgId} and o.role = 'owner')`;
}

/**
 * Creates an organization owned by `actor`: the org and the owner membership in one transaction, one
 * round trip. The id is generated here so the user gate can admit exactly this new org (RLS's WITH
 * CHECK). A generated slug that is taken is retried with a random suffix; an explicit one is a 409.
 */
export async function createOrganization(account: ScopedDatabase<UserActor>, input: { name: string; slug?: string }) {
  const base = input.slug ?? slugFromName(input.name);
  const candidates = input.slug ? [input.slug] : [base, withSlugSuffix(base), withSlugSuffix(base)];
  for (const slug of candidates) {
    const id = crypto.randomUUID();
    try {
      // The second gate admits exactly this new org (RLS's WITH CHECK on the inserts).
      const [, [org]] = await account.batch((tx) => [
        tx.execute(account.check({ kind: 'user', newOrgId: id })),
        tx.insert(organizations).values({ id, name: input.name, slug }).returning(),
        tx.insert(memberships).values({ orgId: id, userId: account.actor.id, role: 'owner' }),
      ]);
      if (org) return org;
    } catch (error) {
      if (!isUniqueViolation(error, SLUG_CONSTRAINT)) throw error;
    }
  }
  throw input.slug ? slugTaken(input.slug) : new ApiError('CONFLICT', 'Could not find a free slug for this name; choose one.');
}

/** The 409 for a slug another organization holds. */
export function slugTaken(slug: string): ApiError {
  return new ApiError('CONFLICT', `The slug "${slug}" is already taken.`, { field: 'slug' });
}

/** The organization by id, unless deleted. */
const liveOrg = (orgId: string) => and(eq(organizations.id, orgId), isNull(organizations.deletedAt));

/** The caller's organizations by name, with their role in each. */
const myOrgsOrder: KeyPart[] = [
  { expression: organizations.name, direction: 'asc' },
  { expression: organizations.id, direction: 'asc' },
];

/** A page of `userId`'s live organizations with their role, by name (`limit + 1` rows: see takePage). */
export function selectMyOrgs(db: HttpDatabase, userId: string, page: PageRequest) {
  return db
    .select({ org: organizations, role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(and(eq(memberships.userId, userId), isNull(organizations.deletedAt), page.after && keysetAfter(myOrgsOrder, page.after)))
    .orderBy(...keysetOrderBy(myOrgsOrder))
    .limit(page.limit + 1);
}

export function selectOrg(db: HttpDatabase, orgId: string) {
  return db.select().from(organizations).where(liveOrg(orgId));
}

/** A live org's tier, limit overrides and what it holds of each quota (app_org_usage). */
export function selectOrgLimits(db: HttpDatabase, orgId: string) {
  return db
    .select({ tier: organizations.subscriptionTier, overrides: organizations.limitOverrides, usage: orgUsageSql(orgId), storageUsed: sql<string>`app_org_storage(${orgId}::uuid)` })
    .from(organizations)
    .where(liveOrg(orgId));
}

/** Renames and/or re-slugs a live org; returns the row after the change. */
export function updateOrg(db: HttpDatabase, orgId: string, changes: { name?: string; slug?: string }) {
  return db.update(organizations).set({ ...changes, updatedAt: sql`now()` }).where(liveOrg(orgId)).returning();
}

/** Soft-deletes a live org; returns its id if it was live. */
export function softDeleteOrg(db: HttpDatabase, orgId: string) {
  return db.update(organizations).set({ deletedAt: sql`now()` }).where(liveOrg(orgId)).returning({ id: organizations.id });
}

/** Revokes the org's pending invitations (invitation_accept refuses those of deleted orgs anyway; this keeps their status true). */
export function revokePendingInvitations(db: HttpDatabase, orgId: string) {
  return db
    .update(invitations)
    .set({ revokedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(invitations.orgId, orgId), isNull(invitations.acceptedAt), isNull(invitations.revokedAt), gt(invitations.expiresAt, sql`now()`)));
}
