import { createLocalJWKSet, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import { createMemoryCache } from '../cache/memory-cache.ts';
import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';
import { hmacSha256, randomToken } from '../lib/crypto.ts';

const ALGORITHM = 'EdDSA';
const AUDIENCE = 'api';
export const REFRESH_TOKEN_PREFIX = 'rt_';

type TokenConfig = Pick<Config, 'JWT_SIGNING_KEY' | 'JWT_PREVIOUS_KEYS' | 'JWT_ISSUER' | 'ACCESS_TOKEN_TTL_SECONDS' | 'TOKEN_SECRET'>;

interface KeyMaterial {
  /** Names this set of keys: a verified token is remembered only for the keys that verified it. */
  fingerprint: string;
  signingKey: Promise<CryptoKey | Uint8Array>;
  kid: string;
  jwks: { keys: JWK[] };
  verify: ReturnType<typeof createLocalJWKSet>;
}

// Keys are imported once per isolate, so verifying a token costs no I/O. Keyed by the public keys (a
// private Ed25519 key determines its public `x`), so no secret becomes a cache key; a handful covers a rotation.
const keyMaterial = createMemoryCache<string, KeyMaterial>({ name: 'jwt-key-material', max: 8 });

function keys(config: TokenConfig): KeyMaterial {
  const { d: _private, ...current } = config.JWT_SIGNING_KEY;
  const publicKeys = [current, ...config.JWT_PREVIOUS_KEYS].map(({ kty, crv, x, kid }) => ({ kty, crv, x, kid, alg: ALGORITHM, use: 'sig' }));
  const fingerprint = JSON.stringify(publicKeys.map(({ kid, x }) => [kid, x]));
  let material = keyMaterial.get(fingerprint);
  if (!material) {
    const jwks = { keys: publicKeys };
    material = {
      fingerprint,
      signingKey: importJWK({ ...config.JWT_SIGNING_KEY, alg: ALGORITHM }, ALGORITHM),
      kid: config.JWT_SIGNING_KEY.kid,
      jwks,
      verify: createLocalJWKSet(jwks),
    };
    keyMaterial.set(fingerprint, material);
  }
  return material;
}

/** The public half of every key that may have signed a live token: GET /.well-known/jwks.json. */
export function publicJwks(config: TokenConfig): { keys: JWK[] } {
  return keys(config).jwks;
}

/**
 * Signs a short-lived access token. Ed25519 signatures are deterministic, so the same user, session
 * and `issuedAt` always produce the same token — which lets racing refreshes return identical pairs.
 * Roles are not in the token: they change, and are looked up per request.
 */
export async function signAccessToken(config: TokenConfig, subject: { userId: string; sessionId: string; issuedAt: Date }) {
  const material = keys(config);
  const iat = Math.floor(subject.issuedAt.getTime() / 1000);
  const accessToken = await new SignJWT({ sid: subject.sessionId })
    .setProtectedHeader({ alg: ALGORITHM, kid: material.kid, typ: 'JWT' })
    .setSubject(subject.userId)
    .setIssuer(config.JWT_ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + config.ACCESS_TOKEN_TTL_SECONDS)
    .sign(await material.signingKey);
  return { accessToken, expiresIn: config.ACCESS_TOKEN_TTL_SECONDS };
}

// Tokens verified a moment ago, by the same set of keys: a signature checks out the same every time, so a client's
// next request with the same token skips the Ed25519 verification; expiry is still checked on every use, and a
// key dropped from JWT_PREVIOUS_KEYS stops verifying at once. Whether the session is still live is never cached
// here: the org's edge authority or the gate decides that for every request.
const verifiedTokens = createMemoryCache<string, { userId: string; sessionId: string; expiresAt: number }>({ name: 'verified-access-tokens', max: 5_000, ttlMs: 60_000 });

/** Verifies signature, issuer, audience and expiry; resolves to the caller's user and session ids. */
export async function verifyAccessToken(config: TokenConfig, token: string): Promise<{ userId: string; sessionId: string }> {
  const material = keys(config);
  const cacheKey = `${material.fingerprint}\n${token}`;
  const known = verifiedTokens.get(cacheKey);
  if (known && known.expiresAt > Date.now()) return { userId: known.userId, sessionId: known.sessionId };
  try {
    const { payload } = await jwtVerify(token, material.verify, { issuer: config.JWT_ISSUER, audience: AUDIENCE, algorithms: [ALGORITHM] });
    if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || typeof payload.exp !== 'number') throw new Error('missing claims');
    verifiedTokens.set(cacheKey, { userId: payload.sub, sessionId: payload.sid, expiresAt: payload.exp * 1000 });
    return { userId: payload.sub, sessionId: payload.sid };
  } catch (error) {
    const expired = error instanceof Error && 'code' in error && error.code === 'ERR_JWT_EXPIRED';
    throw new ApiError('UNAUTHORIZED', expired ? 'Access token has expired.' : 'Access token is invalid.');
  }
}

/** A fresh refresh token (a new session). */
export function newRefreshToken(): string {
  return randomToken(REFRESH_TOKEN_PREFIX);
}

/**
 * The token that replaces `presented` on rotation: an HMAC under a server secret, so only the holder
 * of `presented` gets it, and every concurrent refresh of `presented` derives the same successor.
 */
export async function successorRefreshToken(config: TokenConfig, presented: string): Promise<string> {
  return REFRESH_TOKEN_PREFIX + (await hmacSha256(config.TOKEN_SECRET, presented));
}
