import { and, eq, ne } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, invitations, memberships } from '../../src/db/schema/index.ts';
import { getConfig } from '../../src/config.ts';
import { randomToken, sha256Hex } from '../../src/lib/crypto.ts';
import type { OrgRole } from '../../src/lib/permissions.ts';
import { addMember, api, createApiKey, createMember, createOrg, createUser, json, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { env, request } from '../helpers/worker.ts';
import { roundTrips } from '../helpers/round-trips.ts';

type Auth = NonNullable<Parameters<typeof api>[1]>['auth'];
type Invitation = {
  id: string;
  email: string;
  role: string;
  status: string;
  invitedBy: string | null;
  expiresAt: string;
  acceptedAt: string | null;
  revokedAt: string | null;
  createdAt: string;
};
type Page<T> = { data: T[]; meta: { nextCursor: string | null; limit: number } };
type ErrorBody = { error: { code: string; message: string; details?: { issues?: Array<{ path: string }> } } };
type OutboxEmail = { to: string; subject: string; text: string; data: { token: string; url: string; orgName: string; role: string; inviterName: string } };

const DAY = 86_400_000;
const unique = () => crypto.randomUUID().slice(0, 8);
const newEmail = () => `invitee-${unique()}@example.com`;

/** The org's audit entries written by the API (fixtures are written as 'system'). */
const audit = (orgId: string) =>
  ownerDb.http.select().from(auditLogs).where(and(eq(auditLogs.orgId, orgId), ne(auditLogs.actorType, 'system'))).orderBy(auditLogs.seq);
const invitationRows = (org: TestOrg, email: string) => ownerDb.http.select().from(invitations).where(and(eq(invitations.orgId, org.id), eq(invitations.email, email)));
const membershipOf = async (org: TestOrg, user: TestUser) =>
  (await ownerDb.http.select().from(memberships).where(and(eq(memberships.orgId, org.id), eq(memberships.userId, user.id))))[0];

const invite = (org: TestOrg, body: Record<string, unknown>, auth: Auth) => api(`/api/v1/orgs/${org.id}/invitations`, { auth, body });
const revoke = (org: TestOrg, id: string, auth: Auth) => api(`/api/v1/orgs/${org.id}/invitations/${id}`, { method: 'DELETE', auth });
const accept = (token: string, auth: Auth) => api('/api/v1/invitations/accept', { auth, body: { token } });
const issuePaths = async (response: Response) => (await json<ErrorBody>(response)).error.details?.issues?.map((issue) => issue.path);

/** An invitation written directly, with a token the test knows (for the accept error paths). */
async function invitationFixture(
  org: TestOrg,
  options: { email?: string; role?: OrgRole; expiresAt?: Date; acceptedAt?: Date; revokedAt?: Date; createdAt?: Date } = {},
) {
  const token = randomToken('inv_');
  const [row] = await ownerDb.http
    .insert(invitations)
    .values({
      orgId: org.id,
      email: options.email ?? newEmail(),
      role: options.role ?? 'member',
      tokenHash: await sha256Hex(token),
      expiresAt: options.expiresAt ?? new Date(Date.now() + DAY),
      acceptedAt: options.acceptedAt ?? null,
      revokedAt: options.revokedAt ?? null,
      createdAt: options.createdAt ?? new Date(),
    })
    .returning();
  if (!row) throw new Error('invitation fixture failed');
  return { ...row, token };
}

/** Waits for the queued email to land in the dev outbox (the real queue consumer delivers it). */
async function outboxFor(to: string): Promise<OutboxEmail> {
  let emails: OutboxEmail[] = [];
  await expect
    .poll(
      async () => {
        emails = (await json<{ data: OutboxEmail[] }>(await api(`/api/dev/outbox?to=${encodeURIComponent(to)}`))).data;
        return emails.length;
      },
      { timeout: 15_000, interval: 200 },
    )
    .toBeGreaterThan(0);
  const [email] = emails;
  if (!email) throw new Error('no email');
  return email;
}

describe('the invitation flow, end to end', () => {
  it('invite → the email lands in the outbox → the invitee accepts → a member with the role', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const email = newEmail();
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(200); // admitted at the edge: warm
    let response!: Response;
    expect(await roundTrips(async () => (response = await invite(org, { email: email.toUpperCase(), role: 'admin' }, owner)))).toBe(1);
    expect(response.status).toBe(201);
    const text = await response.text();
    expect(text).not.toContain('inv_');
    const { data } = JSON.parse(text) as { data: Invitation };
    expect(data).toEqual({
      id: expect.any(String),
      email,
      role: 'admin',
      status: 'pending',
      invitedBy: owner.id,
      expiresAt: expect.any(String),
      acceptedAt: null,
      revokedAt: null,
      createdAt: expect.any(String),
    });
    expect(Math.abs(Date.parse(data.expiresAt) - Date.parse(data.createdAt) - 7 * DAY)).toBeLessThan(1000);

    const mail = await outboxFor(email);
    expect(mail.data).toEqual({
      token: expect.stringMatching(/^inv_[\w-]{43}$/),
      url: `${new URL('/invitations/accept', getConfig(env).APP_URL).toString()}?token=${mail.data.token}`,
      orgName: org.name,
      role: 'admin',
      inviterName: owner.name,
    });
    expect(mail.text).toContain(org.name);
    const [row] = await invitationRows(org, email);
    expect(row?.tokenHash).toBe(await sha256Hex(mail.data.token));

    const invitee = await createUser({ email });
    const accepted = await accept(mail.data.token, invitee);
    expect(accepted.status).toBe(200);
    expect(await json(accepted)).toEqual({ data: { orgId: org.id, role: 'admin' } });
    expect((await membershipOf(org, invitee))?.role).toBe('admin');
    const asMember = await json<{ data: { role: string } }>(await api(`/api/v1/orgs/${org.id}`, { auth: invitee }));
    expect(asMember.data.role).toBe('admin');

    const entries = await audit(org.id);
    expect(entries.map((entry) => [entry.action, entry.actorId])).toEqual([
      ['invitation.created', owner.id],
      ['membership.created', invitee.id],
      ['invitation.accepted', invitee.id],
    ]);
    // Emails are masked in the log and the token hash never enters it.
    expect(entries[0]?.changes).toMatchObject({ email: expect.stringMatching(/^inv\*\*\*@example\.com$/), role: 'admin' });
    expect(JSON.stringify(entries)).not.toContain(row?.tokenHash);

    const again = await accept(mail.data.token, invitee);
    expect(again.status).toBe(409);
    expect((await json<ErrorBody>(again)).error.message).toBe('This invitation has already been accepted.');
    const listed = await json<Page<Invitation>>(await api(`/api/v1/orgs/${org.id}/invitations`, { auth: owner }));
    expect(listed.data.map((invitation) => [invitation.id, invitation.status])).toEqual([[data.id, 'accepted']]);
  });

  it('an API key invites on behalf of the org: no inviting user, the key named in the email', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const key = await createApiKey(org, { scopes: ['invitations:write'] });
    const email = newEmail();
    const response = await invite(org, { email, role: 'member' }, { apiKey: key.key });
    expect(response.status).toBe(201);
    expect((await json<{ data: Invitation }>(response)).data.invitedBy).toBeNull();
    expect((await outboxFor(email)).data.inviterName).toMatch(/^key-.* \(API key\)$/);
    expect((await audit(org.id)).map((entry) => [entry.action, entry.actorType, entry.actorId])).toEqual([['invitation.created', 'api_key', key.id]]);
  });
});

describe('POST /api/v1/orgs/{orgId}/invitations', () => {
  it('an inviter cannot grant a role above their own: admins and API keys cannot invite owners (403)', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const admin = await createMember(org, 'admin');
    const key = await createApiKey(org, { scopes: ['invitations:write'] });
    const email = newEmail();
    const byAdmin = await invite(org, { email, role: 'owner' }, admin);
    expect(byAdmin.status).toBe(403);
    expect((await json<ErrorBody>(byAdmin)).error.message).toBe('You cannot invite someone as owner: that is above your own role.');
    expect((await invite(org, { email, role: 'owner' }, { apiKey: key.key })).status).toBe(403);
    expect(await invitationRows(org, email)).toEqual([]);
    expect(await audit(org.id)).toEqual([]);
    expect((await invite(org, { email, role: 'admin' }, admin)).status).toBe(201);
    expect((await invite(org, { email: newEmail(), role: 'owner' }, owner)).status).toBe(201);
  });

  it('409 for an existing member and for an address with a pending invitation; revoked or expired ones do not block', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const member = await createMember(org, 'member');
    const existing = await invite(org, { email: member.email.toUpperCase(), role: 'viewer' }, owner);
    expect(existing.status).toBe(409);
    expect((await json<ErrorBody>(existing)).error.message).toBe('This person is already a member of the organization.');

    const email = newEmail();
    const first = await json<{ data: Invitation }>(await invite(org, { email, role: 'member' }, owner));
    const duplicate = await invite(org, { email, role: 'admin' }, owner);
    expect(duplicate.status).toBe(409);
    expect((await json<ErrorBody>(duplicate)).error.message).toContain('pending invitation');
    expect(await invitationRows(org, email)).toHaveLength(1);

    expect((await revoke(org, first.data.id, owner)).status).toBe(204);
    expect((await invite(org, { email, role: 'admin' }, owner)).status).toBe(201);

    const expired = await invitationFixture(org, { expiresAt: new Date(Date.now() - 1000) });
    expect((await invite(org, { email: expired.email, role: 'member' }, owner)).status).toBe(201);
    // The same address may be invited to another org.
    expect((await invite(await createOrg(owner), { email, role: 'member' }, owner)).status).toBe(201);
  });

  it('if the email cannot be queued, nothing is left behind (503) and the address can be invited again', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const email = newEmail();
    const down = () => Promise.reject(new Error('queue unavailable'));
    const JOBS: Queue = { send: down, sendBatch: down, metrics: down };
    const response = await request(
      `/api/v1/orgs/${org.id}/invitations`,
      { method: 'POST', headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ email, role: 'member' }) },
      { bindings: { ...env, JOBS } },
    );
    expect(response.status).toBe(503);
    expect(await invitationRows(org, email)).toEqual([]);
    expect((await invite(org, { email, role: 'member' }, owner)).status).toBe(201);
  });

  it('validates the body with field paths', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    expect(await issuePaths(await invite(org, { email: 'not-an-email', role: 'member' }, owner))).toEqual(['email']);
    expect(await issuePaths(await invite(org, { email: newEmail(), role: 'god' }, owner))).toEqual(['role']);
    expect(await issuePaths(await invite(org, { role: 'member' }, owner))).toEqual(['email']);
    expect((await invite(org, { email: newEmail(), role: 'member', token: 'mine' }, owner)).status).toBe(400);
    expect(await audit(org.id)).toEqual([]);
  });

  it('403 for members, viewers and keys without the scope; 404 for outsiders; 401 anonymous', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const stranger = await createUser();
    await createOrg(stranger);
    const body = { email: newEmail(), role: 'viewer' };
    expect((await invite(org, body, await createMember(org, 'member'))).status).toBe(403);
    expect((await invite(org, body, await createMember(org, 'viewer'))).status).toBe(403);
    expect((await invite(org, body, { apiKey: (await createApiKey(org, { scopes: ['invitations:read'] })).key })).status).toBe(403);
    expect((await invite(org, body, stranger)).status).toBe(404);
    expect((await invite(org, body, undefined)).status).toBe(401);
    expect(await invitationRows(org, body.email)).toEqual([]);
  });
});

describe('GET /api/v1/orgs/{orgId}/invitations', () => {
  it('lists newest first with derived statuses, filters by status and pages; never shows tokens', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);
    const expired = await invitationFixture(org, { createdAt: at(40), expiresAt: at(1) });
    const revoked = await invitationFixture(org, { createdAt: at(30), revokedAt: at(2) });
    const accepted = await invitationFixture(org, { createdAt: at(20), acceptedAt: at(3) });
    const pending = await invitationFixture(org, { createdAt: at(10) });
    await invitationFixture(await createOrg(owner));

    const seen: Invitation[] = [];
    let cursor: string | null = null;
    do {
      const response = await api(`/api/v1/orgs/${org.id}/invitations?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { auth: owner });
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).not.toContain(pending.tokenHash);
      expect(text).not.toContain('tokenHash');
      const page = JSON.parse(text) as Page<Invitation>;
      seen.push(...page.data);
      cursor = page.meta.nextCursor;
    } while (cursor);
    expect(seen.map((invitation) => [invitation.id, invitation.status])).toEqual([
      [pending.id, 'pending'],
      [accepted.id, 'accepted'],
      [revoked.id, 'revoked'],
      [expired.id, 'expired'],
    ]);
    for (const [status, fixture] of [
      ['pending', pending],
      ['accepted', accepted],
      ['revoked', revoked],
      ['expired', expired],
    ] as const) {
      const filtered = await json<Page<Invitation>>(await api(`/api/v1/orgs/${org.id}/invitations?status=${status}`, { auth: owner }));
      expect(filtered.data.map((invitation) => invitation.id)).toEqual([fixture.id]);
    }
  });

  it('is for managers: 403 for members, viewers and keys without the scope; 404 for outsiders; 401; 400 on a bad status', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    await invitationFixture(org);
    const stranger = await createUser();
    const list = (auth: Auth, query = '') => api(`/api/v1/orgs/${org.id}/invitations${query}`, { auth });
    expect((await list(await createMember(org, 'admin'))).status).toBe(200);
    expect((await list({ apiKey: (await createApiKey(org, { scopes: ['invitations:read'] })).key })).status).toBe(200);
    expect((await list(await createMember(org, 'member'))).status).toBe(403);
    expect((await list(await createMember(org, 'viewer'))).status).toBe(403);
    expect((await list({ apiKey: (await createApiKey(org, { scopes: ['invitations:write'] })).key })).status).toBe(403);
    expect((await list(stranger)).status).toBe(404);
    expect((await list(undefined)).status).toBe(401);
    expect(await issuePaths(await list(owner, '?status=lost'))).toEqual(['status']);
  });
});

describe('DELETE /api/v1/orgs/{orgId}/invitations/{invitationId}', () => {
  it('revokes: the link stops working; one invitation.revoked entry, and revoking again changes nothing', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const admin = await createMember(org, 'admin');
    const invitation = await invitationFixture(org);
    expect((await revoke(org, invitation.id, admin)).status).toBe(204);
    expect((await revoke(org, invitation.id, admin)).status).toBe(204);
    expect((await audit(org.id)).map((entry) => [entry.action, entry.actorId, entry.targetId])).toEqual([['invitation.revoked', admin.id, invitation.id]]);
    const invitee = await createUser({ email: invitation.email });
    expect((await accept(invitation.token, invitee)).status).toBe(404);
    expect(await membershipOf(org, invitee)).toBeUndefined();
  });

  it('409 for an accepted invitation; 404 for unknown ids and for another org’s invitation', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const accepted = await invitationFixture(org, { acceptedAt: new Date() });
    const conflict = await revoke(org, accepted.id, owner);
    expect(conflict.status).toBe(409);
    expect((await json<ErrorBody>(conflict)).error.message).toContain('already been accepted');
    expect((await revoke(org, crypto.randomUUID(), owner)).status).toBe(404);
    const foreign = await invitationFixture(await createOrg(await createUser()));
    expect((await revoke(org, foreign.id, owner)).status).toBe(404);
    const [row] = await ownerDb.http.select().from(invitations).where(eq(invitations.id, foreign.id));
    expect(row?.revokedAt).toBeNull();
    expect(await audit(org.id)).toEqual([]);
  });

  it('403 for members and keys without the scope; 404 for outsiders; 401 anonymous', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const invitation = await invitationFixture(org);
    const stranger = await createUser();
    expect((await revoke(org, invitation.id, await createMember(org, 'member'))).status).toBe(403);
    expect((await revoke(org, invitation.id, { apiKey: (await createApiKey(org, { scopes: ['invitations:read'] })).key })).status).toBe(403);
    expect((await revoke(org, invitation.id, stranger)).status).toBe(404);
    expect((await revoke(org, invitation.id, undefined)).status).toBe(401);
    const [row] = await ownerDb.http.select().from(invitations).where(eq(invitations.id, invitation.id));
    expect(row?.revokedAt).toBeNull();
  });
});

describe('POST /api/v1/invitations/accept', () => {
  it('410 once the invitation has expired', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const email = newEmail();
    expect((await invite(org, { email, role: 'member' }, owner)).status).toBe(201);
    const { data } = await outboxFor(email);
    await ownerDb.http.update(invitations).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(invitations.tokenHash, await sha256Hex(data.token)));
    const invitee = await createUser({ email });
    const response = await accept(data.token, invitee);
    expect(response.status).toBe(410);
    expect((await json<ErrorBody>(response)).error).toMatchObject({ code: 'GONE', message: 'This invitation has expired. Ask for a new one.' });
    expect(await membershipOf(org, invitee)).toBeUndefined();
  });

  it('maps each refusal to its status and a clear message, and changes nothing', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const cases: Array<[string, () => Promise<{ token: string; user: TestUser }>, number, string]> = [
      ['unknown token', async () => ({ token: randomToken('inv_'), user: await createUser() }), 404, 'This invitation does not exist or has been revoked.'],
      [
        'revoked',
        async () => {
          const invitation = await invitationFixture(org, { revokedAt: new Date() });
          return { token: invitation.token, user: await createUser({ email: invitation.email }) };
        },
        404,
        'This invitation does not exist or has been revoked.',
      ],
      [
        'another email address',
        async () => ({ token: (await invitationFixture(org)).token, user: await createUser() }),
        403,
        'This invitation was sent to another email address. Sign in with that address to accept it.',
      ],
      [
        'already a member',
        async () => {
          const invitation = await invitationFixture(org, { role: 'admin' });
          const user = await createUser({ email: invitation.email });
          await addMember(org, user, 'viewer');
          return { token: invitation.token, user };
        },
        409,
        'You are already a member of this organization.',
      ],
      [
        'already accepted',
        async () => {
          const invitation = await invitationFixture(org, { acceptedAt: new Date() });
          return { token: invitation.token, user: await createUser({ email: invitation.email }) };
        },
        409,
        'This invitation has already been accepted.',
      ],
    ];
    for (const [label, arrange, status, message] of cases) {
      const { token, user } = await arrange();
      const before = await membershipOf(org, user);
      const response = await accept(token, user);
      expect({ label, status: response.status, message: (await json<ErrorBody>(response)).error.message }).toEqual({ label, status, message });
      expect(await membershipOf(org, user)).toEqual(before);
    }
    expect(await audit(org.id)).toEqual([]);
  });

  it('an invitation of a deleted organization no longer works', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const invitation = await invitationFixture(org);
    expect((await api(`/api/v1/orgs/${org.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    const invitee = await createUser({ email: invitation.email });
    expect((await accept(invitation.token, invitee)).status).toBe(404);
    expect(await membershipOf(org, invitee)).toBeUndefined();
  });

  it('401 anonymous, 403 for API keys, 400 for a malformed token', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const invitation = await invitationFixture(org);
    const key = await createApiKey(org, { scopes: ['invitations:write', 'members:write'] });
    expect((await accept(invitation.token, undefined)).status).toBe(401);
    expect((await accept(invitation.token, { apiKey: key.key })).status).toBe(403);
    expect(await issuePaths(await accept('inv_short', owner))).toEqual(['token']);
    expect(await issuePaths(await api('/api/v1/invitations/accept', { auth: owner, body: {} }))).toEqual(['token']);
    const [row] = await ownerDb.http.select().from(invitations).where(eq(invitations.id, invitation.id));
    expect(row?.acceptedAt).toBeNull();
  });
});
