import type { RouteHandler } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import { cursorTimestamp } from '../../lib/fields.ts';
import { allowedType } from '../../lib/file-types.ts';
import { signGrant, urlKeys } from '../../lib/file-signing.ts';
import { SIGNED_URL_SECONDS } from '../../lib/limits.ts';
import { decodeCursor, takePage } from '../../lib/pagination.ts';
import { auditDownloadUrlSigned } from '../../services/file-audit.ts';
import { bodyTooLarge, declaredLength, keepIf, objectKey, storeBody, unsupportedType } from '../../services/file-store.ts';
import { deletePendingFile, insertPendingFile, insertReadyFile, selectFile, selectFilePage, softDeleteFile, storageCheck } from '../../services/files.ts';
import type { createDownloadUrl, createUploadUrl, deleteFile, getFile, listFiles, uploadFile } from './files.routes.ts';
import { toFile } from './files.schemas.ts';
import { admitFile, fileEvent, fileNotFound, fileUrl } from './files.shared.ts';

/** Streamed upload: admitted (type, size, quota, project) before a byte is read; the row is written, within the quota, once R2 holds the bytes. */
export const uploadFileHandler: RouteHandler<typeof uploadFile> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { name, projectId } = c.req.valid('query');
  const type = allowedType(c.req.header('content-type'));
  if (!type) throw unsupportedType();
  const room = await admitFile(c.var.tenant, orgId, projectId, type, (max) => declaredLength(c.req.raw, max, c.var.config.MAX_REQUEST_BODY_BYTES));
  const fileId = crypto.randomUUID();
  const key = objectKey(orgId, fileId);
  const stored = await storeBody(c.env.FILES, key, c.req.raw.body, room.size, type, room.maxUploadBytes);
  const file = { id: fileId, orgId, projectId: projectId ?? null, name, size: stored.size, contentType: type, sha256: stored.sha256 };
  const [, [row]] = await keepIf(c.env.FILES, key, async () => {
    // With an Idempotency-Key, its claim rides in the insert: a duplicate rolls back here and its object is removed.
    await c.var.claimUploadKey?.(type, stored.sha256);
    return c.var.tenant.batch((db) => [storageCheck(db, orgId, stored.size), insertReadyFile(db, c.var.actor, file)]);
  });
  if (!row) throw new Error('insert returned no row');
  fileEvent(c, 'file.stored', row);
  c.header('Location', `/api/v1/orgs/${orgId}/files/${fileId}`);
  return c.json({ data: toFile(row) }, 201);
};

const fileCursor = z.tuple([cursorTimestamp, z.uuid()]);

export const listFilesHandler: RouteHandler<typeof listFiles> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { limit, cursor, projectId } = c.req.valid('query');
  const after = cursor ? decodeCursor(cursor, fileCursor) : undefined;
  const [rows] = await c.var.tenant.batch((db) => [selectFilePage(db, orgId, projectId, { limit, after })]);
  const page = takePage(rows, limit, (row) => [row.keyText, row.file.id]);
  return c.json({ data: page.items.map((row) => toFile(row.file)), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

export const getFileHandler: RouteHandler<typeof getFile> = async (c) => {
  const [[row]] = await c.var.tenant.batch((db) => [selectFile(db, c.req.valid('param').fileId)]);
  if (!row) throw fileNotFound();
  return c.json({ data: toFile(row) }, 200);
};

/** One round trip: a stored file is soft-deleted, a pending upload removed (then its R2 multipart upload aborted). */
export const deleteFileHandler: RouteHandler<typeof deleteFile> = async (c) => {
  const { orgId, fileId } = c.req.valid('param');
  const [deleted, [pending]] = await c.var.tenant.batch((db) => [softDeleteFile(db, fileId), deletePendingFile(db, fileId)]);
  if (deleted.length === 0 && !pending) throw fileNotFound();
  for (const file of deleted) fileEvent(c, 'file.deleted', file);
  // An abort that fails leaves only parts R2 expires on its own; the row, and so the reservation, is gone.
  if (pending?.uploadId) await c.env.FILES.resumeMultipartUpload(objectKey(orgId, fileId), pending.uploadId).abort().catch(() => undefined);
  return c.body(null, 204);
};

const expiry = (seconds: number | undefined) => Math.floor(Date.now() / 1000) + (seconds ?? SIGNED_URL_SECONDS.default);

export const createDownloadUrlHandler: RouteHandler<typeof createDownloadUrl> = async (c) => {
  const { orgId, fileId } = c.req.valid('param');
  const { expiresIn, disposition } = c.req.valid('json');
  const expires = expiry(expiresIn);
  // The grant is audited in the read's own batch (no extra round trip), and only for a file the check below lets through.
  const [[row]] = await c.var.tenant.batch((db) => [selectFile(db, fileId), auditDownloadUrlSigned(db, { fileId, expires, disposition })]);
  if (!row || row.status !== 'ready') throw fileNotFound();
  const params = await signGrant(urlKeys(c.var.config.FILE_URL_KEYS, c.var.config.TOKEN_SECRET), { purpose: 'download', fileId, orgId, expires, disposition });
  return c.json({ data: { url: fileUrl(c.req.url, fileId, params), method: 'GET' as const, expiresAt: new Date(expires * 1000).toISOString() } }, 200);
};

/** Reserves the declared size (a pending row) and signs a one-time PUT for exactly those bytes. */
export const createUploadUrlHandler: RouteHandler<typeof createUploadUrl> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { name, contentType, size, projectId, expiresIn } = c.req.valid('json');
  // The PUT is one request: a file larger than one may carry goes multipart instead (after the tier's own 413).
  const bodyLimit = c.var.config.MAX_REQUEST_BODY_BYTES;
  await admitFile(c.var.tenant, orgId, projectId, contentType, (max) => {
    if (size <= max && size > bodyLimit) throw bodyTooLarge(bodyLimit);
    return size;
  });
  const expires = expiry(expiresIn);
  const file = { id: crypto.randomUUID(), orgId, projectId: projectId ?? null, name, size, contentType };
  const [, [row]] = await c.var.tenant.batch((db) => [storageCheck(db, orgId, size), insertPendingFile(db, c.var.actor, file, expires - Math.floor(Date.now() / 1000))]);
  if (!row) throw new Error('insert returned no row');
  const params = await signGrant(urlKeys(c.var.config.FILE_URL_KEYS, c.var.config.TOKEN_SECRET), { purpose: 'upload', fileId: row.id, orgId, expires });
  const upload = { url: fileUrl(c.req.url, row.id, params), method: 'PUT' as const, expiresAt: new Date(expires * 1000).toISOString() };
  return c.json({ data: { file: toFile(row), upload } }, 201);
};
