import { z } from '@hono/zod-openapi';
import { base64url, fromBase64url } from './crypto.ts';

/** How long a key's first answer is replayed; after that the key is new again. */
export const IDEMPOTENCY_TTL_HOURS = 24;

/**
 * 1–255 printable ASCII characters, no space at either end (HTTP strips those, so the server could not
 * tell `" a"` from `"a"`): UUIDs, ULIDs and Stripe-style keys all fit.
 */
export const IDEMPOTENCY_KEY_PATTERN = '^[\\x21-\\x7E]([\\x20-\\x7E]{0,253}[\\x21-\\x7E])?$';
const keyPattern = new RegExp(IDEMPOTENCY_KEY_PATTERN);

export const isIdempotencyKey = (value: string) => keyPattern.test(value);

/** The response headers a replay carries with the status and body (the rest is added per request on the way out). */
export const REPLAYED_HEADERS = ['content-type', 'location', 'etag'] as const;

/** What a key's first answer is stored as (sealed, see `seal`). */
export interface StoredResponse {
  status: number;
  headers: Array<[string, string]>;
  /** The body's exact bytes, base64url. */
  body: string;
}

const storedSchema = z.object({ status: z.int().min(100).max(599), headers: z.array(z.tuple([z.string(), z.string()])), body: z.string() });

/** JSON with object keys sorted at every depth, so a retry that orders or spaces its body differently is the same request. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A body as the fingerprint sees it: canonical JSON when it parses, else its text. */
export function canonicalBody(text: string): string {
  if (text === '') return '';
  try {
    return canonicalJson(JSON.parse(text));
  } catch {
    return text;
  }
}

const encoder = new TextEncoder();
const hex = (buffer: ArrayBuffer) => [...new Uint8Array(buffer)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
const hmacKey = (secret: BufferSource) => crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);

/** One caller's key, as stored: its hash, the request's fingerprint and the key that seals its answer. */
export interface IdempotencySecrets {
  keyHash: string;
  fingerprint: string;
  seal(response: StoredResponse): Promise<string>;
  open(sealed: string): Promise<StoredResponse | undefined>;
}

/**
 * Derives everything stored for `key` from `secret` (TOKEN_SECRET), the caller and the key, so the table
 * holds neither the key nor an answer in clear (an API key's secret is shown once, in a create response):
 * reading a stored answer takes the server's secret and the client's key. The fingerprint covers the
 * method, the path with its query and the canonical body.
 */
export async function idempotencySecrets(secret: string, actorId: string, key: string, request: { method: string; path: string; body: string }): Promise<IdempotencySecrets> {
  const root = await hmacKey(encoder.encode(secret));
  const material = await crypto.subtle.sign('HMAC', root, encoder.encode(`idempotency\n${actorId}\n${key}`));
  const derived = await hmacKey(material);
  const sign = async (label: string) => hex(await crypto.subtle.sign('HMAC', derived, encoder.encode(label)));
  const aes = await crypto.subtle.importKey('raw', material, 'AES-GCM', false, ['encrypt', 'decrypt']);
  return {
    keyHash: await sign('key'),
    fingerprint: await sign(`fingerprint\n${request.method}\n${request.path}\n${canonicalBody(request.body)}`),
    async seal(response) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, aes, encoder.encode(JSON.stringify(response))));
      return `${base64url(iv)}.${base64url(sealed)}`;
    },
    async open(sealed) {
      const [iv, data] = sealed.split('.');
      if (!iv || !data) return undefined;
      try {
        const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromBase64url(iv) }, aes, fromBase64url(data));
        return storedSchema.parse(JSON.parse(new TextDecoder().decode(plain)));
      } catch {
        return undefined;
      }
    },
  };
}

/** A stored answer, as a Response again: the same status, headers and bytes, marked as a replay. */
export function replayResponse(stored: StoredResponse): Response {
  const headers = new Headers(stored.headers);
  headers.set('Idempotent-Replayed', 'true');
  const body = stored.status === 204 || stored.status === 304 ? null : fromBase64url(stored.body);
  return new Response(body, { status: stored.status, headers });
}

/** A response, as stored: its status, the headers a replay carries, and its body's bytes. */
export async function storedResponse(response: Response): Promise<StoredResponse> {
  const headers = REPLAYED_HEADERS.flatMap((name): Array<[string, string]> => {
    const value = response.headers.get(name);
    return value === null ? [] : [[name, value]];
  });
  const body = base64url(new Uint8Array(await response.clone().arrayBuffer()));
  return { status: response.status, headers, body };
}
