import type { Context } from 'hono';
import type { DisconnectTarget, ServerEvent } from '../../durable-objects/room/index.ts';
import type { AppEnv } from '../env.ts';
import { reportUserSessionsEnded } from './edge-changes.ts';
import { disconnectFromRooms, EVENTS_ROOM, projectRoomsGone, publishToRoom, type DISCONNECTS } from '../services/rooms.ts';

// What handlers tell realtime rooms (services/rooms.ts), in one line each: domain events after the response
// (`waitUntil`, a failure is logged), disconnects before it (a revocation closes sockets, it does not wait).

const later = <E extends AppEnv>(c: Context<E>) => (promise: Promise<unknown>) => c.executionCtx.waitUntil(promise);

/** A domain event into the org's `events` room (e.g. membership changes). */
export function orgEvent<E extends AppEnv>(c: Context<E>, orgId: string, event: ServerEvent): void {
  publishToRoom(c.env, later(c), { kind: 'org', orgId, roomId: EVENTS_ROOM }, event);
}

/** A domain event into a project's `events` room. */
export function projectEvent<E extends AppEnv>(c: Context<E>, orgId: string, projectId: string, event: ServerEvent): void {
  publishToRoom(c.env, later(c), { kind: 'project', orgId, projectId, roomId: EVENTS_ROOM }, event);
}

/** A notification into one member's personal room (kept in its history until they connect). */
export function notifyMember<E extends AppEnv>(c: Context<E>, orgId: string, userId: string, event: ServerEvent): void {
  publishToRoom(c.env, later(c), { kind: 'user', orgId, userId }, event);
}

/** A project was deleted: its events room hears it, then its rooms close (4004), after the response. */
export function projectGone<E extends AppEnv>(c: Context<E>, orgId: string, projectId: string): void {
  c.executionCtx.waitUntil(projectRoomsGone(c.env, orgId, projectId));
}

/** Closes `target`'s sockets in these orgs' rooms before the response leaves; never throws. */
export function disconnectSockets<E extends AppEnv>(c: Context<E>, orgIds: readonly string[], target: DisconnectTarget, why: keyof typeof DISCONNECTS): Promise<void> {
  return disconnectFromRooms(c.env, orgIds, target, why);
}

/** A project role was set or removed: the user's sockets in the project's rooms close (4003), before the response. */
export function projectAccessChanged<E extends AppEnv>(c: Context<E>, orgId: string, projectId: string, userId: string): Promise<void> {
  return disconnectFromRooms(c.env, [orgId], { userId }, 'accessChanged', { kind: 'project', orgId, projectId, roomId: '' });
}

/** The org was deleted: every socket in every room of the org closes (4004), before the response. */
export function orgDeleted<E extends AppEnv>(c: Context<E>, orgId: string): Promise<void> {
  return disconnectFromRooms(c.env, [orgId], { everyone: true }, 'orgDeleted');
}

/**
 * A refresh token was reused, so its session was revoked: the authorities hear of it (`reportUserSessionsEnded`)
 * and the session's sockets close (4001), before the 401 leaves.
 */
export async function refreshTokenReused<E extends AppEnv>(c: Context<E>, userId: string, sessionId: string | null): Promise<void> {
  const orgIds = await reportUserSessionsEnded(c, userId);
  if (sessionId) await disconnectFromRooms(c.env, orgIds, { sessionId }, 'revoked');
}
