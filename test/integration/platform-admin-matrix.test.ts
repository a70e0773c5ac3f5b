import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { getConfig } from '../../src/config.ts';
import { organizations, sessions, featureFlags } from '../../src/db/schema/index.ts';
import { ORG_ROLES, PERMISSIONS } from '../../src/lib/permissions.ts';
import { signAccessToken } from '../../src/services/tokens.ts';
import { createApiKey, createMember, createOrg, createPlatformAdmin, createUser, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { callOperation, expectRefused, operationsOfKind } from '../helpers/route-matrix.ts';
import { env } from '../helpers/worker.ts';

/**
 * The isolation matrix of platform-admin routes, generated from the OpenAPI document: every operation of
 * kind 'platform-admin' is called by every caller that is not a platform admin with a live session. For
 * tenants, even an org's owner, these routes do not exist (404); credentials that do not identify a
 * signed-in user are refused as on user routes. A refused call changes nothing, and a platform admin gets through.
 */
const platformOperations = operationsOfKind('platform-admin');

type Caller = { headers: Record<string, string>; expected: number };

let org: TestOrg;
let admin: TestUser;
/** A flag for the routes that take `{key}`: its state must not move for anyone refused either. */
const flagKey = `matrix-${crypto.randomUUID().slice(0, 8)}`;
let callers: Record<string, Caller>;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  const owner = await createUser({ name: `Victim Owner ${crypto.randomUUID()}` });
  org = await createOrg(owner);
  await ownerDb.http.insert(featureFlags).values({ key: flagKey, description: 'matrix', enabled: false });
  admin = await createPlatformAdmin();
  const loggedOutAdmin = await createPlatformAdmin();
  await ownerDb.http.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.id, loggedOutAdmin.sessionId));
  const { accessToken: expiredToken } = await signAccessToken(getConfig(env), { userId: admin.id, sessionId: admin.sessionId, issuedAt: new Date(Date.now() - 7_200_000) });
  const key = await createApiKey(org, { scopes: PERMISSIONS });
  const roles: Record<string, Caller> = {};
  for (const role of ORG_ROLES) {
    const user = role === 'owner' ? owner : await createMember(org, role);
    roles[`the org's ${role}`] = { headers: bearer(user.accessToken), expected: 404 };
  }
  callers = {
    anonymous: { headers: {}, expected: 401 },
    "a platform admin's expired access token": { headers: bearer(expiredToken), expected: 401 },
    "a logged-out platform admin's access token": { headers: bearer(loggedOutAdmin.accessToken), expected: 401 },
    'an API key with every scope, as Bearer': { headers: bearer(key.key), expected: 403 },
    'an API key with every scope, in X-API-Key': { headers: { 'x-api-key': key.key }, expected: 403 },
    ...roles,
    'a user in no org': { headers: bearer((await createUser()).accessToken), expected: 404 },
  };
});

/** What a refused call could have changed: the victim org's limits, and the flag. */
async function victimLimits() {
  const [limits] = await ownerDb.http
    .select({ tier: organizations.subscriptionTier, overrides: organizations.limitOverrides, updatedAt: organizations.updatedAt })
    .from(organizations)
    .where(eq(organizations.id, org.id));
  const [flag] = await ownerDb.http.select({ version: featureFlags.version, enabled: featureFlags.enabled }).from(featureFlags).where(eq(featureFlags.key, flagKey));
  return { limits, flag };
}

describe('platform-admin isolation matrix', () => {
  it('covers the platform-admin routes, all under /api/v1/admin/', () => {
    expect(platformOperations.length).toBeGreaterThan(0);
    for (const [name, op] of platformOperations) expect(op.path, name).toMatch(/^\/api\/v1\/admin\//);
  });

  it.each(platformOperations)('%s refuses everyone but a platform admin, and changes nothing for them', async (_, op) => {
    const secrets = [org.name, org.slug];
    const before = await victimLimits();
    for (const [who, call] of Object.entries(callers)) {
      await expectRefused(await callOperation(op, { orgId: org.id, key: flagKey }, call.headers), { who, status: call.expected, secrets });
    }
    expect(await victimLimits()).toEqual(before);
  });

  it.each(platformOperations)('%s answers a platform admin', async (_, op) => {
    const response = await callOperation(op, { orgId: org.id, key: flagKey }, bearer(admin.accessToken));
    expect(response.status, await response.clone().text()).toBeLessThan(300);
  });
});
