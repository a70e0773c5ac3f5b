import { and, eq, isNull, sql } from 'drizzle-orm';
import type { HttpDatabase } from '../db/client.ts';
import { files } from '../db/schema/index.ts';
import { auditEvent } from './audit.ts';

/** What a signed download URL grants, as its audit entry records it (never the signature). */
export interface DownloadGrant {
  fileId: string;
  /** Unix seconds. */
  expires: number;
  disposition: 'inline' | 'attachment' | undefined;
}

/**
 * `file.url_signed`: anyone holding the URL may download the file until it expires, so issuing one is audited
 * like a change. Recorded only if the file is live and ready (what the handler then checks before signing), in
 * the batch that reads it. A signed upload URL needs no such entry: it inserts the pending file row, whose
 * `file.created` entry (the trigger's) holds its `expires_at`.
 */
export function auditDownloadUrlSigned(db: HttpDatabase, grant: DownloadGrant) {
  const ready = and(eq(files.id, grant.fileId), eq(files.status, 'ready'), isNull(files.deletedAt));
  const changes = { expires_at: new Date(grant.expires * 1000).toISOString(), disposition: grant.disposition ?? null };
  return auditEvent(db, { action: 'file.url_signed', targetType: 'file', targetId: grant.fileId, changes }, sql`exists (select 1 from ${files} where ${ready})`);
}
