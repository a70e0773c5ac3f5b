import { ApiError } from '../errors.ts';
import { bytesFitType, FILE_TYPES, isTextType, SNIFF_BYTES, type FileType } from '../lib/file-types.ts';
import { log } from '../lib/log.ts';

// File bytes on R2: streamed through a check (type signature, size, UTF-8 for text) and a native SHA-256 on
// their way, in two reused buffers: never held whole in the isolate's memory, and no garbage per chunk.

/** Why bytes were refused: not the declared type, larger than allowed, or text that is not UTF-8 without NUL. */
export class FileRejected extends Error {
  override readonly name = 'FileRejected';
  readonly reason: 'type' | 'size' | 'encoding';
  constructor(reason: FileRejected['reason']) {
    super(`file rejected: ${reason}`);
    this.reason = reason;
  }
}

/** The R2 key of a file's bytes: always under its org's prefix. */
export const objectKey = (orgId: string, fileId: string) => `orgs/${orgId.toLowerCase()}/files/${fileId.toLowerCase()}`;

const toHex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((byte) => byte.toString(16).padStart(2, '0')).join('');

/**
 * Bytes read at a time into one of two reused buffers: one fills while the other is written, so the isolate's
 * memory stays flat whatever the file's size, and JavaScript sees a chunk only every 512 KiB.
 */
const CHUNK_BYTES = 512 * 1024;

/** A size and SHA-256 of bytes that passed the checks. */
export interface Checked {
  size: number;
  sha256: string;
}

function textCheck(type: FileType) {
  if (!isTextType(type)) return undefined;
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  return (chunk: Uint8Array | undefined) => {
    try {
      if (chunk) decoder.decode(chunk, { stream: true });
      else decoder.decode();
    } catch {
      throw new FileRejected('encoding');
    }
    if (chunk?.includes(0)) throw new FileRejected('encoding');
  };
}

/**
 * Reads `body` through the checks into `sink` (if any): the first SNIFF_BYTES against `type`'s signature before
 * any byte is written, the running size against `maxBytes`, text as strict UTF-8 without NUL (only text types:
 * it is the one check that reads every byte in JavaScript); every byte goes to a native SHA-256. Throws
 * FileRejected on a refusal, and whatever the body or the sink throw.
 */
export async function checkBytes(body: ReadableStream<Uint8Array>, type: FileType, maxBytes: number, sink?: (chunk: Uint8Array) => Promise<unknown>): Promise<Checked> {
  const digest = new crypto.DigestStream('SHA-256');
  digest.digest.catch(() => undefined);
  const hasher = digest.getWriter();
  const text = textCheck(type);
  const reader = body.getReader({ mode: 'byob' });
  let spare = new ArrayBuffer(CHUNK_BYTES);
  let writing: Promise<unknown> = Promise.resolve();
  let writingBuffer = new ArrayBuffer(CHUNK_BYTES);
  let size = 0;
  try {
    for (;;) {
      // The first read waits for the signature; later ones for a full buffer (or the end).
      const { value, done } = await reader.readAtLeast(size === 0 ? SNIFF_BYTES : CHUNK_BYTES, new Uint8Array(spare));
      await writing;
      if (!value || value.byteLength === 0) {
        if (done || !value) break;
        spare = value.buffer as ArrayBuffer;
        continue;
      }
      if (size === 0 && !bytesFitType(value, type)) throw new FileRejected('type');
      size += value.byteLength;
      if (size > maxBytes) throw new FileRejected('size');
      text?.(value);
      writing = Promise.all([hasher.write(value), sink?.(value)]);
      spare = writingBuffer;
      writingBuffer = value.buffer as ArrayBuffer;
      if (done) break;
    }
    await writing;
    if (size === 0 && !bytesFitType(new Uint8Array(0), type)) throw new FileRejected('type');
    text?.(undefined);
    await hasher.close();
    return { size, sha256: toHex(await digest.digest) };
  } catch (error) {
    writing.catch(() => undefined);
    await reader.cancel(error).catch(() => undefined);
    await hasher.abort(error).catch(() => undefined);
    throw error;
  }
}

/** Checks a stored object by reading it back (a completed multipart upload is checked whole this way); undefined if it is gone. */
export async function checkStored(bucket: R2Bucket, key: string, type: FileType, maxBytes: number): Promise<Checked | undefined> {
  const object = await bucket.get(key);
  return object ? checkBytes(object.body, type, maxBytes) : undefined;
}

/**
 * The byte count a streamed body announces (`Content-Length`, required), refused before any is read past
 * `maxBytes` (the largest file allowed) and past `bodyLimit` (what one request may carry: go multipart).
 */
export function declaredLength(request: Request, maxBytes: number, bodyLimit: number): number {
  const header = request.headers.get('content-length');
  if (header === null || !/^\d{1,15}$/.test(header)) {
    throw new ApiError('BAD_REQUEST', 'Content-Length is required: the size of the file in bytes.', { reason: 'length_required' });
  }
  const length = Number(header);
  if (length > maxBytes) throw tooLarge(maxBytes);
  if (length > bodyLimit) throw bodyTooLarge(bodyLimit);
  return length;
}

const tooLarge = (maxBytes: number) => new ApiError('PAYLOAD_TOO_LARGE', `The file is larger than this plan allows (${maxBytes} bytes).`, { maxBytes });

/** The 413 of a file larger than one request may carry (the Cloudflare plan's body limit): it must go multipart. */
export const bodyTooLarge = (bodyLimit: number) =>
  new ApiError('PAYLOAD_TOO_LARGE', `One request carries at most ${bodyLimit} bytes: upload a larger file in parts (POST /api/v1/orgs/{orgId}/files/multipart).`, {
    reason: 'use_multipart',
    maxBytes: bodyLimit,
  });

/** The 4xx for bytes `checkBytes` refused. */
export function rejectionError(rejection: FileRejected, type: string, maxBytes: number): ApiError {
  if (rejection.reason === 'size') return tooLarge(maxBytes);
  if (rejection.reason === 'encoding') return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'A text file must be UTF-8 without NUL bytes.', { reason: 'not_text', contentType: type });
  return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'The file’s bytes are not of its declared type.', { reason: 'type_mismatch', contentType: type });
}

/** The 415 for a content type outside the allowlist. */
export const unsupportedType = () =>
  new ApiError('UNSUPPORTED_MEDIA_TYPE', `Files must be one of: ${FILE_TYPES.join(', ')}.`, { reason: 'type_not_allowed', allowed: FILE_TYPES });

/** Deletes an object whose upload failed; a failure to delete is logged (the cleanup task finds no row for it). */
export async function discardObject(bucket: R2Bucket, key: string): Promise<void> {
  try {
    await bucket.delete(key);
  } catch (error) {
    log('error', 'could not delete a failed upload’s object', { key, error: String(error) });
  }
}

const lengthMismatch = () => new ApiError('BAD_REQUEST', 'The body did not have Content-Length bytes.', { reason: 'length_mismatch' });

/**
 * Streams a request body of `length` bytes into R2 at `key`, checked as `type` and hashed on the way (R2 reads
 * through a native FixedLengthStream, so it knows the length). Any failure leaves no object: a refusal is its
 * 4xx, a body shorter or longer than announced a 400, R2 failing a 503.
 */
export async function storeBody(bucket: R2Bucket, key: string, body: ReadableStream<Uint8Array> | null, length: number, type: FileType, maxBytes: number): Promise<Checked> {
  const fixed = new FixedLengthStream(length);
  const put = bucket.put(key, fixed.readable, { httpMetadata: { contentType: type } });
  put.catch(() => undefined);
  const writer = fixed.writable.getWriter();
  let received = 0;
  const sink = (chunk: Uint8Array) => {
    received += chunk.byteLength;
    if (received > length) throw lengthMismatch();
    return writer.write(chunk);
  };
  try {
    const checked = await checkBytes(body ?? new Response(new Uint8Array(0)).body ?? new ReadableStream(), type, maxBytes, sink);
    if (checked.size !== length) throw lengthMismatch();
    await writer.close();
    await put;
    return checked;
  } catch (error) {
    await writer.abort(error).catch(() => undefined);
    // The put settles before the delete, so an object it might still write cannot outlive the delete.
    await put.catch(() => undefined);
    await discardObject(bucket, key);
    if (error instanceof FileRejected) throw rejectionError(error, type, maxBytes);
    if (error instanceof ApiError) throw error;
    if (received !== length) throw lengthMismatch();
    log('error', 'storing a file failed', { key, error: String(error) });
    throw new ApiError('SERVICE_UNAVAILABLE', 'File storage is briefly unavailable.', undefined, { 'Retry-After': '5' });
  }
}

/** Runs `work` (the metadata write) and deletes the stored object if it fails, so a failed upload leaves nothing. */
export async function keepIf<T>(bucket: R2Bucket, key: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    await discardObject(bucket, key);
    throw error;
  }
}
