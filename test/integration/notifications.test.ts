import { createExecutionContext, createScheduledController } from 'cloudflare:test';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { apiKeys, credentials, files, notificationPreferences, notifications, organizations, sessions, users } from '../../src/db/schema/index.ts';
import { FILE_LIMITS } from '../../src/lib/limits.ts';
import { SIGN_IN_MEMORY_DAYS } from '../../src/lib/notification-categories.ts';
import type { NotificationEvent } from '../../src/services/notification-events.ts';
import { createQueueHandler } from '../../workers/queue.ts';
import { createScheduledHandler, schedule } from '../../workers/scheduled.ts';
import { monthOf, notifyExpiringApiKeys, notifyStorageNearQuota, pruneNotifications } from '../../workers/tasks/notifications.ts';
import { addMember, api, createApiKey, createMember, createOrg, createUser, json, ownerDb, TEST_PASSWORD, type TestUser } from '../helpers/factories.ts';
import { JOBS_QUEUE, job, message, runBatch } from '../helpers/queue.ts';
import { joinRoom, type Frame } from '../helpers/room-client.ts';
import { roundTrips } from '../helpers/round-trips.ts';
import { env, testDb } from '../helpers/worker.ts';

type Notification = { id: string; category: string; type: string; title: string; body: string; data: Record<string, unknown>; orgId: string | null; read: boolean; readAt: string | null };
type Page = { data: Notification[]; meta: { nextCursor: string | null; limit: number } };
type OutboxEmail = { to: string; subject: string; text: string; data: Record<string, unknown> };

afterEach(() => vi.restoreAllMocks());

const base = '/api/v1/me/notifications';
const prefs = '/api/v1/me/notification-preferences';
const list = async (auth: TestUser, query = '') => json<Page>(await api(`${base}${query}`, { auth }));
const unread = async (auth: TestUser) => (await json<{ data: { unread: number } }>(await api(`${base}/unread-count`, { auth }))).data.unread;
const outbox = async (to: string) => (await json<{ data: OutboxEmail[] }>(await api(`/api/dev/outbox?to=${encodeURIComponent(to)}`))).data;
const stored = (userId: string) => ownerDb.http.select().from(notifications).where(eq(notifications.userId, userId));

/** Waits until `user` has `count` stored notifications of `type` (delivered through the real queue). */
async function storedOf(user: TestUser, type: string, count = 1) {
  await expect.poll(async () => (await stored(user.id)).filter((row) => row.type === type).length, { timeout: 15_000, interval: 100 }).toBe(count);
  return (await stored(user.id)).filter((row) => row.type === type);
}

/** Waits until `to` has `count` emails with `subject`, then a little longer, and checks no more came. */
async function exactlyEmails(to: string, subject: string, count: number) {
  await expect.poll(async () => (await outbox(to)).filter((email) => email.subject === subject).length, { timeout: 15_000, interval: 100 }).toBe(count);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const emails = (await outbox(to)).filter((email) => email.subject === subject);
  expect(emails).toHaveLength(count);
  return emails;
}

const deliver = (event: NotificationEvent, copies = 1) =>
  runBatch(createQueueHandler(), env, JOBS_QUEUE, Array.from({ length: copies }, () => message(job('notifications.deliver', event))));

/** A notification stored directly (as the job would), for list, pagination and isolation tests. */
async function seed(user: TestUser, count: number, overrides: Partial<typeof notifications.$inferInsert> = {}) {
  const rows = Array.from({ length: count }, (_, index) => ({
    userId: user.id,
    category: 'membership' as const,
    type: 'member.role_changed',
    title: `Title ${index}`,
    body: `Body ${index}`,
    dedupeKey: `seed:${crypto.randomUUID()}`,
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, index)),
    ...overrides,
  }));
  return ownerDb.http.insert(notifications).values(rows).returning();
}

describe('notifications end to end', () => {
  it('invitation accepted → queue → stored → the inviter’s personal room → email (per preference); the invitee is notified in the app', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const invitee = await createUser();
    const room = await joinRoom(`/api/v1/orgs/${org.id}/members/${owner.id}/room`, owner);
    const invited = await api(`/api/v1/orgs/${org.id}/invitations`, { method: 'POST', auth: owner, body: { email: invitee.email, role: 'member' } });
    expect(invited.status).toBe(201);
    // The invitee has an account: an in-app notification, but no second email (the invitation email is the email).
    const [invitation] = await storedOf(invitee, 'invitation.created');
    expect(invitation).toMatchObject({ category: 'invitations', sourceOrgId: org.id, inApp: true, emailWanted: false });
    expect((await list(invitee)).data).toEqual([expect.objectContaining({ type: 'invitation.created', title: `Invitation to ${org.name}`, read: false, orgId: org.id })]);
    const [email] = (await outbox(invitee.email)).filter((mail) => mail.subject.includes('invited you'));
    if (!email) throw new Error('no invitation email');
    expect((await api('/api/v1/invitations/accept', { method: 'POST', auth: invitee, body: { token: email.data.token } })).status).toBe(200);

    const frame: Frame = await room.next('event', 15_000);
    expect(frame).toMatchObject({ event: 'notification.created', data: { type: 'invitation.accepted', category: 'invitations', orgId: org.id, read: false } });
    const [accepted] = await storedOf(owner, 'invitation.accepted');
    expect((frame.data as Notification).id).toBe(accepted?.id);
    expect(accepted?.title).toBe(`${invitee.name} joined ${org.name}`);
    expect(await unread(owner)).toBe(1);
    // Invitations default to both channels: one email, through the email job and its template.
    const [mail] = await exactlyEmails(owner.email, `${invitee.name} joined ${org.name}`, 1);
    expect(mail?.text).toContain(`${invitee.name} accepted your invitation and joined ${org.name} as member.`);
    expect(mail?.text).toContain('http://localhost:8787/notifications');
    room.ws.close(1000);
  });

  it('the producer adds no Postgres round trip to the request (the event is queued after the response)', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const member = await createMember(org, 'member');
    expect((await api(`/api/v1/orgs/${org.id}`, { auth: owner })).status).toBe(200);
    const trips = await roundTrips(async () => expect((await api(`/api/v1/orgs/${org.id}/members/${member.id}`, { method: 'PATCH', auth: owner, body: { role: 'admin' } })).status).toBe(200));
    expect(trips).toBe(1);
    const [row] = await storedOf(member, 'member.role_changed');
    expect(row).toMatchObject({ title: `Your role in ${org.name} changed`, body: `You are now admin in ${org.name}.`, inApp: true, emailWanted: false });
  });

  it('a removed member is told, in the rooms of the orgs they still belong to', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const member = await createMember(org, 'member');
    const other = await createOrg(member);
    const room = await joinRoom(`/api/v1/orgs/${other.id}/members/${member.id}/room`, member);
    expect((await api(`/api/v1/orgs/${org.id}/members/${member.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect(await room.next('event', 15_000)).toMatchObject({ event: 'notification.created', data: { type: 'member.removed', orgId: org.id, title: `You were removed from ${org.name}` } });
    room.ws.close(1000);
  });
});

describe('at-least-once delivery, effects once', () => {
  it('duplicate queue deliveries (at once and later) store one notification, push once and email once', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const room = await joinRoom(`/api/v1/orgs/${org.id}/members/${owner.id}/room`, owner);
    const event: NotificationEvent = { type: 'security.password_changed', eventId: crypto.randomUUID(), userId: owner.id };
    const first = await deliver(event, 2);
    expect(first.retried).toEqual([]);
    await deliver(event);
    const rows = await stored(owner.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ category: 'security', inApp: true, emailWanted: true, pushedAt: expect.any(Date), emailedAt: expect.any(Date) });
    await exactlyEmails(owner.email, 'Your password was changed', 1);
    expect(await room.next('event')).toMatchObject({ data: { id: rows[0]?.id } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(room.frames.filter((frame) => frame.event === 'notification.created')).toHaveLength(1);
    room.ws.close(1000);
  });

  it('a retry after a crash completes only the missing effects', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const eventId = crypto.randomUUID();
    // The crash: stored and pushed, the email not yet claimed.
    const [row] = await seed(owner, 1, {
      category: 'security',
      type: 'security.password_changed',
      title: 'Your password was changed',
      dedupeKey: `security.password_changed:${eventId}`,
      emailWanted: true,
      pushedAt: new Date(),
    });
    const room = await joinRoom(`/api/v1/orgs/${org.id}/members/${owner.id}/room`, owner);
    await deliver({ type: 'security.password_changed', eventId, userId: owner.id });
    await exactlyEmails(owner.email, 'Your password was changed', 1);
    const [after] = await stored(owner.id);
    expect(after).toMatchObject({ id: row?.id, emailedAt: expect.any(Date), body: 'Body 0' });
    expect(room.frames.filter((frame) => frame.event === 'notification.created')).toEqual([]);
    room.ws.close(1000);
  });

  it('a disabled webhook endpoint notifies the owners and admins in the app only (the webhook path sends the email)', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const admin = await createMember(org, 'admin');
    await ownerDb.http.insert(notificationPreferences).values({ userId: admin.id, category: 'webhooks', channel: 'both' });
    const endpointId = crypto.randomUUID();
    const event: NotificationEvent = { type: 'webhook.disabled', eventId: crypto.randomUUID(), orgId: org.id, endpointId, description: 'CI hook', userIds: [owner.id, admin.id] };
    await deliver(event, 2);
    for (const user of [owner, admin]) {
      expect(await stored(user.id)).toEqual([
        expect.objectContaining({ category: 'webhooks', title: `A webhook endpoint of ${org.name} was disabled`, inApp: true, emailWanted: false, data: { endpointId } }),
      ]);
    }
  });

  it('an event for a user who is gone, or about a deleted org, is acked and stores nothing', async () => {
    const result = await deliver({ type: 'security.password_changed', eventId: crypto.randomUUID(), userId: crypto.randomUUID() });
    expect(result.retried).toEqual([]);
    const ghost = await deliver({ type: 'member.removed', eventId: crypto.randomUUID(), orgId: crypto.randomUUID(), userId: crypto.randomUUID() });
    expect(ghost.retried).toEqual([]);
  });
});

/** A row stored for a recipient who is not told (preference `none`, deactivated): no text, never listed, pushed or emailed. */
const silent = { inApp: false, emailWanted: false, title: '', body: '', data: {}, pushedAt: null, emailedAt: null };

describe('preferences', () => {
  it('answers every category with its default, saves PATCH and PUT, and refuses turning security off (422, nothing saved)', async () => {
    const user = await createUser();
    const defaults = await json<{ data: Record<string, string> }>(await api(prefs, { auth: user }));
    expect(defaults.data).toEqual({ invitations: 'both', membership: 'in_app', api_keys: 'both', webhooks: 'in_app', storage: 'both', security: 'both' });
    const patched = await api(prefs, { method: 'PATCH', auth: user, body: { membership: 'email', storage: 'none' } });
    expect(patched.status).toBe(200);
    expect((await json<{ data: Record<string, string> }>(patched)).data).toMatchObject({ membership: 'email', storage: 'none', security: 'both' });
    const refused = await api(prefs, { method: 'PATCH', auth: user, body: { security: 'none', membership: 'in_app' } });
    expect(refused.status).toBe(422);
    expect((await json<{ error: { code: string; details: unknown } }>(refused)).error).toMatchObject({ code: 'NOTIFICATION_REQUIRED', details: { categories: ['security'] } });
    const all = { invitations: 'in_app', membership: 'none', api_keys: 'email', webhooks: 'both', storage: 'in_app', security: 'email' };
    expect((await api(prefs, { method: 'PUT', auth: user, body: { ...all, security: 'none' } })).status).toBe(422);
    expect((await json<{ data: Record<string, string> }>(await api(prefs, { auth: user }))).data).toMatchObject({ membership: 'email', security: 'both' });
    const put = await api(prefs, { method: 'PUT', auth: user, body: all });
    expect((await json<{ data: Record<string, string> }>(put)).data).toEqual(all);
    expect((await api(prefs, { method: 'PUT', auth: user, body: { membership: 'none' } })).status).toBe(400);
    expect((await api(prefs, { method: 'PATCH', auth: user, body: { membership: 'sometimes' } })).status).toBe(400);
    expect((await api(prefs, { method: 'PATCH', auth: user, body: { unknown: 'none' } })).status).toBe(400);
    const other = await createUser();
    expect((await json<{ data: Record<string, string> }>(await api(prefs, { auth: other }))).data).toEqual(defaults.data);
  });

  it('none stores only a silent row (no text, never listed, pushed or emailed); email only is emailed but never listed', async () => {
    const user = await createUser();
    const org = await createOrg(await createUser());
    await addMember(org, user, 'member');
    await ownerDb.http.insert(notificationPreferences).values({ userId: user.id, category: 'membership', channel: 'none' });
    await deliver({ type: 'member.role_changed', eventId: crypto.randomUUID(), orgId: org.id, userId: user.id, role: 'viewer' });
    expect(await stored(user.id)).toEqual([expect.objectContaining(silent)]);
    await ownerDb.http.update(notificationPreferences).set({ channel: 'email' }).where(eq(notificationPreferences.userId, user.id));
    await deliver({ type: 'member.role_changed', eventId: crypto.randomUUID(), orgId: org.id, userId: user.id, role: 'admin' });
    expect(await stored(user.id)).toEqual(
      expect.arrayContaining([expect.objectContaining(silent), expect.objectContaining({ title: `Your role in ${org.name} changed`, inApp: false, emailWanted: true })]),
    );
    await exactlyEmails(user.email, `Your role in ${org.name} changed`, 1);
    expect((await list(user)).data).toEqual([]);
    expect(await unread(user)).toBe(0);
  });
});

describe('invitations to an address with an account', () => {
  it('notify the account only once its address is verified; the invitation email goes to the address either way', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    // Someone signed up with the invitee's address but never proved it is theirs.
    const unverified = await createUser();
    await ownerDb.http.update(credentials).set({ emailVerifiedAt: null }).where(eq(credentials.userId, unverified.id));
    const invited = await api(`/api/v1/orgs/${org.id}/invitations`, { method: 'POST', auth: owner, body: { email: unverified.email, role: 'admin' } });
    expect(invited.status).toBe(201);
    const invitationId = (await json<{ data: { id: string } }>(invited)).data.id;
    await expect.poll(async () => (await outbox(unverified.email)).filter((mail) => mail.subject.includes('invited you')).length, { timeout: 15_000, interval: 100 }).toBe(1);
    // The route's own event may still be on the queue: deliver one here as well, then nothing is stored or listed.
    await deliver({ type: 'invitation.created', eventId: crypto.randomUUID(), orgId: org.id, invitationId });
    expect(await stored(unverified.id)).toEqual([]);
    expect((await list(unverified)).data).toEqual([]);
    // Verified: the same invitation now reaches the account in the app.
    await ownerDb.http.update(credentials).set({ emailVerifiedAt: new Date() }).where(eq(credentials.userId, unverified.id));
    await deliver({ type: 'invitation.created', eventId: crypto.randomUUID(), orgId: org.id, invitationId });
    expect(await stored(unverified.id)).toEqual([expect.objectContaining({ type: 'invitation.created', inApp: true, title: `Invitation to ${org.name}` })]);
  });
});

describe('the list and its actions', () => {
  it('pages newest first by cursor without gaps or repeats, and filters by unread and category', async () => {
    const user = await createUser();
    const rows = await seed(user, 5);
    await seed(user, 1, { category: 'security', type: 'security.password_changed', createdAt: new Date(Date.UTC(2025, 0, 1)), readAt: new Date() });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = await list(user, `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((item) => item.id));
      cursor = page.meta.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(6);
    expect(seen.slice(0, 5)).toEqual(rows.map((row) => row.id).reverse());
    expect((await list(user, '?unread=true')).data).toHaveLength(5);
    expect((await list(user, '?unread=false')).data.map((item) => item.category)).toEqual(['security']);
    expect((await list(user, '?category=security')).data).toHaveLength(1);
    expect((await api(`${base}?cursor=not-a-cursor`, { auth: user })).status).toBe(400);
    expect((await api(`${base}?category=nope`, { auth: user })).status).toBe(400);
    expect((await api(`${base}?unread=yes`, { auth: user })).status).toBe(400);
  });

  it('marks one read (keeping the first read time), marks all read, deletes one for good', async () => {
    const user = await createUser();
    const [first, second, third] = await seed(user, 3);
    if (!first || !second || !third) throw new Error('seed failed');
    expect(await unread(user)).toBe(3);
    const read = await json<{ data: Notification }>(await api(`${base}/${first.id}/read`, { method: 'POST', auth: user }));
    expect(read.data).toMatchObject({ id: first.id, read: true, readAt: expect.any(String) });
    const again = await json<{ data: Notification }>(await api(`${base}/${first.id}/read`, { method: 'POST', auth: user }));
    expect(again.data.readAt).toBe(read.data.readAt);
    expect(await unread(user)).toBe(2);
    expect((await json<{ data: { marked: number } }>(await api(`${base}/read-all`, { method: 'POST', auth: user }))).data.marked).toBe(2);
    expect(await unread(user)).toBe(0);
    expect((await api(`${base}/${second.id}`, { method: 'DELETE', auth: user })).status).toBe(204);
    expect((await api(`${base}/${second.id}`, { method: 'DELETE', auth: user })).status).toBe(404);
    expect((await api(`${base}/${second.id}/read`, { method: 'POST', auth: user })).status).toBe(404);
    expect((await list(user)).data.map((item) => item.id)).toEqual([third.id, first.id]);
    // A late retry of the deleted notification's delivery does not bring it back.
    const [tombstone] = await ownerDb.http.select().from(notifications).where(eq(notifications.id, second.id));
    expect(tombstone).toMatchObject({ inApp: false, title: '', body: '' });
  });

  it("another user can never read, mark or delete yours (404), and sees none of them", async () => {
    const owner = await createUser();
    const stranger = await createUser();
    const [mine] = await seed(owner, 1);
    if (!mine) throw new Error('seed failed');
    expect((await api(`${base}/${mine.id}/read`, { method: 'POST', auth: stranger })).status).toBe(404);
    expect((await api(`${base}/${mine.id}`, { method: 'DELETE', auth: stranger })).status).toBe(404);
    expect((await list(stranger)).data).toEqual([]);
    expect(await unread(stranger)).toBe(0);
    await api(`${base}/read-all`, { method: 'POST', auth: stranger });
    expect(await unread(owner)).toBe(1);
    const org = await createOrg(owner);
    const key = await createApiKey(org, { scopes: ['org:read'] });
    expect((await api(base, { auth: { apiKey: key.key } })).status).toBe(403);
    expect((await api(base)).status).toBe(401);
  });
});

describe('row-level security (the second wall)', () => {
  it('the runtime role sees and writes only the notifications and preferences of app.user_id', async () => {
    const owner = await createUser();
    const other = await createUser();
    const [row] = await seed(owner, 1);
    const db = testDb();
    const as = (userId: string) => sql`select set_config('app.user_id', ${userId}, true), set_config('app.org_id', '', true)`;
    const [, visible, own] = await db.http.batch([
      db.http.execute(as(other.id)),
      db.http.select().from(notifications).where(eq(notifications.userId, owner.id)),
      db.http.update(notifications).set({ title: 'changed' }).where(eq(notifications.userId, owner.id)).returning(),
    ]);
    expect([visible, own]).toEqual([[], []]);
    await expect(
      db.http.batch([db.http.execute(as(other.id)), db.http.insert(notificationPreferences).values({ userId: owner.id, category: 'storage', channel: 'none' })]),
    ).rejects.toThrow();
    // Without a user at all (no gate ran), nothing is visible.
    expect(await db.http.select().from(notifications).where(eq(notifications.id, row?.id ?? ''))).toEqual([]);
    const [, mine] = await db.http.batch([db.http.execute(as(owner.id)), db.http.select().from(notifications).where(eq(notifications.userId, owner.id))]);
    expect(mine.map((item) => item.id)).toEqual([row?.id]);
  });
});

describe('security notifications', () => {
  it('a sign-in from a new device notifies; the same device again does not', async () => {
    const user = await createUser();
    const login = (agent: string, ip: string) =>
      api('/api/v1/auth/login', { method: 'POST', body: { email: user.email, password: TEST_PASSWORD }, headers: { 'user-agent': agent, 'cf-connecting-ip': ip } });
    expect((await login('vitest', '127.0.0.1')).status).toBe(200);
    expect((await login('Firefox/140 on a new laptop', '203.0.113.9')).status).toBe(200);
    const [row] = await storedOf(user, 'security.sign_in');
    expect(row?.body).toContain('Firefox/140 on a new laptop');
    expect(row?.body).toContain('203.0.113.9');
    expect((await login('Firefox/140 on a new laptop', '203.0.113.9')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await stored(user.id)).filter((stored) => stored.type === 'security.sign_in')).toHaveLength(1);
    await exactlyEmails(user.email, 'New sign-in to your account', 1);
  });
});

describe('security notifications, after a long silence', () => {
  it('a sign-in to an account idle for longer than the memory window notifies, even with no session left to compare', async () => {
    const user = await createUser();
    const old = new Date(Date.now() - (SIGN_IN_MEMORY_DAYS + 10) * 86_400_000);
    await ownerDb.http.update(users).set({ createdAt: old }).where(eq(users.id, user.id));
    await ownerDb.http.delete(sessions).where(eq(sessions.userId, user.id));
    const login = await api('/api/v1/auth/login', { method: 'POST', body: { email: user.email, password: TEST_PASSWORD }, headers: { 'user-agent': 'vitest', 'cf-connecting-ip': '127.0.0.1' } });
    expect(login.status).toBe(200);
    expect(await storedOf(user, 'security.sign_in')).toHaveLength(1);
  });
});

describe('daily cron tasks', () => {
  const day = 86_400_000;
  const at = Date.UTC(2031, 4, 10, 3, 17);

  it('API keys expiring within 7 days notify their creator once; later keys, revoked keys and non-members do not', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const soon = await createApiKey(org, { scopes: ['org:read'], expiresAt: new Date(at + 3 * day) });
    const later = await createApiKey(org, { scopes: ['org:read'], expiresAt: new Date(at + 9 * day) });
    const revoked = await createApiKey(org, { scopes: ['org:read'], expiresAt: new Date(at + 2 * day), revoked: true });
    for (const key of [soon, later, revoked]) await ownerDb.http.update(apiKeys).set({ createdBy: owner.id }).where(eq(apiKeys.id, key.id));
    const context = { env, db: testDb(), scheduledTime: at };
    await notifyExpiringApiKeys(context);
    const [row] = await storedOf(owner, 'api_key.expiring');
    expect(row).toMatchObject({ category: 'api_keys', sourceOrgId: org.id, data: { keyId: soon.id, expiresAt: new Date(at + 3 * day).toISOString() } });
    // The next days' runs skip it: still one notification, one email.
    await notifyExpiringApiKeys({ ...context, scheduledTime: at + day });
    await exactlyEmails(owner.email, 'An API key expires soon', 1);
    expect(await storedOf(owner, 'api_key.expiring')).toHaveLength(1);
  });

  it('orgs at 80 % of their storage notify owners and admins once per month; members and emptier orgs are not told', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const admin = await createMember(org, 'admin');
    const member = await createMember(org, 'member');
    const roomy = await createOrg(await createUser());
    const quota = FILE_LIMITS.free.storageBytes;
    const file = (orgId: string, size: number) => ({ orgId, name: 'big.bin', size, contentType: 'application/octet-stream', status: 'ready' as const, uploaderType: 'user' });
    await ownerDb.http.insert(files).values([file(org.id, Math.ceil(quota * 0.5)), file(org.id, Math.ceil(quota * 0.31)), file(roomy.id, Math.ceil(quota * 0.79))]);
    const db = testDb();
    await notifyStorageNearQuota({ env, db, scheduledTime: at });
    const [row] = await storedOf(owner, 'storage.near_quota');
    expect(row?.title).toBe(`${org.name} has used 81% of its storage`);
    await storedOf(admin, 'storage.near_quota');
    await notifyStorageNearQuota({ env, db, scheduledTime: at + day });
    // Next month: told again.
    await notifyStorageNearQuota({ env, db, scheduledTime: Date.UTC(2031, 5, 1, 3, 17) });
    await storedOf(owner, 'storage.near_quota', 2);
    expect(await stored(member.id)).toEqual([]);
    expect(
      await ownerDb.http.select().from(notifications).where(and(eq(notifications.sourceOrgId, roomy.id), eq(notifications.type, 'storage.near_quota'))),
    ).toEqual([]);
  });

  it('the 80 % is of the org’s own storage when a platform admin overrode its tier’s', async () => {
    const when = Date.UTC(2032, 3, 10, 3, 17);
    const quota = FILE_LIMITS.free.storageBytes;
    const raised = await createOrg(await createUser());
    const lowered = await createOrg(await createUser());
    const override = (orgId: string, storageBytes: number) => ownerDb.http.update(organizations).set({ limitOverrides: { files: { storageBytes } } }).where(eq(organizations.id, orgId));
    await override(raised.id, quota * 2);
    await override(lowered.id, 1_000_000);
    const file = (orgId: string, size: number) => ({ orgId, name: 'big.bin', size, contentType: 'application/octet-stream', status: 'ready' as const, uploaderType: 'user' });
    await ownerDb.http.insert(files).values([file(raised.id, Math.ceil(quota * 0.9)), file(lowered.id, 900_000)]);
    const { rows } = await ownerDb.http.execute<{ org_id: string; limit_bytes: string }>(
      sql`select org_id, limit_bytes from app_orgs_near_storage_quota(${JSON.stringify(FILE_LIMITS)}::jsonb, 0.8, ${monthOf(when)}, 100000)`,
    );
    const ours = rows.filter((row) => row.org_id === raised.id || row.org_id === lowered.id);
    expect(ours.map((row) => [row.org_id, Number(row.limit_bytes)])).toEqual([[lowered.id, 1_000_000]]);
  });

  it('recipients who are not told (none, deactivated) are recorded silently, so a batch full of them does not starve the others', async () => {
    const when = Date.UTC(2032, 1, 10, 3, 17);
    const owner = await createUser();
    const org = await createOrg(owner);
    const skipped = await Promise.all(Array.from({ length: 4 }, () => createMember(org, 'admin')));
    await ownerDb.http.insert(notificationPreferences).values(skipped.slice(0, 2).map((user) => ({ userId: user.id, category: 'api_keys' as const, channel: 'none' as const })));
    await ownerDb.http.update(credentials).set({ deactivatedAt: new Date() }).where(inArray(credentials.userId, skipped.slice(2).map((user) => user.id)));
    // Their keys expire first, so they head every batch.
    for (const [index, user] of skipped.entries()) {
      const key = await createApiKey(org, { scopes: ['org:read'], expiresAt: new Date(when + 2 * day + index * 60_000) });
      await ownerDb.http.update(apiKeys).set({ createdBy: user.id }).where(eq(apiKeys.id, key.id));
    }
    const told = await createApiKey(org, { scopes: ['org:read'], expiresAt: new Date(when + 5 * day) });
    await ownerDb.http.update(apiKeys).set({ createdBy: owner.id }).where(eq(apiKeys.id, told.id));
    // Day one: a batch of three, all people who are not told. Each is recorded.
    await notifyExpiringApiKeys({ env, db: testDb(), scheduledTime: when }, { batch: 3 });
    for (const user of skipped.slice(0, 3)) expect(await storedOf(user, 'api_key.expiring')).toEqual([expect.objectContaining(silent)]);
    // Day two: the last one not told, and the owner, who is.
    await notifyExpiringApiKeys({ env, db: testDb(), scheduledTime: when + day }, { batch: 3 });
    expect(await storedOf(owner, 'api_key.expiring')).toEqual([expect.objectContaining({ inApp: true, emailWanted: true, data: expect.objectContaining({ keyId: told.id }) })]);
    expect(await storedOf(skipped[3] as TestUser, 'api_key.expiring')).toEqual([expect.objectContaining(silent)]);
    await exactlyEmails(owner.email, 'An API key expires soon', 1);
    expect(await outbox((skipped[0] as TestUser).email)).toEqual([]);
    // Nobody of the org is picked again.
    const { rows } = await ownerDb.http.execute<{ org_id: string }>(
      sql`select org_id from app_api_keys_expiring(${new Date(when + 2 * day).toISOString()}::timestamptz, ${new Date(when + 9 * day).toISOString()}::timestamptz, 1000)`,
    );
    expect(rows.filter((row) => row.org_id === org.id)).toEqual([]);
  });

  it('an org whose owners and admins are not told (none, deactivated) is recorded silently and not picked again that month', async () => {
    const when = Date.UTC(2032, 2, 10, 3, 17);
    const owner = await createUser();
    const org = await createOrg(owner);
    const admin = await createMember(org, 'admin');
    await ownerDb.http.insert(notificationPreferences).values({ userId: owner.id, category: 'storage', channel: 'none' });
    await ownerDb.http.update(credentials).set({ deactivatedAt: new Date() }).where(eq(credentials.userId, admin.id));
    const quota = FILE_LIMITS.free.storageBytes;
    await ownerDb.http.insert(files).values({ orgId: org.id, name: 'big.bin', size: Math.ceil(quota * 0.9), contentType: 'application/octet-stream', status: 'ready', uploaderType: 'user' });
    const due = async () => {
      const { rows } = await ownerDb.http.execute<{ org_id: string }>(
        sql`select org_id from app_orgs_near_storage_quota(${JSON.stringify(FILE_LIMITS)}::jsonb, 0.8, ${monthOf(when)}, 100000)`,
      );
      return rows.some((row) => row.org_id === org.id);
    };
    expect(await due()).toBe(true);
    await notifyStorageNearQuota({ env, db: testDb(), scheduledTime: when });
    expect(await storedOf(owner, 'storage.near_quota')).toEqual([expect.objectContaining(silent)]);
    expect(await storedOf(admin, 'storage.near_quota')).toEqual([expect.objectContaining(silent)]);
    expect(await due()).toBe(false);
  });

  it('retention: notifications older than 180 days (of the cron time) are deleted, newer ones kept', async () => {
    // The database never deletes what is younger than 180 days by its own clock, so this runs at the real time.
    const now = Date.now();
    const user = await createUser();
    const [old] = await seed(user, 1, { createdAt: new Date(now - 181 * day) });
    const [recent] = await seed(user, 1, { createdAt: new Date(now - 179 * day) });
    await pruneNotifications({ env, db: testDb(), scheduledTime: now });
    expect((await stored(user.id)).map((row) => row.id)).toEqual([recent?.id]);
    expect(old).toBeDefined();
    // A cron time far ahead (a wrong clock, or a hostile caller) deletes nothing younger than that.
    await pruneNotifications({ env, db: testDb(), scheduledTime: at + 1000 * day });
    expect((await stored(user.id)).map((row) => row.id)).toEqual([recent?.id]);
  });

  it('the three tasks run on the daily cron', async () => {
    const handler = createScheduledHandler({ '17 3 * * *': [notifyExpiringApiKeys, notifyStorageNearQuota, pruneNotifications] });
    await expect(handler(createScheduledController({ cron: '17 3 * * *', scheduledTime: at }), env, createExecutionContext())).resolves.toBeUndefined();
    expect(schedule['17 3 * * *']).toEqual(expect.arrayContaining([notifyExpiringApiKeys, notifyStorageNearQuota, pruneNotifications]));
  });
});
