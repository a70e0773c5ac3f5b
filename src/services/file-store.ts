import { ApiError } from '../errors.ts';
import { bytesFitType, FILE_TYPES, isTextType, SNIFF_BYTES, type FileType } from '../lib/file-types.ts';
import { log } from '../lib/log.ts';

// File bytes on R2: streamed through a check (type signature, size, UTF-8 for text) and a SHA-256 on their way,
// never held whole in the isolate's memory.

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

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.byteLength + b.byteLength);
  joined.set(a);
  joined.set(b, a.byteLength);
  return joined;
}

/**
 * A pass-through that checks bytes as they flow: the first SNIFF_BYTES against `type`'s signature (held back
 * until seen), the running size against `maxBytes`, and text as strict UTF-8 without NUL; it hashes what passes.
 * On a refusal the stream errors and `rejection()` says why, so whatever consumes it (an R2 put) fails too.
 */
export function inspectBytes(type: FileType, maxBytes: number) {
  const digest = new crypto.DigestStream('SHA-256');
  const hasher = digest.getWriter();
  const text = isTextType(type) ? new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }) : undefined;
  let head: Uint8Array | undefined = new Uint8Array(0);
  let size = 0;
  let rejection: FileRejected | undefined;
  const fail = (reason: FileRejected['reason']) => (rejection = new FileRejected(reason));
  const checkText = (chunk: Uint8Array | undefined) => {
    if (!text) return;
    try {
      if (chunk) text.decode(chunk, { stream: true });
      else text.decode();
    } catch {
      throw fail('encoding');
    }
    if (chunk?.includes(0)) throw fail('encoding');
  };
  // The digest copies what it is given before the chunk moves on; its writes queue in order and are awaited at the end.
  let hashing: Promise<void> = Promise.resolve();
  const pass = (chunk: Uint8Array, controller: TransformStreamDefaultController<Uint8Array>) => {
    const write = hasher.write(chunk);
    write.catch(() => undefined);
    hashing = write;
    controller.enqueue(chunk);
  };
  const transform = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      size += chunk.byteLength;
      if (size > maxBytes) throw fail('size');
      checkText(chunk);
      if (head === undefined) return pass(chunk, controller);
      head = concat(head, chunk);
      if (head.byteLength < SNIFF_BYTES) return;
      if (!bytesFitType(head, type)) throw fail('type');
      const held = head;
      head = undefined;
      pass(held, controller);
    },
    async flush(controller) {
      if (head !== undefined) {
        if (!bytesFitType(head, type)) throw fail('type');
        if (head.byteLength > 0) pass(head, controller);
      }
      checkText(undefined);
      await hashing;
      await hasher.close();
    },
  });
  return {
    stream: transform,
    rejection: () => rejection,
    size: () => size,
    sha256: async () => toHex(await digest.digest),
  };
}

export type Inspection = ReturnType<typeof inspectBytes>;

/** Streams `body` (exactly `length` bytes) through `inspection` into R2 at `key`. */
export async function putInspected(bucket: R2Bucket, key: string, body: ReadableStream<Uint8Array>, length: number, inspection: Inspection, contentType: string): Promise<void> {
  const checked = body.pipeThrough(inspection.stream).pipeThrough(new FixedLengthStream(length));
  await bucket.put(key, checked, { httpMetadata: { contentType } });
}

/** Reads a stored object back through `inspection` (a completed multipart upload is checked whole this way). */
export async function inspectStored(bucket: R2Bucket, key: string, inspection: Inspection): Promise<boolean> {
  const object = await bucket.get(key);
  if (!object) return false;
  await object.body.pipeThrough(inspection.stream).pipeTo(new WritableStream());
  return true;
}

/** The byte count a streamed body announces (`Content-Length`, required), refused past `maxBytes` before any is read. */
export function declaredLength(request: Request, maxBytes: number): number {
  const header = request.headers.get('content-length');
  if (header === null || !/^\d{1,15}$/.test(header)) {
    throw new ApiError('BAD_REQUEST', 'Content-Length is required: the size of the file in bytes.', { reason: 'length_required' });
  }
  const length = Number(header);
  if (length > maxBytes) throw tooLarge(maxBytes);
  return length;
}

const tooLarge = (maxBytes: number) => new ApiError('PAYLOAD_TOO_LARGE', `The file is larger than this plan allows (${maxBytes} bytes).`, { maxBytes });

/** The 4xx for bytes `inspectBytes` refused. */
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

/**
 * Streams a request body of `length` bytes into R2 at `key`, checked as `type` and hashed on the way. Any failure
 * leaves no object: a refusal is its 4xx, a body shorter than announced a 400, R2 failing a 503.
 */
export async function storeBody(bucket: R2Bucket, key: string, body: ReadableStream<Uint8Array> | null, length: number, type: FileType, maxBytes: number) {
  const inspection = inspectBytes(type, maxBytes);
  try {
    await putInspected(bucket, key, body ?? new ReadableStream({ start: (controller) => controller.close() }), length, inspection, type);
  } catch (error) {
    await discardObject(bucket, key);
    const rejection = inspection.rejection();
    if (rejection) throw rejectionError(rejection, type, maxBytes);
    if (inspection.size() !== length) throw new ApiError('BAD_REQUEST', 'The body did not have Content-Length bytes.', { reason: 'length_mismatch' });
    log('error', 'storing a file failed', { key, error: String(error) });
    throw new ApiError('SERVICE_UNAVAILABLE', 'File storage is briefly unavailable.', undefined, { 'Retry-After': '5' });
  }
  return { size: inspection.size(), sha256: await inspection.sha256() };
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
