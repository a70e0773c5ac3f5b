import { CLOSE_CODES, MEMBER_HEADER, ROOM_ID_PATTERN, roomDirectoryFor, roomFor, roomName, type DisconnectTarget, type RoomAddress, type RoomMember, type ServerEvent, type TicketActor } from '../../durable-objects/room/index.ts';
import { randomToken, sha256Hex } from '../lib/crypto.ts';
import { ROOM_LIMITS } from '../lib/limits.ts';
import { describeError, log } from '../lib/log.ts';

// Realtime rooms (durable-objects/room): connect tickets, the connect itself, domain events into rooms and
// disconnects on revocation. Publishing and disconnecting never fail the request that caused them: a failure
// is logged (the README says what a client then sees).

/** A connect ticket as sent: `rt_` and 43 base64url characters (256 random bits). */
export const TICKET_PATTERN = /^rt_[\w-]{43}$/;

/** The room a route's path parameters name, or undefined when they name none (an invalid room id, a missing org). */
export function roomAddressOf(params: Record<string, string | undefined>): RoomAddress | undefined {
  const { orgId, projectId, roomId, userId } = params;
  if (!orgId) return undefined;
  if (userId) return { kind: 'user', orgId, userId };
  if (!roomId || !ROOM_ID_PATTERN.test(roomId)) return undefined;
  return projectId ? { kind: 'project', orgId, projectId, roomId } : { kind: 'org', orgId, roomId };
}

/** Issues a single-use ticket for `actor` to connect to the room; valid for `ROOM_LIMITS.ticketTtlMs`. */
export async function issueRoomTicket(env: Env, address: RoomAddress, actor: TicketActor): Promise<{ ticket: string; expiresAt: Date }> {
  const ticket = randomToken('rt_');
  await roomFor(env, roomName(address)).issueTicket(await sha256Hex(ticket), actor);
  return { ticket, expiresAt: new Date(Date.now() + ROOM_LIMITS.ticketTtlMs) };
}

/** The caller a ticket stands for, once (the room deletes it as it reads it); undefined when unknown, used or expired. */
export async function redeemRoomTicket(env: Env, address: RoomAddress, ticket: string): Promise<TicketActor | undefined> {
  if (!TICKET_PATTERN.test(ticket)) return undefined;
  return roomFor(env, roomName(address)).redeemTicket(await sha256Hex(ticket));
}

/**
 * Hands an admitted member's upgrade to the room. The org's directory learns of the room first, so a
 * revocation that starts after this call reaches the new socket too.
 */
export async function connectToRoom(env: Env, address: RoomAddress, member: RoomMember, lastId: number | undefined, protocol: 1 | 2 = 1): Promise<Response> {
  const name = roomName(address);
  await roomDirectoryFor(env, address.orgId).track(name);
  const url = new URL('https://room/connect');
  if (lastId !== undefined) url.searchParams.set('lastId', String(lastId));
  if (protocol === 2) url.searchParams.set('v', '2');
  return roomFor(env, name).fetch(url, { headers: { upgrade: 'websocket', [MEMBER_HEADER]: JSON.stringify(member) } });
}

/**
 * Publishes a server event into a room without delaying the response (`waitUntil`); a failed publish is
 * logged, never a failed request.
 */
export function publishToRoom(env: Env, waitUntil: (promise: Promise<unknown>) => void, address: RoomAddress, event: ServerEvent): void {
  const publish = async () => {
    try {
      await roomFor(env, roomName(address)).publish(event);
    } catch (error) {
      log('error', 'room event not published', { room: address.kind, event: event.event, error: describeError(error) });
    }
  };
  waitUntil(publish());
}

/** Why sockets are closed, by what ended the access. */
export const DISCONNECTS = {
  revoked: { code: CLOSE_CODES.revoked, reason: 'Credentials revoked' },
  accessChanged: { code: CLOSE_CODES.accessChanged, reason: 'Access changed' },
  gone: { code: CLOSE_CODES.gone, reason: 'Room gone' },
  orgDeleted: { code: CLOSE_CODES.gone, reason: 'Organization deleted' },
} as const;

/**
 * Closes `target`'s sockets in every room of these orgs (their directories fan out; only the rooms whose name
 * starts with `within`, when given), before the response leaves: a revocation disconnects, it does not merely
 * refuse the next connect. Never throws: a failure is logged.
 */
export async function disconnectFromRooms(env: Env, orgIds: readonly string[], target: DisconnectTarget, why: keyof typeof DISCONNECTS, within?: RoomAddress): Promise<void> {
  const { code, reason } = DISCONNECTS[why];
  // Ids as sockets hold them (from the database): a path may spell them in upper case.
  const normalised = Object.fromEntries(Object.entries(target).map(([key, value]) => [key, typeof value === 'string' ? value.toLowerCase() : value])) as DisconnectTarget;
  await Promise.all(
    orgIds.map(async (orgId) => {
      try {
        await roomDirectoryFor(env, orgId).disconnectRooms(normalised, code, reason, within && roomName(within));
      } catch (error) {
        log('error', 'room sockets not closed after a revocation', { orgId, why, error: describeError(error) });
      }
    }),
  );
}

/** The room of an org or project that domain events go to (clients may read it, not send to it). */
export const EVENTS_ROOM = 'events';

/**
 * A project was deleted: its events room hears `project.deleted`, then every socket in any of the project's rooms
 * is closed (4004). For `waitUntil`; never throws.
 */
export async function projectRoomsGone(env: Env, orgId: string, projectId: string): Promise<void> {
  const events = { kind: 'project', orgId, projectId, roomId: EVENTS_ROOM } as const;
  const { code, reason } = DISCONNECTS.gone;
  const within = roomName({ kind: 'project', orgId, projectId, roomId: '' });
  // The event first (its sockets are among those closed), then the close, whatever became of the event.
  await roomFor(env, roomName(events))
    .publish({ event: 'project.deleted', data: { projectId } })
    .catch((error: unknown) => log('error', 'room event not published', { orgId, projectId, event: 'project.deleted', error: describeError(error) }));
  await roomDirectoryFor(env, orgId)
    .disconnectRooms({ everyone: true }, code, reason, within)
    .catch((error: unknown) => log('error', 'project rooms not closed', { orgId, projectId, error: describeError(error) }));
}
