import { sql } from 'drizzle-orm';
import type { HttpDatabase } from '../db/client.ts';
import { escapeLike, type PageRequest } from '../lib/pagination.ts';
import type { LimitOverrides, QuotaResource, Tier } from '../lib/limits.ts';

// Platform admins reach orgs across tenants only through the SECURITY DEFINER functions of
// src/db/sql/platform-orgs.sql, which refuse anyone the platform gate did not enter. These builders call them.

/** An org as the platform functions return it (times as exact UTC text). */
export interface PlatformOrgRow extends Record<string, unknown> {
  id: string;
  name: string;
  slug: string;
  subscription_tier: Tier;
  limit_overrides: unknown;
  created_at: string;
  updated_at: string;
}

export interface PlatformOrgFilter {
  tier?: Tier;
  /** Case-insensitive substring of the slug or the name; `%` and `_` match literally. */
  q?: string;
}

/** A page of live orgs, newest first (`limit + 1` rows: see takePage); `page.after` is `[createdAt, id]`. */
export function selectPlatformOrgPage(db: HttpDatabase, filter: PlatformOrgFilter, page: PageRequest) {
  const pattern = filter.q === undefined ? null : `%${escapeLike(filter.q)}%`;
  const [afterAt, afterId] = page.after ?? [null, null];
  return db.execute<PlatformOrgRow>(
    sql`select * from platform_org_page(${filter.tier ?? null}, ${pattern}, ${afterAt}::timestamptz, ${afterId}::uuid, ${page.limit + 1})`,
  );
}

/** An org with what it holds: per quota, and the bytes it stores. */
export type PlatformOrgOverview = PlatformOrgRow & { usage: Record<QuotaResource, number> & { storageBytes: number | string } };

/** One live org with its usage (no row if there is none). */
export function selectPlatformOrg(db: HttpDatabase, orgId: string) {
  return db.execute<PlatformOrgOverview>(sql`select * from platform_org_get(${orgId}::uuid)`);
}

export interface LimitsChange {
  subscriptionTier?: Tier;
  /** Replaces the org's overrides as a whole; `{}` clears them. */
  limitOverrides?: LimitOverrides;
}

const changeArgs = (orgId: string, change: LimitsChange) =>
  sql`${orgId}::uuid, ${change.subscriptionTier ?? null}::text, ${change.limitOverrides === undefined ? null : JSON.stringify(change.limitOverrides)}::jsonb`;

/**
 * SQL: what `change` would change, `{ field: { from, to } }`, for the platform audit entry written first in the
 * same batch; it locks the org row (404 for an unknown org), so the update that follows applies to what it read.
 */
export function limitsChangeSql(orgId: string, change: LimitsChange) {
  return sql<Record<string, unknown>>`platform_org_limit_changes(${changeArgs(orgId, change)})`;
}

/** Applies `change` to a live org (after `limitsChangeSql` in the same batch). */
export function setOrgLimits(db: HttpDatabase, orgId: string, change: LimitsChange) {
  return db.execute(sql`select platform_org_set_limits(${changeArgs(orgId, change)})`);
}
