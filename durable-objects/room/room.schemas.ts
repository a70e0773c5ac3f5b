import { z } from 'zod';

/** Names one room, e.g. `org:<orgId>:room:<roomId>` (see `roomName`). Never blank, so a missing id cannot merge rooms. */
export const roomKey = z.string().min(1).max(256);

/** What `ping()` answers: the namespace routes to a live object. */
export const roomPingReply = z.literal('pong');
export type RoomPingReply = z.infer<typeof roomPingReply>;

/** A room id as clients name it: lower-case, so one room has one spelling, and no `:` (names stay unambiguous). */
export const ROOM_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Where a room lives. The org is part of every name, so no id of one tenant can reach another's room. */
export type RoomAddress =
  | { kind: 'org'; orgId: string; roomId: string }
  | { kind: 'project'; orgId: string; projectId: string; roomId: string }
  | { kind: 'user'; orgId: string; userId: string };

/** The object name of a room. Ids are lower-cased, as the gate reads them. */
export function roomName(address: RoomAddress): string {
  const org = `org:${address.orgId.toLowerCase()}`;
  if (address.kind === 'org') return `${org}:room:${address.roomId}`;
  if (address.kind === 'project') return `${org}:project:${address.projectId.toLowerCase()}:room:${address.roomId}`;
  return `${org}:user:${address.userId.toLowerCase()}`;
}

/** The object that lists an org's rooms with sockets (so a revocation reaches them all). */
export const directoryName = (orgId: string) => `org:${orgId.toLowerCase()}:directory`;

/** The caller a connect ticket stands for: the app's actor, re-checked by the gate when the ticket is used. */
export const ticketActor = z.discriminatedUnion('type', [
  z.object({ type: z.literal('user'), id: z.string(), sessionId: z.string() }),
  z.object({ type: z.literal('api_key'), id: z.string(), keyHash: z.string(), orgId: z.string(), projectId: z.string().nullable(), scopes: z.array(z.string()).readonly() }),
]);
export type TicketActor = z.infer<typeof ticketActor>;

/**
 * An id a member carries: the app's are UUIDs (36 characters). Bounded so the attachment stays small whatever it is
 * handed (test/unit/room-attachment.test.ts: a maximal one serializes under 2,048 bytes).
 */
const memberId = z.string().max(64).nullable();

/** Who a socket belongs to, as the app admitted it (handed to the room with the upgrade, kept in the attachment). */
export const roomMember = z.object({
  userId: memberId,
  keyId: memberId,
  sessionId: memberId,
  role: z.string().max(32),
  /** Whether the member may send broadcast and ephemeral frames (viewers and personal rooms: no). */
  canSend: z.boolean(),
});
export type RoomMember = z.infer<typeof roomMember>;

/** The header the app hands the member in (the room is reachable only through the app's stub, never from outside). */
export const MEMBER_HEADER = 'x-room-member';

/** The protocol versions a client may speak (README, "Realtime rooms"): v2 is v1 with scalable presence. */
const version = z.union([z.literal(1), z.literal(2)]);

/** Frames a client may send. Anything else gets an `error` frame; the socket stays open. */
export const clientFrame = z.discriminatedUnion('type', [
  z.strictObject({ v: version, type: z.literal('broadcast'), data: z.json() }),
  z.strictObject({ v: version, type: z.literal('ephemeral'), data: z.json() }),
  /** v2: a page of the members, by connection id after `after` (the `next` of the previous page). */
  z.strictObject({ v: z.literal(2), type: z.literal('members'), after: z.string().max(64).optional() }),
]);
export type ClientFrame = z.infer<typeof clientFrame>;

/** An event the API publishes into a room (a domain event or a notification). */
export const serverEvent = z.object({ event: z.string().min(1).max(100), data: z.json() });
export type ServerEvent = z.infer<typeof serverEvent>;

/** Close codes (README, "Realtime rooms"). */
export const CLOSE_CODES = {
  /** Rate limit exceeded (policy violation). */
  policy: 1008,
  /** Frame larger than `ROOM_LIMITS.messageBytes`. */
  tooBig: 1009,
  /** The room is full; try again later. */
  full: 1013,
  /** The credential behind the socket was revoked (logout, revoked session, revoked API key, deactivated account). */
  revoked: 4001,
  /** The member's access to the org changed (removed, role changed): reconnect to be admitted afresh. */
  accessChanged: 4003,
  /** The room's resource is gone (its project was deleted). */
  gone: 4004,
} as const;

/** Which sockets a revocation closes, across an org's rooms. */
export const disconnectTarget = z.union([
  z.object({ userId: z.string(), exceptSessionId: z.string().optional() }),
  z.object({ sessionId: z.string() }),
  z.object({ keyId: z.string() }),
  z.object({ everyone: z.literal(true) }),
]);
export type DisconnectTarget = z.infer<typeof disconnectTarget>;
