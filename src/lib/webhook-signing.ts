import { base64url, fromBase64url } from './crypto.ts';

// Standard Webhooks (https://www.standardwebhooks.com): `webhook-signature: v1,<base64 HMAC-SHA256 of
// "<webhook-id>.<webhook-timestamp>.<body>">`, keyed with the bytes the `whsec_` secret's base64 encodes.

const encoder = new TextEncoder();
const SECRET_PREFIX = 'whsec_';

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (char) => char.charCodeAt(0));

/** A new signing secret, `whsec_` + base64 of 24 random bytes (as Svix issues them). */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(24)));
}

/**
 * The `webhook-signature` header: one `v1,<signature>` per secret, space-separated (during a rotation's grace
 * period the previous secret signs too, so a receiver holding either verifies).
 */
export async function signWebhook(secrets: readonly string[], id: string, timestamp: number, body: string): Promise<string> {
  const content = encoder.encode(`${id}.${timestamp}.${body}`);
  const signatures = await Promise.all(
    secrets.map(async (secret) => {
      const key = await crypto.subtle.importKey('raw', fromBase64(secret.slice(SECRET_PREFIX.length)), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      return `v1,${toBase64(new Uint8Array(await crypto.subtle.sign('HMAC', key, content)))}`;
    }),
  );
  return signatures.join(' ');
}

/**
 * Secrets at rest: AES-256-GCM under a key derived from TOKEN_SECRET by HKDF (so no new secret to deploy),
 * with the endpoint's id as associated data, so a ciphertext moved to another endpoint does not decrypt.
 * Stored as `v1.<iv>.<ciphertext>` (base64url).
 */
async function secretKey(tokenSecret: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey('raw', encoder.encode(tokenSecret), 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode('edge-saas webhook secrets v1') },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** Encrypts a signing secret for storage, bound to its endpoint. */
export async function sealWebhookSecret(tokenSecret: string, endpointId: string, secret: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(endpointId) }, await secretKey(tokenSecret), encoder.encode(secret));
  return `v1.${base64url(iv)}.${base64url(new Uint8Array(sealed))}`;
}

/** Decrypts a stored signing secret; throws if it was altered or belongs to another endpoint. */
export async function openWebhookSecret(tokenSecret: string, endpointId: string, stored: string): Promise<string> {
  const [version, iv, sealed] = stored.split('.');
  if (version !== 'v1' || !iv || !sealed) throw new Error('unknown webhook secret format');
  const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromBase64url(iv), additionalData: encoder.encode(endpointId) }, await secretKey(tokenSecret), fromBase64url(sealed));
  return new TextDecoder().decode(plain);
}
