import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors.ts';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

// JSON is UTF-8 (RFC 8259); Request#json() would turn malformed bytes into U+FFFD and store them.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Rejects a request body that is not JSON with 415, and one that is not valid UTF-8 with 400 (like
 * malformed JSON), before any handler reads it.
 */
export function requireJsonBody(): MiddlewareHandler<AppEnv> {
  return async function requireJsonBody(c, next) {
    // The body itself decides, not the headers a client chose to send (a chunked body may carry neither).
    const hasBody = c.req.raw.body !== null && c.req.header('content-length') !== '0';
    if (BODY_METHODS.has(c.req.method) && hasBody) {
      const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json' && !type?.endsWith('+json')) {
        throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Request bodies must be JSON (Content-Type: application/json).');
      }
      // Hono caches the bytes, and the JSON validator later decodes the same (now known valid) bytes.
      if (!isUtf8(await c.req.arrayBuffer())) {
        throw new ApiError('BAD_REQUEST', 'The request body is not valid UTF-8.', { reason: 'invalid_utf8' });
      }
    }
    await next();
  };
}

function isUtf8(bytes: ArrayBuffer): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function limiterFor(maxSize: number): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new ApiError('PAYLOAD_TOO_LARGE', `Request body exceeds ${maxSize} bytes.`, { maxBytes: maxSize });
    },
  });
}

/** Caps the request body at the configured size; streams are counted, not trusted by Content-Length. */
export function limitBody(): MiddlewareHandler<AppEnv> {
  // Built once per configured size (in practice once per app), not once per request.
  let built: { maxSize: number; limiter: MiddlewareHandler<AppEnv> } | undefined;
  return async function limitBody(c, next) {
    const maxSize = c.var.config.BODY_LIMIT_BYTES;
    if (built?.maxSize !== maxSize) built = { maxSize, limiter: limiterFor(maxSize) };
    return built.limiter(c, next);
  };
}
