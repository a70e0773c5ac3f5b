import { and, eq, isNull, sql } from 'drizzle-orm';
import type { HttpDatabase } from '../db/client.ts';
import { files, organizations, projects, type FileParts } from '../db/schema/index.ts';
import type { Actor } from '../db/tenant.ts';
import { effectiveLimits, FILE_LIMITS, FILE_RETENTION, type LimitOverrides, type Tier } from '../lib/limits.ts';
import { exactTimestamp, keysetAfter, keysetOrderBy, type KeyPart, type PageRequest } from '../lib/pagination.ts';

// Builders for the files routes: un-executed queries composed behind the gate. A live file is one not deleted.
const live = (fileId: string) => and(eq(files.id, fileId), isNull(files.deletedAt));
const limitsJson = JSON.stringify(FILE_LIMITS);

export type FileRow = typeof files.$inferSelect;

/** The org's tier, overrides and the bytes it stores or has reserved; `projectLive` when `projectId` names a live project of it. */
export function selectStorageState(db: HttpDatabase, orgId: string, projectId: string | undefined) {
  const projectLive = projectId
    ? sql<boolean>`exists (select 1 from ${projects} where ${projects.id} = ${projectId}::uuid and ${projects.orgId} = ${orgId}::uuid and ${projects.deletedAt} is null)`
    : sql<boolean>`true`;
  return db
    .select({ tier: organizations.subscriptionTier, overrides: organizations.limitOverrides, used: sql<string>`app_org_storage(${orgId}::uuid)`, projectLive })
    .from(organizations)
    .where(and(eq(organizations.id, orgId), isNull(organizations.deletedAt)));
}

/** What an org may still store, from `selectStorageState`'s row: its tier's file figures with its overrides applied. */
export function storageRoom(state: { tier: Tier; overrides: LimitOverrides; used: string | number }) {
  const limits = effectiveLimits(state.tier, state.overrides).files;
  return { ...limits, used: Number(state.used) };
}

/**
 * Refuses (APQUO → 403 QUOTA_EXCEEDED) storing `bytes` more beside what `except` holds, past the org's storage
 * override or else its tier's (read under the org row lock); put it in the same batch, right before the insert
 * or update it guards (the org row lock serialises concurrent uploads).
 */
export function storageCheck(db: HttpDatabase, orgId: string, bytes: number, except: string | null = null) {
  return db.execute(sql`select app_check_storage(${orgId}::uuid, ${bytes}::bigint, ${limitsJson}::jsonb, ${except}::uuid)`);
}

export interface NewFile {
  id: string;
  orgId: string;
  projectId: string | null;
  name: string;
  size: number;
  contentType: string;
  sha256?: string;
  uploadId?: string;
}

const uploader = (actor: Actor) => ({ uploaderType: actor.type, uploaderId: actor.id });

/** A stored file (its bytes already in R2). */
export function insertReadyFile(db: HttpDatabase, actor: Actor, file: NewFile & { sha256: string }) {
  return db
    .insert(files)
    .values({ ...file, status: 'ready', ...uploader(actor) })
    .returning();
}

/** A pending upload (multipart, or a signed upload URL) reserving `size` until it is finished or expires. */
export function insertPendingFile(db: HttpDatabase, actor: Actor, file: NewFile, ttlSeconds: number = FILE_RETENTION.pendingSeconds) {
  return db
    .insert(files)
    .values({ ...file, status: 'pending', ...uploader(actor), expiresAt: sql`now() + make_interval(secs => ${ttlSeconds})` })
    .returning();
}

/** The live file `fileId` (pending or ready). */
export function selectFile(db: HttpDatabase, fileId: string) {
  return db.select().from(files).where(live(fileId));
}

/** Whether the row still has more than `seconds` to live (by Postgres' clock, the one every expiry is read by). */
const livesBeyond = (seconds: number) => sql`${files.expiresAt} > now() + make_interval(secs => ${seconds})`;

/**
 * How long a multipart upload must still have to live for a completion to be claimed: time to join the parts and
 * read the whole file back before `markReady`, which needs READY_MARGIN_SECONDS left. Only a completion in the
 * last quarter hour of an upload's day is refused (404: start again).
 */
export const CLAIM_MARGIN_SECONDS = 900;

/**
 * What `markReady` needs left of the upload's life: more than the cleanup task's clock (its scheduled time, read
 * by the Worker) can run ahead of Postgres' now(), so a row the task finds due can never then be marked ready.
 */
const READY_MARGIN_SECONDS = 60;

/** The pending multipart upload `fileId`, if it has more than `liveFor` seconds left before it expires. */
export function selectMultipart(db: HttpDatabase, fileId: string, liveFor = 0) {
  return db
    .select()
    .from(files)
    .where(and(live(fileId), eq(files.status, 'pending'), sql`${files.uploadId} is not null`, livesBeyond(liveFor)));
}

/** Records an uploaded part (a re-upload of a part number replaces it). */
export function recordPart(db: HttpDatabase, fileId: string, partNumber: number, part: FileParts[string]) {
  return db
    .update(files)
    .set({ parts: sql`${files.parts} || jsonb_build_object(${String(partNumber)}::text, ${JSON.stringify(part)}::jsonb)`, updatedAt: sql`now()` })
    .where(and(live(fileId), eq(files.status, 'pending')))
    .returning({ id: files.id });
}

/**
 * The multipart upload `fileId`, completed under this request's claim (`claimCompletion` of R2's `uploadId`),
 * becomes a stored file of `size` bytes with its hash. No row when the claim is gone or the upload is about to
 * expire: the cleanup task treats an expired row as abandoned (it aborts the R2 upload and deletes the object,
 * then the row), so a completion racing it must never commit a ready row the task has already emptied. The task
 * only takes rows past their expiry and this only commits while READY_MARGIN_SECONDS remain, so at most one wins.
 */
export function markReady(db: HttpDatabase, fileId: string, uploadId: string, size: number, sha256: string) {
  return db
    .update(files)
    .set({ status: 'ready', size, sha256, uploadId: null, parts: {}, expiresAt: null, updatedAt: sql`now()` })
    .where(and(live(fileId), eq(files.status, 'pending'), eq(files.uploadId, `${COMPLETING_PREFIX}${uploadId}`), livesBeyond(READY_MARGIN_SECONDS)))
    .returning();
}

/** Removes a pending upload (abort, or a failed completion); returns what it was. */
export function deletePendingFile(db: HttpDatabase, fileId: string) {
  return db
    .delete(files)
    .where(and(live(fileId), eq(files.status, 'pending')))
    .returning({ id: files.id, uploadId: files.uploadId });
}

/** Soft-deletes a stored file; its bytes go after the retention period (workers/tasks/files-cleanup.ts). */
export function softDeleteFile(db: HttpDatabase, fileId: string) {
  return db
    .update(files)
    .set({ deletedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(live(fileId), eq(files.status, 'ready')))
    .returning();
}

const fileKey: KeyPart[] = [
  { expression: files.createdAt, direction: 'desc' },
  { expression: files.id, direction: 'desc' },
];

/** A page of the org's live files, newest first (`limit + 1` rows, for takePage), optionally of one project. */
export function selectFilePage(db: HttpDatabase, orgId: string, projectId: string | undefined, page: PageRequest) {
  return db
    .select({ file: files, keyText: exactTimestamp(files.createdAt) })
    .from(files)
    .where(
      and(
        eq(files.orgId, orgId),
        isNull(files.deletedAt),
        projectId ? eq(files.projectId, projectId) : undefined,
        page.after ? keysetAfter(fileKey, page.after) : undefined,
      ),
    )
    .orderBy(...keysetOrderBy(fileKey))
    .limit(page.limit + 1);
}

/** The live file a signed URL names, if it is `orgId`'s (app_signed_file: a signed URL carries no credentials). */
export async function selectSignedFile(db: HttpDatabase, fileId: string, orgId: string): Promise<FileRow | undefined> {
  const { rows } = await db.execute<Record<string, unknown>>(sql`select * from app_signed_file(${fileId}::uuid, ${orgId}::uuid)`);
  const raw = rows[0];
  if (!raw) return undefined;
  const date = (value: unknown) => (value === null || value === undefined ? null : new Date(value as string));
  return {
    id: String(raw.id),
    orgId: String(raw.org_id),
    projectId: (raw.project_id as string | null) ?? null,
    name: String(raw.name),
    size: Number(raw.size),
    contentType: String(raw.content_type),
    sha256: (raw.sha256 as string | null) ?? null,
    status: raw.status === 'ready' ? 'ready' : 'pending',
    uploadId: (raw.upload_id as string | null) ?? null,
    parts: (raw.parts as FileParts | null) ?? {},
    uploaderType: String(raw.uploader_type),
    uploaderId: (raw.uploader_id as string | null) ?? null,
    expiresAt: date(raw.expires_at),
    createdAt: date(raw.created_at) ?? new Date(0),
    updatedAt: date(raw.updated_at) ?? new Date(0),
    deletedAt: date(raw.deleted_at),
  };
}

/** What upload_id holds while one request completes a multipart upload: `completing:<R2's upload id>`. */
export const COMPLETING_PREFIX = 'completing:';

/**
 * Claims the completion of a multipart upload for one request; no row when another holds it, it is gone, or it
 * has no more than CLAIM_MARGIN_SECONDS to live (not time enough to finish before `markReady` would refuse it).
 */
export function claimCompletion(db: HttpDatabase, fileId: string, uploadId: string) {
  return db
    .update(files)
    .set({ uploadId: `${COMPLETING_PREFIX}${uploadId}` })
    .where(and(live(fileId), eq(files.status, 'pending'), eq(files.uploadId, uploadId), livesBeyond(CLAIM_MARGIN_SECONDS)))
    .returning({ id: files.id });
}

/** Gives a completion claim back (R2 joined nothing): the upload takes parts and a complete again. */
export function releaseCompletion(db: HttpDatabase, fileId: string, uploadId: string) {
  return db
    .update(files)
    .set({ uploadId })
    .where(and(live(fileId), eq(files.status, 'pending'), eq(files.uploadId, `${COMPLETING_PREFIX}${uploadId}`)))
    .returning({ id: files.id });
}

/** What upload_id holds while a signed upload's request streams (R2's multipart ids never look like this). */
export const SIGNED_CLAIM_PREFIX = 'signed:';

/** Claims a signed upload for this request before its bytes move; false when another request holds or used it. */
export function signedUploadClaimSql(fileId: string, orgId: string, claim: string) {
  return sql`select app_signed_upload_claim(${fileId}::uuid, ${orgId}::uuid, ${claim}) as claimed`;
}

/** Finishes a signed upload within the storage quota; false if it is no longer a live, unexpired signed upload. */
export function signedUploadFinishSql(fileId: string, orgId: string, claim: string, size: number, sha256: string, meta: object) {
  return sql`select app_signed_upload_finish(${fileId}::uuid, ${orgId}::uuid, ${claim}, ${size}::bigint, ${sha256}, ${limitsJson}::jsonb, ${JSON.stringify(meta)}::jsonb) as finished`;
}

/** Removes a failed signed upload's reservation. */
export function signedUploadDiscardSql(fileId: string, orgId: string, claim: string, meta: object) {
  return sql`select app_signed_upload_discard(${fileId}::uuid, ${orgId}::uuid, ${claim}, ${JSON.stringify(meta)}::jsonb)`;
}
