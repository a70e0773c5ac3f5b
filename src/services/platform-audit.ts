import { and, eq, type SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { HttpDatabase, Schema } from '../db/client.ts';
import { platformAuditLog } from '../db/schema/index.ts';
import type { RequestMeta, UserActor } from '../db/tenant.ts';
import { keysetAfter, keysetOrderBy, type KeyPart, type PageRequest } from '../lib/pagination.ts';

export interface PlatformAuditEntry {
  /** `<target>.<verb>`, e.g. `flag.updated`, `org.tier_changed`. */
  action: string;
  targetType: string;
  targetId: string | null;
  /**
   * What changed: `{ field: { from, to } }`, or the created/deleted fields. Never secrets. SQL when only the
   * database knows the values before the change (e.g. `limitsChangeSql`, which reads them in the same batch).
   */
  changes: Record<string, unknown> | SQL<Record<string, unknown>>;
}

/**
 * Appends one platform audit entry; compose it into the same batch as the change it records (behind the
 * platform gate, whose RLS policy accepts entries only from the admin it entered): an HTTP batch, or an
 * interactive transaction when the change must first read what it changes.
 */
export function insertPlatformAuditEntry<H extends PgQueryResultHKT>(db: PgDatabase<H, Schema>, actor: UserActor, meta: RequestMeta, entry: PlatformAuditEntry) {
  return db.insert(platformAuditLog).values({ actorId: actor.id, requestId: meta.requestId, ip: meta.ip, ...entry });
}

// The id grows with every entry, so it is the whole key.
const newestFirst: KeyPart[] = [{ expression: platformAuditLog.id, direction: 'desc' }];

/** What narrows the platform audit log. */
export interface PlatformAuditFilter {
  action?: string;
  targetType?: string;
  targetId?: string;
}

/** A page of the platform audit log, newest first (`limit + 1` rows: see takePage); `after` is `[id]`. RLS shows it to platform admins only. */
export function selectPlatformAuditPage(db: HttpDatabase, filter: PlatformAuditFilter, page: PageRequest) {
  return db
    .select()
    .from(platformAuditLog)
    .where(
      and(
        filter.action ? eq(platformAuditLog.action, filter.action) : undefined,
        filter.targetType ? eq(platformAuditLog.targetType, filter.targetType) : undefined,
        filter.targetId ? eq(platformAuditLog.targetId, filter.targetId) : undefined,
        page.after ? keysetAfter(newestFirst, page.after) : undefined,
      ),
    )
    .orderBy(...keysetOrderBy(newestFirst))
    .limit(page.limit + 1);
}
