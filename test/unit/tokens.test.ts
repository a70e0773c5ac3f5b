import { decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.ts';
import { newRefreshToken, publicJwks, signAccessToken, successorRefreshToken, verifyAccessToken } from '../../src/services/tokens.ts';

type TokenConfig = Parameters<typeof signAccessToken>[0];
type SigningKey = TokenConfig['JWT_SIGNING_KEY'];

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const { x, d } = await exportJWK(privateKey);
  if (!x || !d) throw new Error('key export failed');
  return { kty: 'OKP', crv: 'Ed25519', x, d, kid };
}

const publicPart = ({ kty, crv, x, kid }: SigningKey) => ({ kty, crv, x, kid });

/** A fresh config object each time: key material is cached by the public keys, not by object. */
function config(key: SigningKey, overrides: Partial<TokenConfig> = {}): TokenConfig {
  return { JWT_SIGNING_KEY: { ...key }, JWT_PREVIOUS_KEYS: [], JWT_ISSUER: 'edge-saas', ACCESS_TOKEN_TTL_SECONDS: 900, TOKEN_SECRET: 's'.repeat(32), ...overrides };
}

const subject = () => ({ userId: crypto.randomUUID(), sessionId: crypto.randomUUID(), issuedAt: new Date() });

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(error)}`);
  return error;
}

describe('access tokens', () => {
  it('verify to the user and session they were signed for, and are deterministic for the same input', async () => {
    const current = config(await signingKey('k1'));
    const who = subject();
    const { accessToken, expiresIn } = await signAccessToken(current, who);
    expect(expiresIn).toBe(900);
    expect(await verifyAccessToken(current, accessToken)).toEqual({ userId: who.userId, sessionId: who.sessionId });
    expect((await signAccessToken(current, who)).accessToken).toBe(accessToken);
    expect(decodeJwt(accessToken)).toMatchObject({ iss: 'edge-saas', aud: 'api', sub: who.userId, sid: who.sessionId });
  });

  it('fail once expired, saying so', async () => {
    const current = config(await signingKey('k1'));
    const { accessToken } = await signAccessToken(current, { ...subject(), issuedAt: new Date(Date.now() - 901_000) });
    const error = await rejection(verifyAccessToken(current, accessToken));
    expect(error).toMatchObject({ code: 'UNAUTHORIZED', message: 'Access token has expired.' });
  });

  it('fail with the wrong issuer or audience', async () => {
    const key = await signingKey('k1');
    const { accessToken } = await signAccessToken(config(key, { JWT_ISSUER: 'someone-else' }), subject());
    expect(await rejection(verifyAccessToken(config(key), accessToken))).toMatchObject({ code: 'UNAUTHORIZED', message: 'Access token is invalid.' });

    const otherAudience = await new SignJWT({ sid: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
      .setSubject(crypto.randomUUID())
      .setIssuer('edge-saas')
      .setAudience('billing')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(await importJWK({ ...key, alg: 'EdDSA' }, 'EdDSA'));
    expect((await rejection(verifyAccessToken(config(key), otherAudience))).code).toBe('UNAUTHORIZED');
  });

  it('signed by a previous key still verify while that key is listed in JWT_PREVIOUS_KEYS, and not after', async () => {
    const old = await signingKey('old');
    const next = await signingKey('new');
    const { accessToken } = await signAccessToken(config(old), { ...subject() });
    expect(await verifyAccessToken(config(next, { JWT_PREVIOUS_KEYS: [publicPart(old)] }), accessToken)).toMatchObject({ sessionId: expect.any(String) });
    expect((await rejection(verifyAccessToken(config(next), accessToken))).code).toBe('UNAUTHORIZED');
  });

  it('fail when the signature or the payload is tampered with, or the algorithm is "none"', async () => {
    const current = config(await signingKey('k1'));
    const { accessToken } = await signAccessToken(current, subject());
    const [header, payload, signature] = accessToken.split('.');
    const flipped = `${signature?.slice(0, -2)}${signature?.endsWith('AA') ? 'BB' : 'AA'}`;
    expect((await rejection(verifyAccessToken(current, `${header}.${payload}.${flipped}`))).code).toBe('UNAUTHORIZED');

    const forgedClaims = btoa(JSON.stringify({ ...decodeJwt(accessToken), sub: crypto.randomUUID() })).replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_');
    expect((await rejection(verifyAccessToken(current, `${header}.${forgedClaims}.${signature}`))).code).toBe('UNAUTHORIZED');

    const none = btoa(JSON.stringify({ alg: 'none', typ: 'JWT' })).replace(/=+$/, '');
    expect((await rejection(verifyAccessToken(current, `${none}.${payload}.`))).code).toBe('UNAUTHORIZED');
    expect((await rejection(verifyAccessToken(current, 'not a jwt'))).code).toBe('UNAUTHORIZED');
  });

  it('fail without a session claim, even when properly signed', async () => {
    const key = await signingKey('k1');
    const sessionless = await new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
      .setSubject(crypto.randomUUID())
      .setIssuer('edge-saas')
      .setAudience('api')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(await importJWK({ ...key, alg: 'EdDSA' }, 'EdDSA'));
    expect((await rejection(verifyAccessToken(config(key), sessionless))).code).toBe('UNAUTHORIZED');
  });
});

describe('publicJwks', () => {
  it('publishes the current and previous public keys, never a private part', async () => {
    const old = await signingKey('old');
    const current = await signingKey('new');
    const { keys } = publicJwks(config(current, { JWT_PREVIOUS_KEYS: [publicPart(old)] }));
    expect(keys.map((key) => key.kid)).toEqual(['new', 'old']);
    for (const key of keys) {
      expect(key).not.toHaveProperty('d');
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    }
  });
});

describe('refresh tokens', () => {
  it('are random and recognisable', () => {
    const [a, b] = [newRefreshToken(), newRefreshToken()];
    expect(a).toMatch(/^rt_[\w-]{43}$/);
    expect(b).not.toBe(a);
  });

  it('have one successor per token and secret, which only the secret can derive', async () => {
    const key = await signingKey('k1');
    const presented = newRefreshToken();
    const successor = await successorRefreshToken(config(key), presented);
    expect(successor).toMatch(/^rt_[\w-]{43}$/);
    expect(await successorRefreshToken(config(key), presented)).toBe(successor);
    expect(await successorRefreshToken(config(key, { TOKEN_SECRET: 't'.repeat(32) }), presented)).not.toBe(successor);
    expect(await successorRefreshToken(config(key), newRefreshToken())).not.toBe(successor);
  });
});
