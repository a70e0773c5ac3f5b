import type { HttpDatabase } from '../db/client.ts';
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
 * platform gate, whose RLS policy accepts entries only from the admin it entered).
 */
export function insertPlatformAuditEntry(db: HttpDatabase, actor: UserActor, meta: RequestMeta, entry: PlatformAuditEntry) {
  return db.insert(platformAuditLog).values({ actorId: actor.id, requestId: meta.requestId, ip: meta.ip, ...entry });
}
