import { createRouter } from '../router.ts';
import { listSessionsHandler, revokeAllSessionsHandler, revokeSessionHandler } from './sessions.handlers.ts';
import { listSessionsRoute, revokeAllSessionsRoute, revokeSessionRoute } from './sessions.routes.ts';
import { deactivateUserHandler, getMeHandler, getUserHandler, replaceUserHandler, updateUserHandler } from './users.handlers.ts';
import { deactivateUser, getMe, getUser, replaceUser, updateUser } from './users.routes.ts';

/** The caller's profile (/me), users by id, and the caller's sessions. */
export const userRoutes = createRouter()
  .openapi(getMe, getMeHandler)
  .openapi(getUser, getUserHandler)
  .openapi(replaceUser, replaceUserHandler)
  .openapi(updateUser, updateUserHandler)
  .openapi(deactivateUser, deactivateUserHandler)
  .openapi(listSessionsRoute, listSessionsHandler)
  .openapi(revokeAllSessionsRoute, revokeAllSessionsHandler)
  .openapi(revokeSessionRoute, revokeSessionHandler);
