import { base64url, fromBase64url, timingSafeEqual } from './crypto.ts';

/** Workers cap PBKDF2 at 100,000 iterations. Stored hashes carry their own count, so it can be raised later. */
export const PBKDF2_ITERATIONS = 100_000;
const SALT_BYTES = 16;
const HASH_BITS = 256;

export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(password.normalize('NFKC')), 'PBKDF2', false, ['deriveBits']);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, key, HASH_BITS));
}

/** `pbkdf2-sha256$<iterations>$<salt>$<hash>` with a fresh random salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, PBKDF2_ITERATIONS);
  return `pbkdf2-sha256$${PBKDF2_ITERATIONS}$${base64url(salt)}$${base64url(hash)}`;
}

/**
 * Checks `password` against a stored hash in constant time. `needsRehash` says the stored
 * parameters are weaker than today's, so the caller can upgrade the hash after a good login.
 */
export async function verifyPassword(password: string, stored: string): Promise<{ valid: boolean; needsRehash: boolean }> {
  const [scheme, iterationsText, saltText, hashText] = stored.split('$');
  const iterations = Number(iterationsText);
  if (scheme !== 'pbkdf2-sha256' || !Number.isInteger(iterations) || !saltText || !hashText) return { valid: false, needsRehash: false };
  const actual = await derive(password, fromBase64url(saltText), iterations);
  return { valid: timingSafeEqual(actual, fromBase64url(hashText)), needsRehash: iterations < PBKDF2_ITERATIONS };
}

/**
 * A well-formed hash of a password nobody knows: logins for unknown emails verify against it, so they
 * take as long as real ones and response time does not reveal whether an account exists.
 */
export const DECOY_PASSWORD_HASH = `pbkdf2-sha256$${PBKDF2_ITERATIONS}$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;

/** Emails are compared and stored trimmed, NFC-normalised and lower-cased. */
export function normaliseEmail(email: string): string {
  return email.normalize('NFC').trim().toLowerCase();
}
