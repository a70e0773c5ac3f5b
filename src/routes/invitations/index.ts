import { createRouter } from '../router.ts';
import { acceptInvitationHandler, createInvitationHandler, listInvitationsHandler, revokeInvitationHandler } from './invitations.handlers.ts';
import { acceptInvitation, createInvitation, listInvitations, revokeInvitation } from './invitations.routes.ts';

/** Invitations: create, list, revoke, accept. */
export const invitationRoutes = createRouter()
  .openapi(createInvitation, createInvitationHandler)
  .openapi(listInvitations, listInvitationsHandler)
  .openapi(revokeInvitation, revokeInvitationHandler)
  .openapi(acceptInvitation, acceptInvitationHandler);
