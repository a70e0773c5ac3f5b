import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { getConfig } from '../../src/config.ts';
import { credentials } from '../../src/db/schema/index.ts';
import { signAccessToken } from '../../src/services/tokens.ts';
import { api, createApiKey, createOrg, createUser, grantsChanged, ownerDb, type TestUser } from '../helpers/factories.ts';
import { forgedTokens } from '../helpers/forged-tokens.ts';
import { callOperation, expectRefused, operationsOfKind } from '../helpers/route-matrix.ts';
import { env } from '../helpers/worker.ts';

/**
 * The matrix of caller routes (any live user session or API key, no tenant's data, e.g. GET /flags),
 * generated from the OpenAPI document: every broken credential is a 401 with the envelope and no-store;
 * a live session and a live key are admitted.
 */
const callerOperations = operationsOfKind('caller');

let user: TestUser;
let liveKey: string;
let refused: Record<string, Record<string, string>>;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  user = await createUser();
  const org = await createOrg(user);
  liveKey = (await createApiKey(org, { scopes: ['projects:read'] })).key;
  const revokedKey = await createApiKey(org, { scopes: ['projects:read'], revoked: true });
  const expiredKey = await createApiKey(org, { scopes: ['projects:read'], expiresAt: new Date(Date.now() - 1000) });
  const loggedOut = await createUser();
  const deactivated = await createUser();
  expect((await api('/api/v1/auth/logout', { method: 'POST', auth: loggedOut })).status).toBe(204);
  await ownerDb.http.update(credentials).set({ deactivatedAt: new Date() }).where(eq(credentials.userId, deactivated.id));
  await grantsChanged(org.id);
  const { accessToken: expired } = await signAccessToken(getConfig(env), { userId: user.id, sessionId: user.sessionId, issuedAt: new Date(Date.now() - 7_200_000) });
  const forged = await forgedTokens(user, (await createUser()).accessToken);
  refused = {
    anonymous: {},
    'an expired token': bearer(expired),
    'a logged-out session': bearer(loggedOut.accessToken),
    'a deactivated account': bearer(deactivated.accessToken),
    'a revoked API key': bearer(revokedKey.key),
    'an expired API key': bearer(expiredKey.key),
    ...Object.fromEntries(Object.entries(forged).map(([name, token]) => [`a forged token (${name})`, bearer(token)])),
  };
});

describe('caller matrix', () => {
  it('has caller routes to cover', () => {
    expect(callerOperations.length).toBeGreaterThan(0);
  });

  it.each(callerOperations)('%s refuses every broken credential with 401, and admits a live session and a live key', async (_, op) => {
    for (const [who, headers] of Object.entries(refused)) {
      await expectRefused(await callOperation(op, {}, headers), { who, status: 401, secrets: [user.email] });
    }
    expect((await callOperation(op, {}, bearer(user.accessToken))).status).toBe(200);
    expect((await callOperation(op, {}, { 'x-api-key': liveKey })).status).toBe(200);
  });
});
