import type { z } from '@hono/zod-openapi';
import { errorResponse } from '../../errors.ts';
import { dataEnvelope, jsonContent } from '../../lib/envelope.ts';
import type { Permission } from '../../lib/permissions.ts';
import { streamRoute } from '../route-kinds.ts';
import { orgRoomParams, personalRoomParams, projectRoomParams, roomTicketSchema, socketQuery } from './rooms.schemas.ts';

const tags = ['Realtime rooms'];

const switching = {
  101: { description: 'Switching Protocols: the socket speaks the rooms protocol v1, or v2 with `?v=2` (README, "Realtime rooms"); the first frame is `hello`.' },
  426: errorResponse('Not a WebSocket upgrade (`UPGRADE_REQUIRED`): connect with `Upgrade: websocket`.'),
};

/** The pair of routes of one room kind: a single-use ticket, and the WebSocket connect it opens. */
function roomRoutes<P extends z.ZodObject>(permission: Permission, base: string, params: P, what: string) {
  const ticket = streamRoute('socket', permission, {
    method: 'post',
    path: `${base}/tickets`,
    tags,
    summary: `Get a ticket to connect to ${what}`,
    description: 'A single-use ticket, valid 30 s, for the connect route (`url`): browsers cannot send headers with a WebSocket.',
    request: { params },
    responses: { 201: jsonContent(dataEnvelope(roomTicketSchema), 'The ticket and the connect URL.') },
  });
  const connect = streamRoute('socket', permission, {
    method: 'get',
    path: `${base}/ws`,
    tags,
    summary: `Connect to ${what} (WebSocket)`,
    description:
      'Send `Upgrade: websocket` with `?ticket=` (or the usual credentials as headers). Membership and role are checked before the ' +
      'upgrade; a revoked session, key or membership later closes the socket (4001/4003), a deleted project or org too (4004).',
    request: { params, query: socketQuery },
    responses: switching,
  });
  return { ticket, connect };
}

export const orgRoom = roomRoutes('org:read', '/orgs/{orgId}/rooms/{roomId}', orgRoomParams, 'an org room');
export const projectRoom = roomRoutes('projects:read', '/orgs/{orgId}/projects/{projectId}/rooms/{roomId}', projectRoomParams, 'a project room');
export const personalRoom = roomRoutes('org:read', '/orgs/{orgId}/members/{userId}/room', personalRoomParams, "a member's personal room (notifications; that member only)");
