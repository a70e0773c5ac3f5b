import { z } from '@hono/zod-openapi';
import type { FileRow } from '../../services/files.ts';
import { idField, lineField, orgParams, pathId } from '../../lib/fields.ts';
import { FILE_TYPES } from '../../lib/file-types.ts';
import { MULTIPART, SIGNED_URL_SECONDS } from '../../lib/limits.ts';
import { paginationQuery } from '../../lib/pagination.ts';

/** The public shape of a file; internal columns (upload id, parts, uploader, deleted_at) are not part of it. */
export const fileSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    projectId: z.uuid().nullable(),
    name: z.string(),
    size: z.int().openapi({ description: 'Bytes stored; while `pending`, the size declared (and reserved against the storage quota).' }),
    contentType: z.enum(FILE_TYPES),
    sha256: z.string().nullable().openapi({ description: 'Hex SHA-256 of the bytes, computed while they were stored; null while pending.' }),
    status: z.enum(['pending', 'ready']),
    uploadExpiresAt: z.iso.datetime().nullable().openapi({ description: 'When a pending upload is abandoned and removed.' }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi('File');

export const fileParams = orgParams.extend({ fileId: pathId('fileId') });
export const partParams = fileParams.extend({
  partNumber: z
    .string()
    .regex(/^(?:[1-9]\d{0,3}|10000)$/, 'must be a whole number from 1 to 10000')
    .transform(Number)
    .openapi({ param: { name: 'partNumber', in: 'path' }, example: '1' }),
});

const name = lineField(255).openapi({ example: 'report.pdf' });
const projectId = idField.optional().openapi({ description: 'The project the file belongs to (a live project of the org).' });
const contentType = z.enum(FILE_TYPES).openapi({ description: 'Checked against the bytes: a file whose bytes are not of this type is refused.' });
const size = z.int().min(1).max(5 * 2 ** 40).openapi({ description: 'The file size in bytes: reserved against the storage quota until the upload finishes.' });
const expiresIn = z.int().min(1).max(SIGNED_URL_SECONDS.max).optional().openapi({ description: `Seconds the URL stays valid (default ${SIGNED_URL_SECONDS.default}).` });

export const uploadQuery = z.strictObject({
  name: name.openapi({ param: { name: 'name', in: 'query' } }),
  projectId: projectId.openapi({ param: { name: 'projectId', in: 'query' } }),
});

export const listFilesQuery = paginationQuery.extend({
  projectId: idField.optional().openapi({ param: { name: 'projectId', in: 'query' }, description: 'Only the files of this project.' }),
});

export const startUploadBody = z.strictObject({ name, contentType, size, projectId }).openapi('StartUpload');
export const uploadUrlBody = z.strictObject({ name, contentType, size, projectId, expiresIn }).openapi('UploadUrlRequest');
export const downloadUrlBody = z
  .strictObject({
    expiresIn,
    disposition: z.enum(['inline', 'attachment']).optional().openapi({ description: 'Sends `Content-Disposition` with the file name when set.' }),
  })
  .openapi('DownloadUrlRequest');

export const signedUrlSchema = z.object({ url: z.url(), method: z.enum(['GET', 'PUT']), expiresAt: z.iso.datetime() }).openapi('SignedUrl');
export const uploadUrlSchema = z.object({ file: fileSchema, upload: signedUrlSchema }).openapi('UploadUrl');

const partSchema = z.object({ partNumber: z.int(), size: z.int(), etag: z.string() }).openapi('UploadedPart');
export const multipartSchema = z
  .object({
    file: fileSchema,
    parts: z.array(partSchema).openapi({ description: 'Parts received so far, by part number: a client resumes by sending the others.' }),
    minPartBytes: z.int().openapi({ example: MULTIPART.minPartBytes, description: 'Every part but the last must be at least this large, and all of them the same size (the last no larger).' }),
    maxPartBytes: z.int().openapi({ example: MULTIPART.maxPartBytes, description: 'R2 takes 5 GiB; here at most 100 MiB, and no more than one request may carry (`MAX_REQUEST_BODY_BYTES`).' }),
  })
  .openapi('MultipartUpload');
export { partSchema };

/** Signature parameters every signed URL carries. */
const signature = {
  org: idField.openapi({ param: { name: 'org', in: 'query' } }),
  expires: z
    .string()
    .regex(/^\d{1,12}$/)
    .transform(Number)
    .openapi({ param: { name: 'expires', in: 'query' }, description: 'Unix seconds.' }),
  kid: z
    .string()
    .regex(/^[\w-]{1,16}$/)
    .openapi({ param: { name: 'kid', in: 'query' } }),
  sig: z
    .string()
    .regex(/^[\w-]{43}$/)
    .openapi({ param: { name: 'sig', in: 'query' } }),
};
export const signedDownloadQuery = z.strictObject({
  ...signature,
  disposition: z.enum(['inline', 'attachment']).optional().openapi({ param: { name: 'disposition', in: 'query' } }),
});
export const signedUploadQuery = z.strictObject(signature);
export const signedParams = z.object({ fileId: pathId('fileId') });

const iso = (date: Date | null) => date && date.toISOString();

/** Row → response: an explicit pick, so a new column never leaks by accident. */
export function toFile(row: FileRow): z.infer<typeof fileSchema> {
  return {
    id: row.id,
    orgId: row.orgId,
    projectId: row.projectId,
    name: row.name,
    size: row.size,
    contentType: row.contentType as z.infer<typeof contentType>,
    sha256: row.sha256,
    status: row.status,
    uploadExpiresAt: row.status === 'pending' ? iso(row.expiresAt) : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The parts of a pending multipart upload, in part-number order. */
export function toParts(row: FileRow): Array<z.infer<typeof partSchema>> {
  return Object.entries(row.parts)
    .map(([partNumber, part]) => ({ partNumber: Number(partNumber), size: part.size, etag: part.etag }))
    .sort((a, b) => a.partNumber - b.partNumber);
}
