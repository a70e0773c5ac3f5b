import { and, desc, eq, isNotNull, ne, sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { credentials, invitations, organizations, sessions, users, type NotificationData } from '../db/schema/index.ts';
import { SIGN_IN_MEMORY_DAYS, type NotificationCategory } from '../lib/notification-categories.ts';
import type { NotificationEvent } from './notification-events.ts';
import { systemContext } from './webhook-fanout.ts';

/** One notification for one user, as the delivery job stores it. */
export interface Delivery {
  userId: string;
  /** The org the event came from (null for account events). */
  orgId: string | null;
  category: NotificationCategory;
  type: NotificationEvent['type'];
  title: string;
  body: string;
  data: NotificationData;
  /** Unique per user: a second delivery of the same event stores nothing. */
  dedupeKey: string;
  /** False where the event's own path already emails (invitations, disabled webhooks): the preference then governs the in-app side only. */
  emailable: boolean;
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The org's name, read in its context; undefined when the org is gone (its notifications with it). */
async function orgName(db: Database, orgId: string): Promise<string | undefined> {
  const [, rows] = await db.http.batch([
    db.http.execute(systemContext(orgId)),
    db.http.select({ name: organizations.name }).from(organizations).where(and(eq(organizations.id, orgId), sql`${organizations.deletedAt} is null`)),
  ]);
  return rows[0]?.name;
}

function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/**
 * Who an event notifies and with which words. Reads what the event names (the invitation, the session, the org's
 * name); never writes. Events about a thing that is gone by now (a deleted org, a revoked invitation) notify nobody.
 */
export async function recipientsOf(db: Database, event: NotificationEvent): Promise<Delivery[]> {
  switch (event.type) {
    case 'invitation.created':
      return invitationCreated(db, event);
    case 'invitation.accepted':
      return invitationAccepted(db, event);
    case 'security.sign_in':
      return newSignIn(db, event);
    case 'security.password_changed':
      return [
        {
          userId: event.userId,
          orgId: null,
          category: 'security',
          type: event.type,
          title: 'Your password was changed',
          body: 'The password of your account was just changed. If it was not you, reset your password at once and revoke your sessions.',
          data: {},
          dedupeKey: `${event.type}:${event.eventId}`,
          emailable: true,
        },
      ];
    default:
      return orgEvent(db, event);
  }
}

type OrgEvent = Extract<NotificationEvent, { type: 'member.role_changed' | 'member.removed' | 'webhook.disabled' | 'api_key.expiring' | 'storage.near_quota' }>;

async function orgEvent(db: Database, event: OrgEvent): Promise<Delivery[]> {
  const name = await orgName(db, event.orgId);
  if (name === undefined) return [];
  const base = { orgId: event.orgId, type: event.type, emailable: true };
  switch (event.type) {
    case 'member.role_changed':
      return [{ ...base, userId: event.userId, category: 'membership', title: `Your role in ${name} changed`, body: `You are now ${event.role} in ${name}.`, data: { role: event.role }, dedupeKey: `${event.type}:${event.eventId}` }];
    case 'member.removed':
      return [{ ...base, userId: event.userId, category: 'membership', title: `You were removed from ${name}`, body: `You are no longer a member of ${name}.`, data: {}, dedupeKey: `${event.type}:${event.eventId}` }];
    case 'webhook.disabled': {
      const what = clip(event.description || event.endpointId, 200);
      const body = `The webhook endpoint "${what}" failed every delivery for 5 days, so it was disabled. Fix the receiver, enable it again and replay the events it missed.`;
      const data = { endpointId: event.endpointId };
      const key = `${event.type}:${event.endpointId}:${event.eventId}`;
      return event.userIds.map((userId) => ({ ...base, emailable: false, userId, category: 'webhooks', title: `A webhook endpoint of ${name} was disabled`, body, data, dedupeKey: key }));
    }
    case 'api_key.expiring': {
      const day = event.expiresAt.slice(0, 10);
      const body = `Your API key "${clip(event.name, 100)}" in ${name} expires on ${day} (UTC). Create or rotate a key before then so nothing stops working.`;
      return [{ ...base, userId: event.userId, category: 'api_keys', title: `An API key expires soon`, body, data: { keyId: event.keyId, expiresAt: event.expiresAt }, dedupeKey: `${event.type}:${event.keyId}` }];
    }
    case 'storage.near_quota': {
      const share = Math.floor((event.usedBytes / event.limitBytes) * 100);
      const body = `${name} stores ${formatBytes(event.usedBytes)} of its ${formatBytes(event.limitBytes)} quota (${share}%). Delete files it no longer needs or move to a larger plan.`;
      const data = { usedBytes: event.usedBytes, limitBytes: event.limitBytes, month: event.month };
      const key = `${event.type}:${event.orgId}:${event.month}`;
      return event.userIds.map((userId) => ({ ...base, userId, category: 'storage', title: `${name} has used ${share}% of its storage`, body, data, dedupeKey: key }));
    }
  }
}

/**
 * The invitee, if a verified account has the invited address and the invitation is still open. An unverified
 * account may belong to someone who signed up with another person's address: it is not told (the invitation email
 * still goes to the address itself).
 */
async function invitationCreated(db: Database, event: Extract<NotificationEvent, { type: 'invitation.created' }>): Promise<Delivery[]> {
  const inviter = sql<string | null>`(select u.name from users u where u.id = ${invitations.invitedBy})`;
  const [, rows] = await db.http.batch([
    db.http.execute(systemContext(event.orgId)),
    db.http
      .select({ userId: users.id, role: invitations.role, orgName: organizations.name, inviter })
      .from(invitations)
      .innerJoin(organizations, eq(organizations.id, invitations.orgId))
      .innerJoin(users, eq(users.email, invitations.email))
      .innerJoin(credentials, and(eq(credentials.userId, users.id), isNotNull(credentials.emailVerifiedAt)))
      .where(and(eq(invitations.id, event.invitationId), eq(invitations.orgId, event.orgId), sql`${invitations.acceptedAt} is null and ${invitations.revokedAt} is null`)),
  ]);
  return rows.map((row) => ({
    userId: row.userId,
    orgId: event.orgId,
    category: 'invitations',
    type: event.type,
    title: `Invitation to ${row.orgName}`,
    body: `${row.inviter || 'Someone'} invited you to join ${row.orgName} as ${row.role}. Accept with the link in the invitation email.`,
    data: { invitationId: event.invitationId, role: row.role },
    dedupeKey: `${event.type}:${event.invitationId}`,
    emailable: false,
  }));
}

/** The inviter of the invitation `userId` accepted (not when they invited themself, or are gone). */
async function invitationAccepted(db: Database, event: Extract<NotificationEvent, { type: 'invitation.accepted' }>): Promise<Delivery[]> {
  const [, rows] = await db.http.batch([
    db.http.execute(systemContext(event.orgId)),
    db.http
      .select({ id: invitations.id, inviterId: invitations.invitedBy, role: invitations.role, memberName: users.name, memberEmail: users.email, orgName: organizations.name })
      .from(invitations)
      .innerJoin(users, and(eq(users.id, event.userId), eq(users.email, invitations.email)))
      .innerJoin(organizations, eq(organizations.id, invitations.orgId))
      .where(and(eq(invitations.orgId, event.orgId), isNotNull(invitations.acceptedAt)))
      .orderBy(desc(invitations.acceptedAt))
      .limit(1),
  ]);
  const row = rows[0];
  if (!row?.inviterId || row.inviterId === event.userId) return [];
  const who = row.memberName || row.memberEmail;
  return [
    {
      userId: row.inviterId,
      orgId: event.orgId,
      category: 'invitations',
      type: event.type,
      title: `${who} joined ${row.orgName}`,
      body: `${who} accepted your invitation and joined ${row.orgName} as ${row.role}.`,
      data: { invitationId: row.id, userId: event.userId, role: row.role },
      dedupeKey: `${event.type}:${row.id}`,
      emailable: true,
    },
  ];
}

/**
 * A sign-in from a device (user agent and IP) the user has not used in SIGN_IN_MEMORY_DAYS. A user's very first
 * session (signing up) has nothing to compare with and notifies nothing; an account idle for longer than the window
 * (its old sessions may be pruned) is told, as that is when a stolen password is most likely used.
 */
async function newSignIn(db: Database, event: Extract<NotificationEvent, { type: 'security.sign_in' }>): Promise<Delivery[]> {
  const [session] = await db.http
    .select({ userAgent: sessions.userAgent, ip: sessions.ip, createdAt: sessions.createdAt })
    .from(sessions)
    .where(and(eq(sessions.id, event.sessionId), eq(sessions.userId, event.userId)));
  if (!session) return [];
  const since = new Date(session.createdAt.getTime() - SIGN_IN_MEMORY_DAYS * 86_400_000);
  const [earlier] = await db.http
    .select({
      any: sql<boolean>`count(*) > 0 or coalesce((select u.created_at < ${since.toISOString()}::timestamptz from users u where u.id = ${event.userId}), false)`,
      seen: sql<boolean>`coalesce(bool_or(${sessions.createdAt} >= ${since.toISOString()}::timestamptz and ${sessions.userAgent} is not distinct from ${session.userAgent} and ${sessions.ip} is not distinct from ${session.ip}), false)`,
    })
    .from(sessions)
    .where(and(eq(sessions.userId, event.userId), ne(sessions.id, event.sessionId), sql`${sessions.createdAt} <= ${session.createdAt.toISOString()}::timestamptz`));
  if (!earlier?.any || earlier.seen) return [];
  const device = clip(session.userAgent ?? 'an unknown browser', 120);
  return [
    {
      userId: event.userId,
      orgId: null,
      category: 'security',
      type: event.type,
      title: 'New sign-in to your account',
      body: `Someone signed in to your account from ${device} at ${session.ip ?? 'an unknown address'}. If it was not you, change your password and revoke that session.`,
      data: { sessionId: event.sessionId },
      dedupeKey: `${event.type}:${event.sessionId}`,
      emailable: true,
    },
  ];
}
