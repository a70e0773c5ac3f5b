import type { RouteHandler } from '@hono/zod-openapi';
import type { ScopedDatabase } from '../../db/tenant.ts';
import { ApiError } from '../../errors.ts';
import { FILE_TYPES, type FileType } from '../../lib/file-types.ts';
import { MULTIPART } from '../../lib/limits.ts';
import { log } from '../../lib/log.ts';
import { checkStored, declaredLength, discardObject, FileRejected, objectKey, rejectionError, type Checked } from '../../services/file-store.ts';
import {
  CLAIM_MARGIN_SECONDS,
  claimCompletion,
  COMPLETING_PREFIX,
  deletePendingFile,
  insertPendingFile,
  markReady,
  recordPart,
  releaseCompletion,
  selectMultipart,
  SIGNED_CLAIM_PREFIX,
  storageCheck,
  type FileRow,
} from '../../services/files.ts';
import type { completeMultipart, listParts, startMultipart, uploadPart } from './files.routes.ts';
import { toFile, toParts } from './files.schemas.ts';
import { admitFile, fileEvent } from './files.shared.ts';

// Multipart uploads: the row (pending, its size reserved) keeps the R2 upload id and the parts received, so a
// client that lost its connection asks which parts arrived and sends the rest.

const uploadNotFound = () => new ApiError('NOT_FOUND', 'No such upload in progress.');
const storageUnavailable = () => new ApiError('SERVICE_UNAVAILABLE', 'File storage is briefly unavailable.', undefined, { 'Retry-After': '5' });
/** What one part may hold: R2's bounds, and no more than one request may carry. */
const partLimits = (bodyLimit: number) => ({ minPartBytes: MULTIPART.minPartBytes, maxPartBytes: Math.min(MULTIPART.maxPartBytes, bodyLimit) });

const completing = () => new ApiError('CONFLICT', 'Another request is completing this upload.');

/**
 * The multipart upload in progress, with more than `liveFor` seconds to live; one being completed is
 * `whileCompleting` (no more parts: not found).
 */
async function pendingUpload(tenant: ScopedDatabase, fileId: string, whileCompleting = uploadNotFound, liveFor = 0): Promise<FileRow & { uploadId: string }> {
  const [[row]] = await tenant.batch((db) => [selectMultipart(db, fileId, liveFor)]);
  if (row?.uploadId?.startsWith(COMPLETING_PREFIX)) throw whileCompleting();
  // A signed upload streaming under its claim is no multipart upload.
  if (!row?.uploadId || row.uploadId.startsWith(SIGNED_CLAIM_PREFIX)) throw uploadNotFound();
  return { ...row, uploadId: row.uploadId };
}

export const startMultipartHandler: RouteHandler<typeof startMultipart> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { name, contentType, size, projectId } = c.req.valid('json');
  await admitFile(c.var.tenant, orgId, projectId, contentType, () => size);
  const fileId = crypto.randomUUID();
  const upload = await c.env.FILES.createMultipartUpload(objectKey(orgId, fileId), { httpMetadata: { contentType } }).catch(() => {
    throw storageUnavailable();
  });
  const file = { id: fileId, orgId, projectId: projectId ?? null, name, size, contentType, uploadId: upload.uploadId };
  try {
    const [, [row]] = await c.var.tenant.batch((db) => [storageCheck(db, orgId, size), insertPendingFile(db, c.var.actor, file)]);
    if (!row) throw new Error('insert returned no row');
    return c.json({ data: { file: toFile(row), parts: [], ...partLimits(c.var.config.MAX_REQUEST_BODY_BYTES) } }, 201);
  } catch (error) {
    await upload.abort().catch(() => undefined);
    throw error;
  }
};

/** Streams one part to R2 (exactly Content-Length bytes), then records it. */
export const uploadPartHandler: RouteHandler<typeof uploadPart> = async (c) => {
  const { orgId, fileId, partNumber } = c.req.valid('param');
  const row = await pendingUpload(c.var.tenant, fileId);
  // Every part but the last holds at least minPartBytes, so a file has no more parts than this.
  const maxParts = Math.max(1, Math.ceil(row.size / MULTIPART.minPartBytes));
  if (partNumber > maxParts) throw new ApiError('BAD_REQUEST', `A file of ${row.size} bytes has at most ${maxParts} parts.`, { reason: 'too_many_parts', maxParts });
  const others = toParts(row).filter((part) => part.partNumber !== partNumber);
  const bodyLimit = c.var.config.MAX_REQUEST_BODY_BYTES;
  const room = Math.min(partLimits(bodyLimit).maxPartBytes, row.size - others.reduce((sum, part) => sum + part.size, 0));
  const length = declaredLength(c.req.raw, Math.max(room, 0), bodyLimit);
  if (length === 0) throw new ApiError('BAD_REQUEST', 'A part cannot be empty.', { reason: 'empty_part' });
  let received = 0;
  const counted = (c.req.raw.body ?? new ReadableStream()).pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        received += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  const upload = c.env.FILES.resumeMultipartUpload(objectKey(orgId, fileId), row.uploadId);
  const part = await upload.uploadPart(partNumber, counted.pipeThrough(new FixedLengthStream(length))).catch(() => {
    throw received === length ? storageUnavailable() : new ApiError('BAD_REQUEST', 'The body did not have Content-Length bytes.', { reason: 'length_mismatch' });
  });
  const [recorded] = await c.var.tenant.batch((db) => [recordPart(db, fileId, partNumber, { etag: part.etag, size: length })]);
  if (recorded.length === 0) throw uploadNotFound();
  return c.json({ data: { partNumber, size: length, etag: part.etag } }, 200);
};

export const listPartsHandler: RouteHandler<typeof listParts> = async (c) => {
  const row = await pendingUpload(c.var.tenant, c.req.valid('param').fileId);
  return c.json({ data: { file: toFile(row), parts: toParts(row), ...partLimits(c.var.config.MAX_REQUEST_BODY_BYTES) } }, 200);
};

/** Why a set of parts cannot make the declared file, or undefined. */
function partsProblem(row: FileRow, parts: ReturnType<typeof toParts>): Record<string, unknown> | undefined {
  const received = parts.reduce((sum, part) => sum + part.size, 0);
  const missing = parts.flatMap((part, index) => (part.partNumber === index + 1 ? [] : [index + 1]));
  if (missing.length > 0) return { reason: 'missing_parts', missing: missing.slice(0, 1) };
  const small = parts.slice(0, -1).find((part) => part.size < MULTIPART.minPartBytes);
  if (small) return { reason: 'part_too_small', partNumber: small.partNumber, minPartBytes: MULTIPART.minPartBytes };
  // R2 joins only parts of one size (the last no larger): refused here, the upload stays open for resent parts.
  const partBytes = parts[0]?.size ?? 0;
  const unequal = parts.find((part, index) => (index === parts.length - 1 ? part.size > partBytes : part.size !== partBytes));
  if (unequal) return { reason: 'unequal_parts', partNumber: unequal.partNumber, partBytes };
  if (received !== row.size) return { reason: 'size_mismatch', declared: row.size, received };
  return undefined;
}

/**
 * R2 joins the parts. If its complete fails after R2 did join them (its reply lost, then the retry asks again
 * for an upload R2 has finished), the object is there at the declared size: that counts as joined, and the
 * checks that follow read it whole anyway. Throws when there is no such object.
 */
async function joinParts(bucket: R2Bucket, upload: R2MultipartUpload, key: string, size: number, parts: ReturnType<typeof toParts>) {
  try {
    await upload.complete(parts.map(({ partNumber, etag }) => ({ partNumber, etag })));
  } catch (error) {
    const object = await bucket.head(key);
    if (object?.size !== size) throw error;
  }
}

/**
 * Joins the parts, reads the whole object back through the same checks as a streamed upload (type, UTF-8, hash),
 * then marks the file stored within the quota. R2 failing to join the parts gives the claim back (503: the client
 * may resend parts and retry); anything refused or failing after R2 joined them removes the object and the row.
 */
export const completeMultipartHandler: RouteHandler<typeof completeMultipart> = async (c) => {
  const { orgId, fileId } = c.req.valid('param');
  // An upload too close to its expiry to finish before the cleanup task may take it is no longer completable.
  const row = await pendingUpload(c.var.tenant, fileId, completing, CLAIM_MARGIN_SECONDS);
  const parts = toParts(row);
  const problem = partsProblem(row, parts);
  if (problem) throw new ApiError('BAD_REQUEST', 'The parts received do not make the declared file.', problem);
  // One request completes: a concurrent retry would fail R2's complete and then delete the object the first made.
  const [[claimed]] = await c.var.tenant.batch((db) => [claimCompletion(db, fileId, row.uploadId)]);
  if (!claimed) {
    // Lost to another request (409), or it expired or was removed since it was read (404).
    await pendingUpload(c.var.tenant, fileId, completing, CLAIM_MARGIN_SECONDS);
    throw completing();
  }
  const key = objectKey(orgId, fileId);
  const upload = c.env.FILES.resumeMultipartUpload(key, row.uploadId);
  await joinParts(c.env.FILES, upload, key, row.size, parts).catch(async (error: unknown) => {
    log('warn', 'R2 did not complete a multipart upload; the claim is released', { fileId, error: String(error) });
    await c.var.tenant.batch((db) => [releaseCompletion(db, fileId, row.uploadId)]).catch((releaseError: unknown) => {
      // The row keeps the claim: every complete is a 409 until the cleanup task takes the upload at its expiry.
      log('error', 'a multipart completion claim was not released', { fileId, error: String(releaseError) });
    });
    throw storageUnavailable();
  });
  const type = (FILE_TYPES as readonly string[]).includes(row.contentType) ? (row.contentType as FileType) : 'application/zip';
  // The row goes with its object, and the R2 upload with them (a no-op once R2 has joined it).
  const discard = async () => {
    await upload.abort().catch(() => undefined);
    await discardObject(c.env.FILES, key);
    await c.var.tenant.batch((db) => [deletePendingFile(db, fileId)]).catch(() => undefined);
  };
  let checked: Checked | undefined;
  try {
    checked = await checkStored(c.env.FILES, key, type, row.size);
    if (!checked) throw storageUnavailable();
  } catch (error) {
    await discard();
    if (error instanceof FileRejected) throw rejectionError(error, type, row.size);
    throw error instanceof ApiError ? error : storageUnavailable();
  }
  const { size, sha256 } = checked;
  const [, [ready]] = await c.var.tenant.batch((db) => [storageCheck(db, orgId, size, fileId), markReady(db, fileId, row.uploadId, size, sha256)]).catch(async (error: unknown) => {
    await discard();
    throw error;
  });
  if (!ready) {
    await discard();
    throw uploadNotFound();
  }
  fileEvent(c, 'file.stored', ready);
  return c.json({ data: toFile(ready) }, 200);
};
