import { createRouter } from '../../lib/router.ts';

/** Invitations: create, list, revoke, accept. */
export const invitationRoutes = createRouter();
