import { generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { getConfig } from '../../src/config.ts';
import { env } from './worker.ts';

/** Who a forged token claims to be: a real user and one of their live sessions. */
export interface Claimed {
  id: string;
  sessionId: string;
}

const config = getConfig(env);

/**
 * Access tokens an attacker could make for `victim`, each otherwise exactly like a real one (the
 * server's `kid`, issuer, audience, a live session, a fresh expiry), so only the forgery can refuse them:
 * signed by a key the server never published, a real token of `attacker` with its claims swapped for the
 * victim's (the signature no longer matches), and an unsigned token (`alg: none`).
 */
export async function forgedTokens(victim: Claimed, attackerToken: string): Promise<Record<string, string>> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: victim.id, sid: victim.sessionId, iss: config.JWT_ISSUER, aud: 'api', iat: now, exp: now + 600 };
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: config.JWT_SIGNING_KEY.kid, typ: 'JWT' }).sign(privateKey);
  const [header, , signature] = attackerToken.split('.');
  const swapped = `${header}.${base64Url(JSON.stringify(claims))}.${signature}`;
  const unsigned = new UnsecuredJWT(claims).encode();
  return { 'a token signed by a foreign key': foreign, "a real token with the victim's claims swapped in": swapped, 'an unsigned token (alg none)': unsigned };
}

const base64Url = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
