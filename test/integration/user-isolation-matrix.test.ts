import { eq, inArray } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { getConfig } from '../../src/config.ts';
import { credentials, emailTokens, invitations, memberships, notificationPreferences, notifications, sessions, users } from '../../src/db/schema/index.ts';
import { PERMISSIONS } from '../../src/lib/permissions.ts';
import { signAccessToken } from '../../src/services/tokens.ts';
import { addMember, api, createApiKey, createOrg, createUser, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { forgedTokens } from '../helpers/forged-tokens.ts';
import { callOperation, expectRefused, operationsOfKind, pathParams, type DocumentedOperation } from '../helpers/route-matrix.ts';
import { env } from '../helpers/worker.ts';

/**
 * The isolation matrix of user routes (a signed-in user acting for themself), generated from the OpenAPI
 * document: every operation of kind 'user' is called with every credential that must not pass, and by
 * other users on the victim's own resources. Each refusal must carry the envelope, `no-store` and none of
 * the victim's data, and a refused write must change nothing.
 */
const userOperations = operationsOfKind('user');

/**
 * How the matrix fills each path parameter of a user route with the victim's resource, and what another
 * user gets for it: `{id}` is a user, whose public profile co-members may read but not change (403 on
 * writes); a session is private to its owner (404 to everyone else). A route with a parameter missing here
 * fails the coverage test, so whoever adds it decides.
 */
const VICTIM_PARAMS = {
  id: { value: (v: TestUser) => v.id, coMember: (method: string) => (method === 'get' ? undefined : 403) },
  sessionId: { value: (v: TestUser) => v.sessionId, coMember: () => 404 },
  notificationId: { value: () => victimNotificationId, coMember: () => 404 },
} satisfies Record<string, { value: (victim: TestUser) => string; coMember: (method: string) => number | undefined }>;
const isVictimParam = (name: string): name is keyof typeof VICTIM_PARAMS => name in VICTIM_PARAMS;

type Caller = (op: DocumentedOperation) => { headers: Record<string, string>; expected: number } | undefined;

let victim: TestUser;
let victimNotificationId: string;
let sharedOrg: TestOrg;
let everyone: TestUser[];
let key: { id: string; key: string };
let callers: Record<string, Caller>;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const meStatus = async (user: TestUser) => (await api('/api/v1/me', { auth: user })).status;

beforeAll(async () => {
  victim = await createUser({ name: `Victim ${crypto.randomUUID()}` });
  sharedOrg = await createOrg(victim);
  const coMember = await createUser();
  await addMember(sharedOrg, coMember, 'admin');
  const stranger = await createUser();
  await createOrg(stranger);
  const loggedOut = await createUser();
  const deactivated = await createUser();
  everyone = [victim, coMember, stranger, loggedOut, deactivated];
  key = await createApiKey(sharedOrg, { scopes: PERMISSIONS });
  const [notification] = await ownerDb.http
    .insert(notifications)
    .values({ userId: victim.id, category: 'security', type: 'security.password_changed', title: 'Your password was changed', body: victim.name, dedupeKey: 'matrix' })
    .returning({ id: notifications.id });
  victimNotificationId = notification?.id ?? '';
  const { accessToken: expiredToken } = await signAccessToken(getConfig(env), { userId: victim.id, sessionId: victim.sessionId, issuedAt: new Date(Date.now() - 7_200_000) });

  // Each broken credential worked a moment ago, so the matrix proves what broke it, not a typo.
  expect([await meStatus(loggedOut), await meStatus(deactivated)]).toEqual([200, 200]);
  expect((await api('/api/v1/auth/logout', { method: 'POST', auth: loggedOut })).status).toBe(204);
  await ownerDb.http.update(credentials).set({ deactivatedAt: new Date() }).where(eq(credentials.userId, deactivated.id));

  const always = (headers: Record<string, string>, expected: number): Caller => () => ({ headers, expected });
  const onVictimResources = (user: TestUser, expectedFor: (param: keyof typeof VICTIM_PARAMS, method: string) => number | undefined): Caller => (op) => {
    const params = pathParams(op.path).filter(isVictimParam);
    if (params.length === 0) return undefined; // the caller acts on their own account: nothing of the victim's to reach
    const statuses = params.map((param) => expectedFor(param, op.method));
    const expected = statuses.includes(404) ? 404 : statuses.find((status) => status !== undefined);
    return expected === undefined ? undefined : { headers: bearer(user.accessToken), expected };
  };
  const forged = await forgedTokens(victim, stranger.accessToken);
  callers = {
    anonymous: always({}, 401),
    "the victim's expired access token": always(bearer(expiredToken), 401),
    "a logged-out session's unexpired access token": always(bearer(loggedOut.accessToken), 401),
    "a deactivated account's access token": always(bearer(deactivated.accessToken), 401),
    'an API key with every scope, as Bearer': always(bearer(key.key), 403),
    'an API key with every scope, in X-API-Key': always({ 'x-api-key': key.key }, 403),
    ...Object.fromEntries(Object.entries(forged).map(([who, token]) => [`${who}, claiming the victim`, always(bearer(token), 401)])),
    'another user who shares no org': onVictimResources(stranger, () => 404),
    'another user who shares an org': onVictimResources(coMember, (param, method) => VICTIM_PARAMS[param].coMember(method)),
  };
});

/** What a refused write could have changed, for every user of this file: profiles, account state, sessions, memberships, email tokens, invitations. */
async function accountState() {
  const ids = everyone.map((user) => user.id);
  return ownerDb.http.batch([
    ownerDb.http.select({ id: users.id, email: users.email, name: users.name, updatedAt: users.updatedAt }).from(users).where(inArray(users.id, ids)).orderBy(users.id),
    ownerDb.http
      .select({ id: credentials.userId, passwordHash: credentials.passwordHash, deactivatedAt: credentials.deactivatedAt, emailVerifiedAt: credentials.emailVerifiedAt })
      .from(credentials)
      .where(inArray(credentials.userId, ids))
      .orderBy(credentials.userId),
    ownerDb.http.select({ id: sessions.id, revokedAt: sessions.revokedAt }).from(sessions).where(inArray(sessions.userId, ids)).orderBy(sessions.id),
    ownerDb.http.select().from(memberships).where(inArray(memberships.userId, ids)).orderBy(memberships.orgId, memberships.userId),
    ownerDb.http.select({ hash: emailTokens.tokenHash, usedAt: emailTokens.usedAt }).from(emailTokens).where(inArray(emailTokens.userId, ids)).orderBy(emailTokens.tokenHash),
    ownerDb.http.select({ id: invitations.id, acceptedAt: invitations.acceptedAt }).from(invitations).where(eq(invitations.orgId, sharedOrg.id)).orderBy(invitations.id),
    ownerDb.http.select().from(notifications).where(inArray(notifications.userId, ids)).orderBy(notifications.id),
    ownerDb.http.select().from(notificationPreferences).where(inArray(notificationPreferences.userId, ids)).orderBy(notificationPreferences.userId, notificationPreferences.category),
  ]);
}

describe('user isolation matrix', () => {
  it('covers the user routes, and knows how to fill every path parameter they take', () => {
    expect(userOperations.length).toBeGreaterThan(0);
    for (const [name, op] of userOperations) for (const param of pathParams(op.path)) expect(VICTIM_PARAMS, `${name}: {${param}}`).toHaveProperty(param);
  });

  it.each(userOperations)('%s refuses every credential that must not pass, and every other user', async (_, op) => {
    const secrets = [victim.email, victim.name, sharedOrg.name, sharedOrg.slug];
    const params = Object.fromEntries(Object.entries(VICTIM_PARAMS).map(([name, param]) => [name, param.value(victim)]));
    const before = op.method === 'get' ? undefined : await accountState();
    for (const [who, caller] of Object.entries(callers)) {
      const call = caller(op);
      if (call) await expectRefused(await callOperation(op, params, call.headers), { who, status: call.expected, secrets });
    }
    if (before) expect(await accountState()).toEqual(before);
  });

  it('refused the callers, not everyone: the victim still reads their own data, the API key still works on org routes', async () => {
    expect((await api(`/api/v1/orgs/${sharedOrg.id}`, { headers: { 'x-api-key': key.key } })).status).toBe(200);
    expect((await api(`/api/v1/users/${victim.id}`, { auth: victim })).status).toBe(200);
    const own = await api('/api/v1/me/sessions', { auth: victim });
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ data: [{ id: victim.sessionId, current: true }] });
    // The state the writes compare is not empty: every user, session and membership of this file is in it.
    const [people, , sessionRows, memberRows] = await accountState();
    expect([people.length, sessionRows.length, memberRows.length]).toEqual([everyone.length, everyone.length, 3]);
  });
});
