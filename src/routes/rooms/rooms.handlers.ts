import type { Context } from 'hono';
import type { RoomAddress, RoomMember } from '../../../durable-objects/room/index.ts';
import type { Actor, ScopedDatabase } from '../../db/tenant.ts';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors.ts';
import { ORG_ROLES, orgRoleAllows, type OrgRole } from '../../lib/permissions.ts';
import { connectToRoom, EVENTS_ROOM, issueRoomTicket } from '../../services/rooms.ts';

type RoomContext = Context<AppEnv & { Variables: { actor: Actor; tenant: ScopedDatabase } }>;

/** A personal room is its member's alone: anyone else (an API key too) finds nothing there. */
function assertMayEnter(actor: Actor, address: RoomAddress): void {
  if (address.kind === 'user' && !(actor.type === 'user' && actor.id === address.userId)) throw new ApiError('NOT_FOUND', 'Room not found.');
}

/** Issues a single-use connect ticket, once the gate has admitted the caller. */
export async function ticketFor(c: RoomContext, address: RoomAddress, connectPath: string) {
  if (!c.var.tenant.gated) await c.var.tenant.enter();
  assertMayEnter(c.var.actor, address);
  const { ticket, expiresAt } = await issueRoomTicket(c.env, address, c.var.actor);
  return { ticket, expiresAt: expiresAt.toISOString(), url: `${connectPath}?ticket=${ticket}` };
}

/**
 * Sending needs what writing a project needs at org level (owner, admin, member; a key with `projects:write`);
 * events rooms and personal rooms are the server's to write.
 */
function mayWrite(actor: Actor, role: string | null, address: RoomAddress): boolean {
  if (address.kind === 'user' || address.roomId === EVENTS_ROOM) return false;
  if (actor.type === 'api_key') return actor.scopes.includes('projects:write');
  return (ORG_ROLES as readonly string[]).includes(role ?? '') && orgRoleAllows(role as OrgRole, 'projects:write');
}

/** Hands an admitted caller's upgrade to the room (the gate has run: `streamRoute`). */
export async function connect(c: RoomContext, address: RoomAddress, lastId: string | undefined): Promise<Response> {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') throw new ApiError('UPGRADE_REQUIRED', 'Connect with a WebSocket client (Upgrade: websocket).');
  const actor = c.var.actor;
  assertMayEnter(actor, address);
  const member: RoomMember = {
    userId: actor.type === 'user' ? actor.id : null,
    keyId: actor.type === 'api_key' ? actor.id : null,
    sessionId: actor.type === 'user' ? actor.sessionId : null,
    role: c.var.tenant.role ?? 'member',
    canSend: mayWrite(actor, c.var.tenant.role, address),
  };
  const upgraded = await connectToRoom(c.env, address, member, lastId === undefined ? undefined : Number(lastId));
  if (upgraded.status !== 101 || !upgraded.webSocket) throw new Error(`room refused an admitted member (${upgraded.status})`);
  return new Response(null, { status: 101, webSocket: upgraded.webSocket });
}
