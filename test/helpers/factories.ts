import { SELF } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { createDatabase } from '../../src/db/client.ts';
import { apiKeys, credentials, memberships, organizations, platformAdmins, projectMembers, projects, sessions, users } from '../../src/db/schema/index.ts';
import { getConfig } from '../../src/config.ts';
import { sha256Hex, randomToken } from '../../src/lib/crypto.ts';
import { hashPassword } from '../../src/lib/passwords.ts';
import type { OrgRole, Permission, ProjectRole } from '../../src/lib/permissions.ts';
import { signAccessToken } from '../../src/services/tokens.ts';
import { orgAuthorityFor } from '../../durable-objects/org-authority/index.ts';
import { env } from './worker.ts';
import { measuredRequestId } from './round-trips.ts';

/**
 * Fixtures are written as the schema owner (bypassing RLS), so every test builds its own tenant
 * without going through the routes under test. Each call makes fresh, unique records.
 */
export const ownerDb = createDatabase(getConfig({ ...env, DATABASE_URL: env.OWNER_DATABASE_URL }), () => {});
const config = getConfig(env);

export const TEST_PASSWORD = 'correct horse battery staple';
let passwordHash: Promise<string> | undefined;
const unique = () => crypto.randomUUID().slice(0, 8);

export interface TestUser {
  id: string;
  email: string;
  name: string;
  sessionId: string;
  accessToken: string;
}

/** A verified user with a live session and an access token. */
export async function createUser(overrides: { email?: string; name?: string } = {}): Promise<TestUser> {
  passwordHash ??= hashPassword(TEST_PASSWORD);
  const id = crypto.randomUUID();
  const sessionId = crypto.randomUUID();
  const email = overrides.email ?? `user-${unique()}@example.com`;
  const name = overrides.name ?? `User ${unique()}`;
  await ownerDb.http.batch([
    ownerDb.http.insert(users).values({ id, email, name }),
    ownerDb.http.insert(credentials).values({ userId: id, passwordHash: await passwordHash, emailVerifiedAt: new Date() }),
    ownerDb.http.insert(sessions).values({ id: sessionId, userId: id, expiresAt: new Date(Date.now() + 86_400_000), userAgent: 'vitest', ip: '127.0.0.1' }),
  ]);
  const { accessToken } = await signAccessToken(config, { userId: id, sessionId, issuedAt: new Date() });
  return { id, email, name, sessionId, accessToken };
}

/** A user who operates the platform (listed in platform_admins, as `npm run admin:grant` does). */
export async function createPlatformAdmin(): Promise<TestUser> {
  const admin = await createUser({ name: `Platform Admin ${unique()}` });
  await ownerDb.http.insert(platformAdmins).values({ userId: admin.id });
  return admin;
}

export interface TestOrg {
  id: string;
  slug: string;
  name: string;
}

/** An organization owned by `owner`. */
export async function createOrg(owner: TestUser, overrides: { tier?: 'free' | 'pro' | 'enterprise' } = {}): Promise<TestOrg> {
  const org = { id: crypto.randomUUID(), slug: `org-${unique()}`, name: `Org ${unique()}` };
  await ownerDb.http.batch([
    ownerDb.http.insert(organizations).values({ ...org, subscriptionTier: overrides.tier ?? 'free' }),
    ownerDb.http.insert(memberships).values({ orgId: org.id, userId: owner.id, role: 'owner' }),
  ]);
  return org;
}

/**
 * Fixtures change grants behind the app's back, so, like an operator after a manual change, they tell the
 * org's edge authority (which otherwise trusts what it holds for up to its maximum age).
 */
export async function grantsChanged(orgId: string): Promise<void> {
  await orgAuthorityFor(env, orgId).changed('grants');
}

/** Adds `user` to `org` with `role`. */
export async function addMember(org: TestOrg, user: TestUser, role: OrgRole): Promise<void> {
  await ownerDb.http.insert(memberships).values({ orgId: org.id, userId: user.id, role });
  await grantsChanged(org.id);
}

/** A fresh user who is a member of `org` with `role`. */
export async function createMember(org: TestOrg, role: OrgRole): Promise<TestUser> {
  const user = await createUser();
  await addMember(org, user, role);
  return user;
}

export async function createProject(org: TestOrg, overrides: { name?: string; description?: string } = {}) {
  const [project] = await ownerDb.http
    .insert(projects)
    .values({ orgId: org.id, name: overrides.name ?? `Project ${unique()}`, description: overrides.description ?? null })
    .returning();
  if (!project) throw new Error('project fixture failed');
  return project;
}

export async function setProjectRole(project: { id: string; orgId: string }, user: TestUser, role: ProjectRole): Promise<void> {
  await ownerDb.http.insert(projectMembers).values({ orgId: project.orgId, projectId: project.id, userId: user.id, role });
  await grantsChanged(project.orgId);
}

/** An API key of `org` with `scopes`; returns the raw key, shown once. */
export async function createApiKey(
  org: TestOrg,
  options: { scopes: Permission[]; projectId?: string; expiresAt?: Date; revoked?: boolean },
): Promise<{ id: string; key: string }> {
  const key = randomToken('sk_test_');
  const [row] = await ownerDb.http
    .insert(apiKeys)
    .values({
      orgId: org.id,
      projectId: options.projectId ?? null,
      name: `key-${unique()}`,
      prefix: key.slice(0, 12),
      keyHash: await sha256Hex(key),
      scopes: options.scopes,
      expiresAt: options.expiresAt ?? null,
      revokedAt: options.revoked ? sql`now()` : null,
    })
    .returning({ id: apiKeys.id });
  if (!row) throw new Error('api key fixture failed');
  await grantsChanged(org.id);
  return { id: row.id, key };
}

export type Credential = TestUser | { apiKey: string } | { token: string } | undefined;

function authHeader(auth: Credential): Record<string, string> {
  if (!auth) return {};
  if ('apiKey' in auth) return { authorization: `Bearer ${auth.apiKey}` };
  if ('token' in auth) return { authorization: `Bearer ${auth.token}` };
  return { authorization: `Bearer ${auth.accessToken}` };
}

/**
 * A client address of its own for each call (unless the test sends one): the anonymous rate limits key on
 * it, and tests running in parallel must not spend one shared budget.
 */
export const clientAddress = () => `198.18.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`;

/** Calls the Worker through its own fetch handler, as a client would. */
export function api(path: string, options: { method?: string; body?: unknown; auth?: Credential; headers?: Record<string, string> } = {}): Promise<Response> {
  // The development routes answer loopback callers only.
  const address = path.startsWith('/api/dev/') ? '127.0.0.1' : clientAddress();
  const measured = measuredRequestId();
  const headers: Record<string, string> = { 'cf-connecting-ip': address, ...(measured && { 'x-request-id': measured }), ...authHeader(options.auth), ...options.headers };
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  return SELF.fetch(`http://localhost${path}`, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
}

/** Parses a JSON response body with a type, for assertions. */
export async function json<T = { data: Record<string, unknown> }>(response: Response): Promise<T> {
  return (await response.json()) as T;
}
