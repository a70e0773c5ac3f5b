import type { RouteHandler } from '@hono/zod-openapi';
import type { Config } from '../../config.ts';
import { ApiError } from '../../errors.ts';
import { allowedType, isTextType, type FileType } from '../../lib/file-types.ts';
import { urlKeys, verifyGrant, type SignedGrant } from '../../lib/file-signing.ts';
import { contentDisposition, decideRange, notModified } from '../../lib/http-conditional.ts';
import { requestMeta } from '../../middleware/request-meta.ts';
import { declaredLength, discardObject, keepIf, objectKey, storeBody, unsupportedType } from '../../services/file-store.ts';
import { SIGNED_CLAIM_PREFIX, selectSignedFile, signedUploadClaimSql, signedUploadDiscardSql, signedUploadFinishSql } from '../../services/files.ts';
import { promptFanOut } from '../../services/webhook-fanout.ts';
import type { downloadSigned, uploadSigned } from './files.routes.ts';
import { toFile } from './files.schemas.ts';
import { fileEvent, fileNotFound } from './files.shared.ts';

// The routes a signed URL opens, without credentials: the signature is the grant, checked in constant time
// before anything else; every way it can fail (forged, expired, another file, another org) is one 403.

const refused = () => new ApiError('FORBIDDEN', 'This link is invalid or has expired.');
const inUse = () => new ApiError('CONFLICT', 'This upload URL is in use or has already been used.');

async function checkSignature(config: Config, grant: SignedGrant, kid: string, sig: string): Promise<void> {
  const keys = urlKeys(config.FILE_URL_KEYS, config.TOKEN_SECRET);
  if (!(await verifyGrant(keys, grant, kid, sig, Math.floor(Date.now() / 1000)))) throw refused();
}

/** Types a browser shows inline get a sandbox CSP all the same; none of the allowlist runs script. */
const fileCsp = (type: string) => (type === 'application/pdf' ? "default-src 'none'; frame-ancestors 'none'" : "default-src 'none'; frame-ancestors 'none'; sandbox");

export const downloadSignedHandler: RouteHandler<typeof downloadSigned> = async (c) => {
  const { fileId } = c.req.valid('param');
  const { org, expires, kid, sig, disposition } = c.req.valid('query');
  await checkSignature(c.var.config, { purpose: 'download', fileId, orgId: org, expires, disposition }, kid, sig);
  const file = await selectSignedFile(c.var.unscopedDb.http, fileId, org);
  if (!file || file.status !== 'ready' || !file.sha256) throw fileNotFound();
  const representation = { etag: `"${file.sha256}"`, lastModified: file.updatedAt, size: file.size };
  const validators = { ETag: representation.etag, 'Last-Modified': file.updatedAt.toUTCString(), 'Cache-Control': 'private, no-cache' };
  if (notModified(c.req.raw.headers, representation)) return new Response(null, { status: 304, headers: validators });
  const range = decideRange(c.req.raw.headers, representation);
  if (range.kind === 'unsatisfiable') {
    throw new ApiError('RANGE_NOT_SATISFIABLE', 'The range starts past the end of the file.', { size: file.size }, { 'Content-Range': `bytes */${file.size}` });
  }
  const object = await c.env.FILES.get(objectKey(org, fileId), range.kind === 'partial' ? { range: { offset: range.offset, length: range.length } } : undefined);
  if (!object) throw fileNotFound();
  const headers = new Headers({
    ...validators,
    'Content-Type': isTextType(file.contentType as FileType) ? `${file.contentType}; charset=utf-8` : file.contentType,
    'Content-Length': String(range.kind === 'partial' ? range.length : file.size),
    'Accept-Ranges': 'bytes',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': fileCsp(file.contentType),
  });
  if (disposition) headers.set('Content-Disposition', contentDisposition(disposition, file.name));
  if (range.kind === 'partial') headers.set('Content-Range', `bytes ${range.offset}-${range.offset + range.length - 1}/${file.size}`);
  return new Response(object.body, { status: range.kind === 'partial' ? 206 : 200, headers });
};

/**
 * A signed upload: exactly the declared size and type, checked as any upload. The pending row becomes the file
 * within the quota; a refusal or failure releases the row and deletes the object, so the URL is used at most once.
 */
export const uploadSignedHandler: RouteHandler<typeof uploadSigned> = async (c) => {
  const { fileId } = c.req.valid('param');
  const { org, expires, kid, sig } = c.req.valid('query');
  await checkSignature(c.var.config, { purpose: 'upload', fileId, orgId: org, expires }, kid, sig);
  const db = c.var.unscopedDb.http;
  const pending = await selectSignedFile(db, fileId, org);
  if (!pending) throw new ApiError('NOT_FOUND', 'This upload no longer exists.');
  if (pending.status === 'ready') throw new ApiError('CONFLICT', 'This upload URL has already been used.');
  if (pending.uploadId?.startsWith(SIGNED_CLAIM_PREFIX)) throw inUse();
  if (pending.uploadId !== null || (pending.expiresAt?.getTime() ?? 0) <= Date.now()) throw refused();
  const type = allowedType(pending.contentType);
  const meta = requestMeta(c);
  // One request at a time writes this object: a concurrent or repeated PUT finds the upload claimed.
  const claim = `${SIGNED_CLAIM_PREFIX}${crypto.randomUUID()}`;
  const { rows: claimed } = await db.execute<{ claimed: boolean }>(signedUploadClaimSql(fileId, org, claim));
  if (claimed[0]?.claimed !== true) throw inUse();
  const release = () => db.execute(signedUploadDiscardSql(fileId, org, claim, meta)).catch(() => undefined);
  const key = objectKey(org, fileId);
  let stored: { size: number; sha256: string };
  try {
    const header = c.req.header('content-type');
    if (!type || (header !== undefined && allowedType(header) !== type)) throw unsupportedType();
    const length = declaredLength(c.req.raw, pending.size, c.var.config.MAX_REQUEST_BODY_BYTES);
    if (length !== pending.size) throw new ApiError('BAD_REQUEST', `This upload takes exactly ${pending.size} bytes.`, { reason: 'size_mismatch', declared: pending.size });
    stored = await storeBody(c.env.FILES, key, c.req.raw.body, length, type, pending.size);
  } catch (error) {
    await release();
    throw error;
  }
  const { rows } = await keepIf(c.env.FILES, key, () => db.execute<{ finished: boolean }>(signedUploadFinishSql(fileId, org, claim, stored.size, stored.sha256, meta))).catch(async (error: unknown) => {
    await release();
    throw error;
  });
  if (rows[0]?.finished !== true) {
    await discardObject(c.env.FILES, key);
    throw new ApiError('CONFLICT', 'This upload URL has already been used.');
  }
  const ready = { ...pending, status: 'ready' as const, size: stored.size, sha256: stored.sha256, expiresAt: null, updatedAt: new Date() };
  fileEvent(c, 'file.stored', ready);
  // A public route reports no write to the org's authority, so it prompts the webhook fan-out (file.stored) itself.
  c.executionCtx.waitUntil(promptFanOut(c.env, org));
  return c.json({ data: toFile(ready) }, 200);
};
