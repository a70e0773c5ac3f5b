import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';

export interface DevSecrets {
  JWT_SIGNING_KEY: string;
  TOKEN_SECRET: string;
}

/** Fresh local secrets: an Ed25519 signing key (JWK with kid) and an HMAC secret. Never for production. */
export async function generateSecrets(): Promise<DevSecrets> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: `dev-${crypto.randomUUID().slice(0, 8)}` };
  return { JWT_SIGNING_KEY: JSON.stringify(jwk), TOKEN_SECRET: crypto.randomUUID() + crypto.randomUUID() };
}

/** Local development secrets, generated once and kept in the (git-ignored) data folder. */
export async function loadOrCreateSecrets(path: string): Promise<DevSecrets> {
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as DevSecrets;
  const secrets = await generateSecrets();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}
