import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { Schema } from '../db/client.ts';
import { platformAuditLog } from '../db/schema/index.ts';
import type { RequestMeta, UserActor } from '../db/tenant.ts';

export interface PlatformAuditEntry {
  /** `<target>.<verb>`, e.g. `flag.updated`, `org.tier_changed`. */
  action: string;
  targetType: string;
  targetId: string | null;
  /** What changed: `{ field: { from, to } }`, or the created/deleted fields. Never secrets. */
  changes: Record<string, unknown>;
}

/**
 * Appends one platform audit entry; compose it into the same batch as the change it records (behind the
 * platform gate, whose RLS policy accepts entries only from the admin it entered): an HTTP batch, or an
 * interactive transaction when the change must first read what it changes.
 */
export function insertPlatformAuditEntry<H extends PgQueryResultHKT>(db: PgDatabase<H, Schema>, actor: UserActor, meta: RequestMeta, entry: PlatformAuditEntry) {
  return db.insert(platformAuditLog).values({ actorId: actor.id, requestId: meta.requestId, ip: meta.ip, ...entry });
}
