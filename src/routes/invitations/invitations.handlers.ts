import type { RouteHandler } from '@hono/zod-openapi';
import { ApiError } from '../../errors.ts';
import { describeError, log } from '../../lib/log.ts';
import { decodeCursor, takePage } from '../../lib/pagination.ts';
import { normaliseEmail } from '../../lib/passwords.ts';
import { appLink } from '../../services/email-templates.ts';
import {
  acceptInvitation as accept,
  createInvitation as create,
  discardInvitation,
  selectInvitationAcceptance,
  selectInvitationPage,
  setInvitationRevoked,
} from '../../services/invitations.ts';
import { enqueueJob } from '../../services/jobs.ts';
import type { acceptInvitation, createInvitation, listInvitations, revokeInvitation } from './invitations.routes.ts';
import { invitationCursor, toInvitation } from './invitations.schemas.ts';
import { reportGrantsChanged } from '../../middleware/edge-changes.ts';
import { orgEvent } from '../../middleware/room-changes.ts';
import { notify } from '../../middleware/notify.ts';

/**
 * One round trip for the invitation (see services/invitations.ts), then the email is queued. If it
 * cannot be queued the invitation is discarded: otherwise it would block a new invitation for 7 days.
 */
export const createInvitationHandler: RouteHandler<typeof createInvitation> = async (c) => {
  const { orgId } = c.req.valid('param');
  const body = c.req.valid('json');
  const email = normaliseEmail(body.email);
  const { invitation, token, orgName, inviterName } = await create(c.var.tenant, orgId, { email, role: body.role });
  const url = appLink(c.var.config, '/invitations/accept', token);
  try {
    await enqueueJob(c.env.JOBS, 'email.send', { to: email, template: 'invitation', data: { token, url, orgName, role: invitation.role, inviterName } });
  } catch (error) {
    log('error', 'could not queue the invitation email', { invitationId: invitation.id, error: describeError(error) });
    await discardInvitation(c.var.tenant, invitation.id);
    throw new ApiError('SERVICE_UNAVAILABLE', 'The invitation email could not be sent, so no invitation was created. Try again.');
  }
  notify(c, { type: 'invitation.created', orgId, invitationId: invitation.id });
  return c.json({ data: toInvitation(invitation, 'pending') }, 201);
};

/** One round trip: gate and page. */
export const listInvitationsHandler: RouteHandler<typeof listInvitations> = async (c) => {
  const { orgId } = c.req.valid('param');
  const { limit, cursor, status } = c.req.valid('query');
  const after = cursor === undefined ? undefined : decodeCursor(cursor, invitationCursor);
  const [rows] = await c.var.tenant.batch((db) => [selectInvitationPage(db, orgId, status, { limit, after })]);
  const page = takePage(rows, limit, (row) => [row.key, row.invitation.id]);
  return c.json({ data: page.items.map((row) => toInvitation(row.invitation, row.status)), meta: { nextCursor: page.nextCursor, limit } }, 200);
};

/** One round trip: gate, the revocation, and the invitation's state to explain a refusal. */
export const revokeInvitationHandler: RouteHandler<typeof revokeInvitation> = async (c) => {
  const { orgId, invitationId } = c.req.valid('param');
  const [revoked, [current]] = await c.var.tenant.batch((db) => [
    setInvitationRevoked(db, orgId, invitationId),
    selectInvitationAcceptance(db, orgId, invitationId),
  ]);
  if (revoked.length === 0) {
    if (!current) throw new ApiError('NOT_FOUND', 'Invitation not found.');
    if (current.acceptedAt) throw new ApiError('CONFLICT', 'This invitation has already been accepted; remove the member instead.');
    // Already revoked: revoking again changes nothing.
  }
  return c.body(null, 204);
};

/** One round trip: `invitation_accept` checks, writes and audits everything in one transaction. */
export const acceptInvitationHandler: RouteHandler<typeof acceptInvitation> = async (c) => {
  const { token } = c.req.valid('json');
  const accepted = await accept(c.var.account, token);
  c.set('tenantId', accepted.orgId);
  // The new member may have been refused by the org's edge authority a moment ago: it must forget that.
  await reportGrantsChanged(c, [accepted.orgId]);
  orgEvent(c, accepted.orgId, { event: 'member.joined', data: { userId: c.var.actor.id } });
  notify(c, { type: 'invitation.accepted', orgId: accepted.orgId, userId: c.var.actor.id });
  return c.json({ data: accepted }, 200);
};
