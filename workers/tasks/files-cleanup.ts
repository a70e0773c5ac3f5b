import { sql } from 'drizzle-orm';
import { FILE_RETENTION } from '../../src/lib/limits.ts';
import { log } from '../../src/lib/log.ts';
import { objectKey } from '../../src/services/file-store.ts';
import type { TaskContext } from './types.ts';

/** Rows handled per run; a backlog drains over the next runs. */
const BATCH = 200;

/**
 * Removes what files leave behind: uploads abandoned past their expiry (the R2 multipart upload aborted, any
 * object deleted, the reservation released) and the bytes of files deleted more than the retention period ago.
 * The object goes first and then the row, so a failure part way leaves a row for the next run, never an object
 * nobody knows of. Idempotent.
 */
export async function cleanupFiles({ env, db, scheduledTime }: TaskContext): Promise<void> {
  const now = new Date(scheduledTime).toISOString();
  const deletedBefore = new Date(scheduledTime - FILE_RETENTION.deletedSeconds * 1000).toISOString();
  const { rows } = await db.http.execute<{ id: string; org_id: string; upload_id: string | null }>(
    sql`select id, org_id, upload_id from app_files_due(${now}::timestamptz, ${deletedBefore}::timestamptz, ${BATCH})`,
  );
  let removed = 0;
  for (const row of rows) {
    const key = objectKey(row.org_id, row.id);
    try {
      if (row.upload_id) await env.FILES.resumeMultipartUpload(key, row.upload_id).abort().catch(() => undefined);
      await env.FILES.delete(key);
      await db.http.execute(sql`select app_file_purge(${row.id}::uuid, ${now}::timestamptz, ${deletedBefore}::timestamptz)`);
      removed++;
    } catch (error) {
      log('warn', 'file cleanup failed for one file; retried next run', { fileId: row.id, error: String(error) });
    }
  }
  log('info', 'cleaned up files', { due: rows.length, removed });
}
