import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { auditChainHeads, invitations } from '../../src/db/schema/index.ts';
import { getConfig } from '../../src/config.ts';
import { sha256Hex } from '../../src/lib/crypto.ts';
import { ROUTE_CLASSES } from '../../src/lib/limits.ts';
import { ORG_ROLES, orgRolesFor, PERMISSIONS, type OrgRole, type Permission } from '../../src/lib/permissions.ts';
import { signAccessToken } from '../../src/services/tokens.ts';
import { api, createApiKey, createMember, createOrg, createProject, createUser, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { callOperation, describeOperation, documentedOperations, expectRefused, fillPath, operationsOfKind, ORG_KINDS } from '../helpers/route-matrix.ts';
import { endpointWithMessage, receiverUrl } from '../helpers/webhooks.ts';
import { env } from '../helpers/worker.ts';

/**
 * The isolation matrix, generated from the route table itself: every operation of kind 'org' (every
 * org-scoped route, see src/routes/route-kinds.ts) is called by every kind of caller that must be
 * refused. A route added tomorrow is covered without anyone remembering to. User routes have their own
 * matrix (user-isolation-matrix.test.ts); the guard below keeps any route from skipping both.
 */
const orgOperations = operationsOfKind(...ORG_KINDS);

interface Victim {
  owner: TestUser;
  org: TestOrg;
  member: TestUser;
  params: Record<string, string>;
  secrets: string[];
}

let victim: Victim;
let strangerParams: Record<string, string>;
let strangerToken: string;
let callers: Record<string, (permission: Permission) => Promise<{ headers: Record<string, string>; expected: number } | undefined>>;

beforeAll(async () => {
  const owner = await createUser({ name: `Victim Owner ${crypto.randomUUID()}` });
  const org = await createOrg(owner);
  const project = await createProject(org, { name: `Victim Project ${crypto.randomUUID()}` });
  const member = await createMember(org, 'viewer');
  const key = await createApiKey(org, { scopes: ['projects:read'] });
  const inviteEmail = `invitee-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const [invitation] = await ownerDb.http
    .insert(invitations)
    .values({ orgId: org.id, email: inviteEmail, role: 'member', tokenHash: await sha256Hex(crypto.randomUUID()), invitedBy: owner.id, expiresAt: new Date(Date.now() + 86_400_000) })
    .returning({ id: invitations.id });
  const hookUrl = receiverUrl();
  const hook = await endpointWithMessage(org, hookUrl);
  victim = {
    owner,
    org,
    member,
    params: { orgId: org.id, projectId: project.id, userId: member.id, keyId: key.id, invitationId: invitation?.id ?? '', roomId: 'general', endpointId: hook.endpointId, messageId: hook.messageId },
    secrets: [org.name, org.slug, project.name, owner.email, owner.name, member.email, inviteEmail, hookUrl, hook.secret],
  };

  const stranger = await createUser();
  const strangerOrg = await createOrg(stranger);
  strangerParams = { orgId: strangerOrg.id, projectId: (await createProject(strangerOrg)).id, userId: stranger.id, roomId: 'general' };
  strangerToken = stranger.accessToken;
  const strangerKey = await createApiKey(strangerOrg, { scopes: PERMISSIONS });
  const revokedKey = await createApiKey(org, { scopes: PERMISSIONS, revoked: true });
  const expiredKey = await createApiKey(org, { scopes: PERMISSIONS, expiresAt: new Date(Date.now() - 1000) });
  const { accessToken: expiredToken } = await signAccessToken(getConfig(env), { userId: owner.id, sessionId: owner.sessionId, issuedAt: new Date(Date.now() - 7_200_000) });
  const membersByRole = new Map<OrgRole, TestUser>();
  for (const role of ORG_ROLES) membersByRole.set(role, role === 'owner' ? owner : await createMember(org, role));
  const keysWithout = new Map<Permission, string>();
  for (const permission of PERMISSIONS) keysWithout.set(permission, (await createApiKey(org, { scopes: PERMISSIONS.filter((p) => p !== permission) })).key);

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  callers = {
    anonymous: async () => ({ headers: {}, expected: 401 }),
    'expired access token': async () => ({ headers: bearer(expiredToken), expected: 401 }),
    'revoked API key': async () => ({ headers: bearer(revokedKey.key), expected: 401 }),
    'expired API key': async () => ({ headers: { 'x-api-key': expiredKey.key }, expected: 401 }),
    'member of another org': async () => ({ headers: bearer(stranger.accessToken), expected: 404 }),
    "another org's API key with every scope": async () => ({ headers: bearer(strangerKey.key), expected: 404 }),
    'API key without the scope': async (permission) => ({ headers: bearer(keysWithout.get(permission) ?? ''), expected: 403 }),
    'a role without the permission': async (permission) => {
      const role = ORG_ROLES.find((candidate) => !orgRolesFor(permission).includes(candidate));
      const user = role && membersByRole.get(role);
      return user ? { headers: bearer(user.accessToken), expected: 403 } : undefined;
    },
  };
});

const chainHead = async (orgId: string) =>
  (await ownerDb.http.select({ seq: auditChainHeads.seq }).from(auditChainHeads).where(eq(auditChainHeads.orgId, orgId)))[0]?.seq ?? 0;

describe('every route is in a matrix', () => {
  it('every operation declares its kind and its rate-limit class, and every org operation its permission', () => {
    expect(documentedOperations.length).toBeGreaterThan(0);
    for (const op of documentedOperations) {
      // Kinds with a matrix: org-scoped ones here, user routes in user-isolation-matrix.test.ts, caller routes in
      // caller-matrix.test.ts, platform-admin routes in platform-admin-matrix.test.ts (everyone but a platform
      // admin gets 401/403/404).
      expect(['org', 'socket', 'upload', 'user', 'caller', 'platform-admin', 'public'], `${describeOperation(op)} x-route-kind`).toContain(op.kind);
      // Every route is rate limited by its class (src/lib/limits.ts), so none can be forgotten.
      expect(ROUTE_CLASSES, `${describeOperation(op)} x-rate-limit-class`).toContain(op.operation['x-rate-limit-class']);
      const orgScoped = op.kind !== undefined && ORG_KINDS.includes(op.kind);
      if (orgScoped) expect(op.permission, `${describeOperation(op)} x-permission`).toBeDefined();
      // A route inside an org must be org-scoped, or no matrix would cover it (platform-admin routes act on any
      // org from outside it, and their matrix covers them); a public one needs no credentials.
      if (op.path.includes('{orgId}')) expect(orgScoped || op.kind === 'platform-admin', `${describeOperation(op)} is inside an org`).toBe(true);
      if (op.kind === 'public') expect(op.operation.security ?? [], `${describeOperation(op)} security`).toEqual([]);
    }
  });
});

describe('isolation matrix', () => {
  it('covers the org routes', () => {
    expect(orgOperations.length).toBeGreaterThan(0);
  });

  it.each(orgOperations)('%s refuses every outsider and leaks nothing', async (_, op) => {
    const permission = op.permission as Permission;
    const before = await chainHead(victim.org.id);
    for (const [who, caller] of Object.entries(callers)) {
      const call = await caller(permission);
      if (!call) continue;
      const response = await callOperation(op, victim.params, call.headers);
      await expectRefused(response, { who, status: call.expected, secrets: victim.secrets });
    }
    // Nothing a refused caller sent changed the victim's data: its audit chain did not move.
    expect(await chainHead(victim.org.id)).toBe(before);
  });

  const connects = operationsOfKind('socket').filter(([, op]) => op.method === 'get');
  it.each(connects)('%s refuses a ticket of the same room in another org before the upgrade', async (_, op) => {
    const own = await api(`${fillPath(op.path, strangerParams).replace(/\/ws$/, '')}/tickets`, { method: 'POST', auth: { token: strangerToken } });
    expect(own.status).toBe(201);
    const { ticket } = (await own.json<{ data: { ticket: string } }>()).data;
    const response = await callOperation(op, victim.params, {}, `?ticket=${ticket}`);
    await expectRefused(response, { who: "another org's ticket", status: 401, secrets: victim.secrets });
  });

  it('the victim org still answers its own members (the matrix refused outsiders, not everyone)', async () => {
    const response = await api(`/api/v1/orgs/${victim.org.id}/projects/${victim.params.projectId}`, { auth: victim.member });
    expect(response.status).toBe(200);
  });
});
