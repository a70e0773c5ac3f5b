import { files, invitations } from '../../src/db/schema/index.ts';
import { randomToken, sha256Hex } from '../../src/lib/crypto.ts';
import { PERMISSIONS } from '../../src/lib/permissions.ts';
import { createApiKey, createMember, createOrg, createPlatformAdmin, createProject, createUser, ownerDb, TEST_PASSWORD, type TestOrg, type TestUser } from './factories.ts';

/** The tenant every fuzzed request acts in: an owner, their org, a project, a member, an API key, an invitation. */
export interface FuzzFixtures {
  owner: TestUser;
  org: TestOrg;
  projectId: string;
  member: TestUser;
  apiKey: string;
  keyId: string;
  invitationId: string;
  /** Who calls the platform-admin routes. */
  platformAdmin: TestUser;
  /** A stored file's row (its bytes are not needed: no fuzzed request holds a valid signature). */
  fileId: string;
}

/** What one request needs to reach its handler: credentials, path parameters, and a body that can succeed. */
export interface Prepared {
  headers: Record<string, string>;
  params: Record<string, string>;
  /** A body only fixtures can make valid (a real invitation token, the owner's password), used when the case asks. */
  body?: Record<string, unknown>;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function createInvitation(org: TestOrg, invitedBy: TestUser, email = `fuzz-${crypto.randomUUID().slice(0, 8)}@example.com`) {
  const token = randomToken('inv_');
  const [row] = await ownerDb.http
    .insert(invitations)
    .values({ orgId: org.id, email, role: 'member', tokenHash: await sha256Hex(token), invitedBy: invitedBy.id, expiresAt: new Date(Date.now() + 86_400_000) })
    .returning({ id: invitations.id });
  if (!row) throw new Error('invitation fixture failed');
  return { id: row.id, token };
}

/** One shared fixture set, made once (the fuzz test's beforeAll). */
export async function createFuzzFixtures(): Promise<FuzzFixtures> {
  const owner = await createUser();
  // Fuzzing creates many projects, keys and invitations in this one org: a tier whose quotas they stay under.
  const org = await createOrg(owner, { tier: 'enterprise' });
  const [project] = [await createProject(org), await createProject(org)];
  const member = await createMember(org, 'member');
  const key = await createApiKey(org, { scopes: PERMISSIONS });
  await createApiKey(org, { scopes: ['projects:read'] });
  const [invitation] = [await createInvitation(org, owner), await createInvitation(org, owner)];
  await createOrg(owner);
  const platformAdmin = await createPlatformAdmin();
  const fileId = await createFileRow(org, owner);
  return { owner, org, projectId: project?.id ?? '', member, apiKey: key.key, keyId: key.id, invitationId: invitation?.id ?? '', platformAdmin, fileId };
}

async function createFileRow(org: TestOrg, owner: TestUser): Promise<string> {
  const [row] = await ownerDb.http
    .insert(files)
    .values({ orgId: org.id, name: 'fuzz.txt', size: 10, contentType: 'text/plain', sha256: '0'.repeat(64), status: 'ready', uploaderType: 'user', uploaderId: owner.id })
    .returning({ id: files.id });
  if (!row) throw new Error('file fixture failed');
  return row.id;
}

type Preparer = (f: FuzzFixtures, shared: Prepared) => Promise<Prepared>;

const asFreshUser: Preparer = async (_, shared) => {
  const user = await createUser();
  return { headers: bearer(user.accessToken), params: { ...shared.params, id: user.id, sessionId: user.sessionId } };
};

/**
 * Operations that destroy what they act on get their own victim per request, so the shared
 * fixtures (and the owner's session) stay intact for every other operation, whatever order runs.
 */
const destructive: Record<string, Preparer> = {
  'POST /api/v1/auth/logout': asFreshUser,
  'DELETE /api/v1/me/sessions': asFreshUser,
  'DELETE /api/v1/me/sessions/{sessionId}': asFreshUser,
  'DELETE /api/v1/users/{id}': asFreshUser,
  'DELETE /api/v1/orgs/{orgId}': async (f, shared) => ({ headers: bearer(f.owner.accessToken), params: { ...shared.params, orgId: (await createOrg(f.owner)).id } }),
  'POST /api/v1/orgs/{orgId}/leave': async (f, shared) => ({ ...shared, headers: bearer((await createMember(f.org, 'member')).accessToken) }),
  'PATCH /api/v1/orgs/{orgId}/members/{userId}': async (f, shared) => ({ ...shared, params: { ...shared.params, userId: (await createMember(f.org, 'member')).id } }),
  'DELETE /api/v1/orgs/{orgId}/members/{userId}': async (f, shared) => ({ ...shared, params: { ...shared.params, userId: (await createMember(f.org, 'member')).id } }),
  'DELETE /api/v1/orgs/{orgId}/invitations/{invitationId}': async (f, shared) => ({
    ...shared,
    params: { ...shared.params, invitationId: (await createInvitation(f.org, f.owner)).id },
  }),
  'DELETE /api/v1/orgs/{orgId}/projects/{projectId}': async (f, shared) => ({ ...shared, params: { ...shared.params, projectId: (await createProject(f.org)).id } }),
  'POST /api/v1/orgs/{orgId}/api-keys/{keyId}/rotate': async (f, shared) => ({ ...shared, params: { ...shared.params, keyId: (await createApiKey(f.org, { scopes: ['projects:read'] })).id } }),
  'DELETE /api/v1/orgs/{orgId}/api-keys/{keyId}': async (f, shared) => ({ ...shared, params: { ...shared.params, keyId: (await createApiKey(f.org, { scopes: ['projects:read'] })).id } }),
  'POST /api/v1/invitations/accept': async (f, shared) => {
    const invitee = await createUser();
    const invitation = await createInvitation(f.org, f.owner, invitee.email);
    return { ...shared, headers: bearer(invitee.accessToken), body: { token: invitation.token } };
  },
  // Its own org each time, so the shared org's quotas never change under the other operations.
  'PATCH /api/v1/admin/orgs/{orgId}': async (f, shared) => ({ ...shared, params: { ...shared.params, orgId: (await createOrg(f.owner)).id } }),
  'DELETE /api/v1/orgs/{orgId}/files/{fileId}': async (f, shared) => ({ ...shared, params: { ...shared.params, fileId: await createFileRow(f.org, f.owner) } }),
  'POST /api/v1/auth/login': async (f, shared) => ({ ...shared, body: { email: f.owner.email, password: TEST_PASSWORD } }),
};

/**
 * Credentials and path parameters for one request to `operation` (e.g. `GET /api/v1/orgs/{orgId}`):
 * none for public routes, the owner's session for user routes, the owner's session or an API key with
 * every scope for org routes, a platform admin's session for platform-admin routes, and fresh victims for
 * destructive operations.
 */
export async function prepareRequest(operation: string, kind: 'public' | 'user' | 'caller' | 'org' | 'upload' | 'platform-admin', auth: 'session' | 'apiKey', f: FuzzFixtures): Promise<Prepared> {
  const params = { id: f.owner.id, sessionId: f.owner.sessionId, orgId: f.org.id, projectId: f.projectId, userId: f.member.id, keyId: f.keyId, invitationId: f.invitationId, fileId: f.fileId, partNumber: '1' };
  const token = kind === 'platform-admin' ? f.platformAdmin.accessToken : (kind === 'org' || kind === 'upload') && auth === 'apiKey' ? f.apiKey : f.owner.accessToken;
  const headers = kind === 'public' ? {} : bearer(token);
  const shared = { headers, params };
  return destructive[operation]?.(f, shared) ?? shared;
}
