import { z } from 'zod';
import { ORG_ROLES } from '../lib/permissions.ts';

// What producers tell the notification job (`notifications.deliver`, services/notification-delivery.ts): an event,
// never a rendered notification. The job finds the recipients and the words. Each event carries its own dedupe
// identity (`eventId`, drawn once by the producer; or the key and month the cron tasks name), so however often the
// queue delivers it, each recipient gets one notification.

const eventId = z.uuid();
const ids = z.array(z.uuid()).max(1000);

export const notificationEventSchema = z.discriminatedUnion('type', [
  /** Someone was invited (`invitations`): the invitee, if an account has that email. */
  z.object({ type: z.literal('invitation.created'), eventId, orgId: z.uuid(), invitationId: z.uuid() }),
  /** `userId` accepted an invitation to the org (`invitations`): the inviter. */
  z.object({ type: z.literal('invitation.accepted'), eventId, orgId: z.uuid(), userId: z.uuid() }),
  z.object({ type: z.literal('member.role_changed'), eventId, orgId: z.uuid(), userId: z.uuid(), role: z.enum(ORG_ROLES) }),
  z.object({ type: z.literal('member.removed'), eventId, orgId: z.uuid(), userId: z.uuid() }),
  /** A sign-in created `sessionId`: its user, when the device (user agent and IP) is new to them. */
  z.object({ type: z.literal('security.sign_in'), eventId, userId: z.uuid(), sessionId: z.uuid() }),
  z.object({ type: z.literal('security.password_changed'), eventId, userId: z.uuid() }),
  /** The webhook delivery disabled an endpoint; `userIds`: the org's owners and admins it emailed. */
  z.object({ type: z.literal('webhook.disabled'), eventId, orgId: z.uuid(), endpointId: z.uuid(), description: z.string().max(1000), userIds: ids }),
  /** Daily cron: once per key (dedupe key `api_key.expiring:<keyId>`). */
  z.object({ type: z.literal('api_key.expiring'), orgId: z.uuid(), keyId: z.uuid(), userId: z.uuid(), name: z.string().max(200), expiresAt: z.iso.datetime({ offset: true }) }),
  /** Daily cron: once per org and month (`storage.near_quota:<orgId>:<month>`). */
  z.object({
    type: z.literal('storage.near_quota'),
    orgId: z.uuid(),
    month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/),
    usedBytes: z.number().int().nonnegative(),
    limitBytes: z.number().int().positive(),
    userIds: ids,
  }),
]);

export type NotificationEvent = z.infer<typeof notificationEventSchema>;

/** Distributes Omit over the union, so a producer names one event without its `eventId`. */
type WithoutEventId<E> = E extends { eventId: string } ? Omit<E, 'eventId'> : E;
export type NotificationEventInput = WithoutEventId<NotificationEvent>;

/** The event with its dedupe identity drawn (once: a retried send reuses the same body). */
export function withEventId(event: NotificationEventInput): NotificationEvent {
  return ('eventId' in event ? event : { ...event, eventId: crypto.randomUUID() }) as NotificationEvent;
}
