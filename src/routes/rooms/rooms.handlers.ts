import type { Context } from 'hono';
import type { RoomAddress, RoomMember } from '../../../durable-objects/room/index.ts';
import type { Actor, ScopedDatabase } from '../../db/tenant.ts';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors.ts';
import { ORG_ROLES, PROJECT_ROLES, roleAdmits, type OrgRole, type ProjectRole } from '../../lib/permissions.ts';
import { selectProjectMember } from '../../services/project-members.ts';
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
 * Sending needs `projects:write`: in an org room by org role (owner, admin, member), in a project room by the
 * project role where the member has one (it replaces the org role of a member or viewer, as in the gate); a key
 * needs the scope. Events rooms and personal rooms are the server's to write. One round trip, and only for a
 * member or viewer in a project room (their project role).
 */
async function mayWrite(c: RoomContext, address: RoomAddress): Promise<boolean> {
  const { actor, tenant } = c.var;
  if (address.kind === 'user' || address.roomId === EVENTS_ROOM) return false;
  if (actor.type === 'api_key') return actor.scopes.includes('projects:write');
  const role = tenant.role ?? '';
  if (!(ORG_ROLES as readonly string[]).includes(role)) return false;
  let projectRole: ProjectRole | undefined;
  if (address.kind === 'project' && role !== 'owner' && role !== 'admin') {
    const [rows] = await tenant.batch((db) => [selectProjectMember(db, address.projectId, actor.id)]);
    projectRole = PROJECT_ROLES.find((known) => known === rows[0]?.role);
  }
  return roleAdmits(role as OrgRole, projectRole, 'projects:write');
}

/** Hands an admitted caller's upgrade to the room (the gate has run: `streamRoute`). */
export async function connect(c: RoomContext, address: RoomAddress, query: { lastId?: string; v?: '1' | '2' }): Promise<Response> {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') throw new ApiError('UPGRADE_REQUIRED', 'Connect with a WebSocket client (Upgrade: websocket).');
  const actor = c.var.actor;
  assertMayEnter(actor, address);
  const member: RoomMember = {
    userId: actor.type === 'user' ? actor.id : null,
    keyId: actor.type === 'api_key' ? actor.id : null,
    sessionId: actor.type === 'user' ? actor.sessionId : null,
    role: c.var.tenant.role ?? 'member',
    canSend: await mayWrite(c, address),
  };
  const upgraded = await connectToRoom(c.env, address, member, query.lastId === undefined ? undefined : Number(query.lastId), query.v === '2' ? 2 : 1);
  if (upgraded.status !== 101 || !upgraded.webSocket) throw new Error(`room refused an admitted member (${upgraded.status})`);
  return new Response(null, { status: 101, webSocket: upgraded.webSocket });
}
