import { z } from '@hono/zod-openapi';
import { ROOM_ID_PATTERN } from '../../../durable-objects/room/index.ts';
import { orgParams, pathId } from '../../lib/fields.ts';
import { TICKET_PATTERN } from '../../services/rooms.ts';

const roomId = z
  .string()
  .regex(ROOM_ID_PATTERN, 'must be 1–63 lower-case letters, digits, `_` or `-`, starting with a letter or digit')
  .openapi({ param: { name: 'roomId', in: 'path' }, example: 'general' });

export const orgRoomParams = orgParams.extend({ roomId });
export const projectRoomParams = orgParams.extend({ projectId: pathId('projectId'), roomId });
export const personalRoomParams = orgParams.extend({ userId: pathId('userId') });

/** The connect's query: the ticket (or send credentials as headers) and the last history id the client saw. */
export const socketQuery = z.strictObject({
  ticket: z.string().regex(TICKET_PATTERN).optional().openapi({ description: 'A single-use ticket from `POST …/tickets` (valid 30 s).' }),
  lastId: z
    .string()
    .regex(/^\d{1,15}$/)
    .optional()
    .openapi({ description: 'Resume: the hello replays only history after this id.', example: '42' }),
  v: z
    .enum(['1', '2'])
    .optional()
    .openapi({ description: 'The protocol version (default 1). v2 pages presence and coalesces its changes in large rooms (README, "Realtime rooms").' }),
});

export const roomTicketSchema = z
  .object({
    ticket: z.string().openapi({ example: 'rt_3q2-7wEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXA' }),
    expiresAt: z.iso.datetime(),
    /** The connect URL, path and query, ticket included. */
    url: z.string(),
  })
  .openapi('RoomTicket');
