import { z } from '@hono/zod-openapi';
import { bodyErrorResponses, errorResponse, quotaErrorResponses } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import { orgParams } from '../../lib/fields.ts';
import { listEnvelope } from '../../lib/pagination.ts';
import { CLAIM_MARGIN_SECONDS } from '../../services/files.ts';
import { jsonBody, optionalJsonBody } from '../../lib/request-body.ts';
import { orgRoute, publicRoute, streamRoute } from '../route-kinds.ts';
import {
  downloadUrlBody,
  fileParams,
  fileSchema,
  listFilesQuery,
  multipartSchema,
  partParams,
  partSchema,
  signedDownloadQuery,
  signedParams,
  signedUploadQuery,
  signedUrlSchema,
  startUploadBody,
  uploadQuery,
  uploadUrlBody,
  uploadUrlSchema,
} from './files.schemas.ts';

const tags = ['Files'];
const file = dataEnvelope(fileSchema);

/** The bytes of a file, streamed: `Content-Length` is required and the body is never held whole in memory. */
const bytesBody = (description: string) => ({
  description,
  required: true,
  content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
});

/** What a streamed body may be refused for; nothing is stored when it is. */
const bytesErrors = {
  ...quotaErrorResponses,
  400: errorResponse('Malformed request: no `Content-Length`, fewer bytes than it announced, or (a part) a part number past what the declared size allows (`details.reason`).'),
  413: errorResponse(
    "Larger than the org's largest file (`storage.maxUploadBytes` of its usage; text types: at most 32 MiB whatever the tier), or than one request may carry " +
      '(`MAX_REQUEST_BODY_BYTES`, the Cloudflare plan\'s body limit, 100 MB by default: `details.reason` `use_multipart`); ' +
      '`PAYLOAD_TOO_LARGE` with `details.maxBytes`, nothing was stored.',
  ),
  415: errorResponse('A content type outside the allowlist, or bytes that are not of the declared type (`details.reason`); nothing was stored.'),
};

export const uploadFile = streamRoute('upload', 'files:write', {
  method: 'post',
  path: '/orgs/{orgId}/files',
  tags,
  summary: 'Upload a file (streamed)',
  description:
    'The body is the file; `Content-Type` one of the allowed types, checked against the bytes; `Content-Length` required, ' +
    "at most the org's largest file (`storage.maxUploadBytes` of its usage) and at most what one request may carry (100 MB by default: larger files go multipart). " +
    "Stored only when every check passes and the org's storage quota has room.",
  request: { params: orgParams, query: uploadQuery, body: bytesBody('The file.') },
  responses: { 201: jsonContent(file, 'The stored file.'), ...bytesErrors },
});

export const listFiles = orgRoute('files:read', {
  method: 'get',
  path: '/orgs/{orgId}/files',
  tags,
  summary: 'List files',
  description: 'Newest first, cursor-paginated; pending uploads included.',
  request: { params: orgParams, query: listFilesQuery },
  responses: { 200: jsonContent(listEnvelope(fileSchema), 'A page of files.') },
});

export const getFile = orgRoute('files:read', {
  method: 'get',
  path: '/orgs/{orgId}/files/{fileId}',
  tags,
  summary: 'Get a file’s metadata',
  request: { params: fileParams },
  responses: { 200: jsonContent(file, 'The file.') },
});

export const deleteFile = orgRoute('files:delete', {
  method: 'delete',
  path: '/orgs/{orgId}/files/{fileId}',
  tags,
  summary: 'Delete a file, or abort a pending upload',
  description: 'A stored file is soft-deleted (gone from every route at once; its bytes are removed after the retention period). A pending upload is aborted and removed.',
  request: { params: fileParams },
  responses: { 204: { description: 'Deleted.' } },
});

export const createDownloadUrl = orgRoute('files:read', {
  method: 'post',
  path: '/orgs/{orgId}/files/{fileId}/download-url',
  tags,
  rateLimitClass: 'read',
  summary: 'Sign a download URL',
  description: 'Anyone holding the URL may download the file until it expires; it names this file in this org only.',
  request: { params: fileParams, body: optionalJsonBody(downloadUrlBody, 'Optional: lifetime and disposition.') },
  responses: { 200: jsonContent(dataEnvelope(signedUrlSchema), 'The signed URL.'), ...bodyErrorResponses },
});

export const createUploadUrl = orgRoute('files:write', {
  method: 'post',
  path: '/orgs/{orgId}/files/upload-url',
  tags,
  summary: 'Sign an upload URL',
  description: 'Reserves the declared size against the storage quota; a client then PUTs exactly those bytes to the URL, with no credentials, once.',
  request: { params: orgParams, body: jsonBody(uploadUrlBody, 'The file to come.') },
  responses: {
    201: jsonContent(dataEnvelope(uploadUrlSchema), 'The pending file and its upload URL.'),
    ...bodyErrorResponses,
    ...quotaErrorResponses,
    413: errorResponse(
      "The JSON body is larger than the configured limit, or the declared size is larger than the org's largest file (`storage.maxUploadBytes` of its usage; text: 32 MiB) " +
        'or than one request may carry (`details.reason` `use_multipart`: the PUT is one request, so such a file goes multipart).',
    ),
  },
});

export const startMultipart = orgRoute('files:write', {
  method: 'post',
  path: '/orgs/{orgId}/files/multipart',
  tags,
  summary: 'Start a multipart upload',
  description: 'Reserves the declared size; parts then go to `PUT …/parts/{partNumber}`, and `POST …/complete` stores the file.',
  request: { params: orgParams, body: jsonBody(startUploadBody, 'The file to come.') },
  responses: {
    201: jsonContent(dataEnvelope(multipartSchema), 'The pending upload.'),
    ...bodyErrorResponses,
    ...quotaErrorResponses,
    413: errorResponse("The JSON body is larger than the configured limit, or the declared size is larger than the org's largest file (`storage.maxUploadBytes` of its usage; text: 32 MiB)."),
  },
});

export const uploadPart = streamRoute('upload', 'files:write', {
  method: 'put',
  path: '/orgs/{orgId}/files/{fileId}/parts/{partNumber}',
  tags,
  summary: 'Upload one part (streamed)',
  description: 'Every part but the last the same size and at least `minPartBytes`, the last no larger (R2’s rules, checked at completion); sending a part number again replaces that part.',
  request: { params: partParams, body: bytesBody('The part.') },
  responses: { 200: jsonContent(dataEnvelope(partSchema), 'The part as received.'), ...bytesErrors },
});

export const listParts = orgRoute('files:write', {
  method: 'get',
  path: '/orgs/{orgId}/files/{fileId}/parts',
  tags,
  rateLimitClass: 'read',
  summary: 'List the parts received (to resume)',
  request: { params: fileParams },
  responses: { 200: jsonContent(dataEnvelope(multipartSchema), 'The pending upload and its parts.') },
});

export const completeMultipart = orgRoute('files:write', {
  method: 'post',
  path: '/orgs/{orgId}/files/{fileId}/complete',
  tags,
  summary: 'Complete a multipart upload',
  description:
    'The parts must be numbered from 1 without a gap (400 `missing_parts`), every one but the last the same size and at least `minPartBytes` (400 `part_too_small`), ' +
    'the last no larger (400 `unequal_parts`), and add up to the declared size (400 `size_mismatch`); such a 400 leaves the upload open for resent parts, as does a 503 ' +
    '(R2 failed to join them). The whole file is checked (type, hash) before it counts as stored; a refused file is removed. ' +
    `An upload is completed at the latest ${CLAIM_MARGIN_SECONDS / 60} minutes before it expires (a day after its start); later it is a 404: start again.`,
  request: { params: fileParams },
  responses: {
    200: jsonContent(file, 'The stored file.'),
    ...quotaErrorResponses,
    400: errorResponse(
      'The parts received do not make the declared file (`details.reason`: `missing_parts`, `part_too_small`, `unequal_parts` or `size_mismatch`); the upload stays open for resent parts.',
    ),
    404: errorResponse(
      `No such upload in progress: unknown (or of another organization), completed, aborted, expired or within ${CLAIM_MARGIN_SECONDS / 60} minutes of expiring; ` +
        'or it expired while being completed (the joined file is removed).',
    ),
    409: errorResponse('Another request is completing this upload.'),
    413: errorResponse('The joined file is larger than the declared size (`PAYLOAD_TOO_LARGE`); it is removed with the upload.'),
    415: errorResponse('The joined file is not of the declared type, or a text file is not UTF-8 (`details.reason`); it is removed with the upload.'),
    503: {
      ...errorResponse(
        'R2 failed to join the parts (the upload stays open: list the parts, resend any and complete again), or R2 or the database is briefly unavailable ' +
          '(`SERVICE_UNAVAILABLE`); retry after `Retry-After` seconds.',
      ),
      headers: { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 1 } } },
    },
  },
});

const forbiddenSignature = errorResponse('The signature is invalid, expired, or not for this file (one message for all).');

export const downloadSigned = publicRoute({
  method: 'get',
  path: '/files/{fileId}/content',
  tags,
  // Anyone holding a URL may call it: limited per client IP (600 a minute), unlike anonymous reads of no data.
  rateLimitClass: 'download',
  summary: 'Download a file through a signed URL',
  description: 'Honours `Range` (one range), `If-None-Match`, `If-Modified-Since` and `If-Range`. No credentials: the signature is the grant.',
  request: { params: signedParams, query: signedDownloadQuery },
  responses: {
    200: { description: 'The file.', content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } },
    206: { description: 'The requested range.', content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } },
    304: { description: 'Not modified.' },
    403: forbiddenSignature,
    404: errorResponse('The file no longer exists.'),
    416: errorResponse('The range starts past the end of the file (`Content-Range: bytes */size`).'),
  },
});

export const uploadSigned = publicRoute({
  method: 'put',
  path: '/files/{fileId}/content',
  tags,
  rateLimitClass: 'upload',
  summary: 'Upload a file through a signed upload URL',
  description: 'Exactly the declared size and type; checked as any upload. Used once: a refused upload releases the reservation, and the URL with it.',
  request: { params: signedParams, query: signedUploadQuery, body: bytesBody('The file.') },
  responses: {
    200: jsonContent(file, 'The stored file.'),
    ...bytesErrors,
    403: forbiddenSignature,
    404: errorResponse('The upload no longer exists.'),
    409: errorResponse('The URL has already been used, or another request is uploading through it.'),
  },
});
