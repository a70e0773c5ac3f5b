import { z } from '@hono/zod-openapi';
import { cursorTimestamp, emailField, orgParams, pathId } from '../../lib/fields.ts';
import { paginationQuery } from '../../lib/pagination.ts';
import { INVITATION_STATUSES, type InvitationStatus } from '../../services/invitations.ts';
import { orgRoleSchema } from '../orgs/orgs.schemas.ts';

/** An invitation as managers see it. The token is never part of it: it exists only in the email. */
export const invitationSchema = z
  .object({
    id: z.uuid(),
    email: z.email(),
    role: orgRoleSchema,
    status: z.enum(INVITATION_STATUSES),
    invitedBy: z.uuid().nullable().openapi({ description: 'The inviting user; null when an API key invited or the user was deleted.' }),
    expiresAt: z.iso.datetime(),
    acceptedAt: z.iso.datetime().nullable(),
    revokedAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
  })
  .openapi('Invitation');

export type InvitationResponse = z.infer<typeof invitationSchema>;

export const invitationParams = orgParams.extend({ invitationId: pathId('invitationId') });

export const createInvitationBody = z.strictObject({ email: emailField, role: orgRoleSchema }).openapi('CreateInvitation');

export const listInvitationsQuery = paginationQuery.extend({
  status: z.enum(INVITATION_STATUSES).optional().openapi({ param: { name: 'status', in: 'query' }, description: 'Only invitations in this status.' }),
});

/** Cursor of the invitation list, newest first: (created at, exact to the microsecond; id). */
export const invitationCursor = z.tuple([cursorTimestamp, z.uuid()]);

export const acceptInvitationBody = z
  .strictObject({ token: z.string().regex(/^inv_[\w-]{43}$/, 'must be the token from the invitation email') })
  .openapi('AcceptInvitation');

export const acceptedInvitationSchema = z.object({ orgId: z.uuid(), role: orgRoleSchema }).openapi('AcceptedInvitation');

type InvitationRow = {
  id: string;
  email: string;
  role: z.infer<typeof orgRoleSchema>;
  invitedBy: string | null;
  expiresAt: Date;
  acceptedAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
};

/** Row → response: an explicit pick, so the token hash can never leak. */
export function toInvitation(row: InvitationRow, status: InvitationStatus): InvitationResponse {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    status,
    invitedBy: row.invitedBy,
    expiresAt: row.expiresAt.toISOString(),
    acceptedAt: row.acceptedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}
