import { createRouter } from '../router.ts';
import { connect, ticketFor } from './rooms.handlers.ts';
import { orgRoom, personalRoom, projectRoom } from './rooms.routes.ts';

const lower = (id: string) => id.toLowerCase();

/** Realtime rooms: an org's rooms, a project's rooms and each member's personal room (README, "Realtime rooms"). */
export const roomRoutes = createRouter()
  .openapi(orgRoom.ticket, async (c) => {
    const { orgId, roomId } = c.req.valid('param');
    const data = await ticketFor(c, { kind: 'org', orgId: lower(orgId), roomId }, `/api/v1/orgs/${orgId}/rooms/${roomId}/ws`);
    return c.json({ data }, 201);
  })
  .openapi(orgRoom.connect, (c) => {
    const { orgId, roomId } = c.req.valid('param');
    return connect(c, { kind: 'org', orgId: lower(orgId), roomId }, c.req.valid('query'));
  })
  .openapi(projectRoom.ticket, async (c) => {
    const { orgId, projectId, roomId } = c.req.valid('param');
    const data = await ticketFor(c, { kind: 'project', orgId: lower(orgId), projectId: lower(projectId), roomId }, `/api/v1/orgs/${orgId}/projects/${projectId}/rooms/${roomId}/ws`);
    return c.json({ data }, 201);
  })
  .openapi(projectRoom.connect, (c) => {
    const { orgId, projectId, roomId } = c.req.valid('param');
    return connect(c, { kind: 'project', orgId: lower(orgId), projectId: lower(projectId), roomId }, c.req.valid('query'));
  })
  .openapi(personalRoom.ticket, async (c) => {
    const { orgId, userId } = c.req.valid('param');
    const data = await ticketFor(c, { kind: 'user', orgId: lower(orgId), userId: lower(userId) }, `/api/v1/orgs/${orgId}/members/${userId}/room/ws`);
    return c.json({ data }, 201);
  })
  .openapi(personalRoom.connect, (c) => {
    const { orgId, userId } = c.req.valid('param');
    return connect(c, { kind: 'user', orgId: lower(orgId), userId: lower(userId) }, c.req.valid('query'));
  });
