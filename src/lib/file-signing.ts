import { base64url, fromBase64url, timingSafeEqual } from './crypto.ts';

// Signed file URLs: an HMAC-SHA256 over what the URL grants (purpose, file, org, expiry, disposition) under a
// key named by its id, so keys rotate: the first key signs, every listed key still verifies.

export type SignedPurpose = 'download' | 'upload';
export type Disposition = 'inline' | 'attachment';

export interface SignedGrant {
  purpose: SignedPurpose;
  fileId: string;
  orgId: string;
  /** Unix seconds. */
  expires: number;
  disposition?: Disposition;
}

/** A signing key: its id (published in the URL) and its secret. */
export interface UrlKey {
  id: string;
  secret: string;
}

const encoder = new TextEncoder();

const message = (grant: SignedGrant) => [grant.purpose, grant.fileId.toLowerCase(), grant.orgId.toLowerCase(), String(grant.expires), grant.disposition ?? ''].join('\n');

async function mac(key: UrlKey, grant: SignedGrant): Promise<Uint8Array> {
  // HKDF separates these keys from any other use of the same secret (e.g. TOKEN_SECRET, when no key is configured).
  const base = await crypto.subtle.importKey('raw', encoder.encode(key.secret), 'HKDF', false, ['deriveKey']);
  const hmac = await crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(`file-urls/${key.id}`) },
    base,
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    false,
    ['sign'],
  );
  return new Uint8Array(await crypto.subtle.sign('HMAC', hmac, encoder.encode(message(grant))));
}

/** The query parameters that carry `grant`, signed with the first of `keys`. */
export async function signGrant(keys: readonly UrlKey[], grant: SignedGrant): Promise<URLSearchParams> {
  const [key] = keys;
  if (!key) throw new Error('no file URL key');
  const params = new URLSearchParams({ org: grant.orgId, expires: String(grant.expires) });
  if (grant.disposition) params.set('disposition', grant.disposition);
  params.set('kid', key.id);
  params.set('sig', base64url(await mac(key, grant)));
  return params;
}

/** Whether `sig` signs `grant` under the key `kid` and the grant has not expired (`now` in unix seconds). Constant time. */
export async function verifyGrant(keys: readonly UrlKey[], grant: SignedGrant, kid: string, sig: string, now: number): Promise<boolean> {
  const key = keys.find((candidate) => candidate.id === kid);
  if (!key || grant.expires <= now) return false;
  let given: Uint8Array;
  try {
    given = fromBase64url(sig);
  } catch {
    return false;
  }
  return timingSafeEqual(given, await mac(key, grant));
}

/**
 * The keys from `FILE_URL_KEYS` (`id:secret,id:secret`, the first signs), or one key derived from TOKEN_SECRET
 * when none is configured.
 */
export function urlKeys(configured: string | undefined, tokenSecret: string): UrlKey[] {
  const listed = (configured ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => ({ id: entry.slice(0, entry.indexOf(':')), secret: entry.slice(entry.indexOf(':') + 1) }));
  return listed.length > 0 ? listed : [{ id: 't0', secret: tokenSecret }];
}
