import { sql } from 'drizzle-orm';
import { FILE_RETENTION } from '../../src/lib/limits.ts';
import { log } from '../../src/lib/log.ts';
import { objectKey } from '../../src/services/file-store.ts';
import { COMPLETING_PREFIX, SIGNED_CLAIM_PREFIX } from '../../src/services/files.ts';
import type { TaskContext } from './types.ts';

/** Rows handled per run; a backlog drains over the next runs. */
const BATCH = 200;

/** Objects the orphan sweep looks at per run, continuing where the last run stopped (a KV cursor). */
export const ORPHAN_SCAN = 500;

/** An object this old with no row is an orphan: the row is written right after the put, never an hour later. */
export const ORPHAN_AGE_MS = 3_600_000;

const ORPHAN_CURSOR_KEY = 'files-cleanup:orphan-cursor';
const FILE_KEY = /^orgs\/([0-9a-f-]{36})\/files\/([0-9a-f-]{36})$/;

/** R2's multipart upload id in a row's upload_id: under a completion claim too; a signed upload's claim has none. */
function r2UploadId(uploadId: string | null): string | null {
  if (!uploadId || uploadId.startsWith(SIGNED_CLAIM_PREFIX)) return null;
  return uploadId.startsWith(COMPLETING_PREFIX) ? uploadId.slice(COMPLETING_PREFIX.length) : uploadId;
}

/**
 * Removes what files leave behind: uploads abandoned past their expiry (the R2 multipart upload aborted, any
 * object deleted, the reservation released), the bytes of files deleted more than the retention period ago, and
 * every file of an org deleted that long ago. The object goes first and then the row, so a failure part way
 * leaves a row for the next run, never an object nobody knows of. Then the orphan sweep. Idempotent. A multipart
 * completion racing this task cannot store an upload it found due: `markReady` (src/services/files.ts) commits
 * only while the upload has more than a minute to live, by Postgres' clock.
 */
export async function cleanupFiles(context: TaskContext): Promise<void> {
  const { env, db, scheduledTime } = context;
  const now = new Date(scheduledTime).toISOString();
  const deletedBefore = new Date(scheduledTime - FILE_RETENTION.deletedSeconds * 1000).toISOString();
  const { rows } = await db.http.execute<{ id: string; org_id: string; upload_id: string | null }>(
    sql`select id, org_id, upload_id from app_files_due(${now}::timestamptz, ${deletedBefore}::timestamptz, ${BATCH})`,
  );
  let removed = 0;
  for (const row of rows) {
    const key = objectKey(row.org_id, row.id);
    try {
      const uploadId = r2UploadId(row.upload_id);
      if (uploadId) await env.FILES.resumeMultipartUpload(key, uploadId).abort().catch(() => undefined);
      await env.FILES.delete(key);
      await db.http.execute(sql`select app_file_purge(${row.id}::uuid, ${now}::timestamptz, ${deletedBefore}::timestamptz)`);
      removed++;
    } catch (error) {
      log('warn', 'file cleanup failed for one file; retried next run', { fileId: row.id, error: String(error) });
    }
  }
  log('info', 'cleaned up files', { due: rows.length, removed });
  await sweepOrphans(context);
}

/**
 * Deletes objects under `orgs/` older than ORPHAN_AGE_MS that no file row names: what a Worker that died between
 * the R2 put and the insert left. Looks at ORPHAN_SCAN objects a run, from where the last run stopped, so the
 * whole bucket is covered over successive runs at a bounded cost (one R2 list, one query, the deletes).
 */
export async function sweepOrphans({ env, db, scheduledTime }: TaskContext): Promise<void> {
  const startAfter = (await env.CACHE.get(ORPHAN_CURSOR_KEY).catch(() => null)) ?? undefined;
  const page = await env.FILES.list({ prefix: 'orgs/', startAfter, limit: ORPHAN_SCAN });
  const old = page.objects.filter((object) => FILE_KEY.test(object.key) && object.uploaded.getTime() <= scheduledTime - ORPHAN_AGE_MS);
  const byId = new Map(old.map((object) => [FILE_KEY.exec(object.key)?.[2] ?? '', object.key]));
  let deleted = 0;
  if (byId.size > 0) {
    // A Postgres array literal, bound as one parameter (the ids are the key pattern's hex and dashes).
    const ids = `{${[...byId.keys()].join(',')}}`;
    const { rows } = await db.http.execute<{ id: string }>(sql`select id from app_files_unknown(${ids}::uuid[]) as id`);
    const orphans = rows.flatMap((row) => byId.get(row.id) ?? []);
    if (orphans.length > 0) await env.FILES.delete(orphans);
    deleted = orphans.length;
  }
  // The end of the bucket starts the next run from the beginning.
  const last = page.objects.at(-1)?.key;
  if (page.truncated && last) await env.CACHE.put(ORPHAN_CURSOR_KEY, last);
  else await env.CACHE.delete(ORPHAN_CURSOR_KEY);
  log('info', 'swept orphan file objects', { scanned: page.objects.length, deleted });
}
