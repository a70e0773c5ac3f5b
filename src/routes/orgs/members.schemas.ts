import { z } from '@hono/zod-openapi';
import { cursorTimestamp, orgParams, pathId } from '../../lib/fields.ts';
import { paginationQuery } from '../../lib/pagination.ts';
import { orgRoleSchema } from './orgs.schemas.ts';

/** A member of an organization as fellow members see it. */
export const memberSchema = z
  .object({
    userId: z.uuid(),
    name: z.string(),
    email: z.email(),
    role: orgRoleSchema,
    joinedAt: z.iso.datetime(),
  })
  .openapi('Member');

export type MemberResponse = z.infer<typeof memberSchema>;

export const memberParams = orgParams.extend({ userId: pathId('userId') });

export const listMembersQuery = paginationQuery;

/** Cursor of the member list: (joined at, exact to the microsecond; user id). */
export const memberCursor = z.tuple([cursorTimestamp, z.uuid()]);

export const updateMemberBody = z.strictObject({ role: orgRoleSchema }).openapi('UpdateMember');

type MemberRow = { userId: string; name: string; email: string; role: z.infer<typeof orgRoleSchema>; joinedAt: Date };

/** Row → response: an explicit pick. */
export function toMember(row: MemberRow): MemberResponse {
  return { userId: row.userId, name: row.name, email: row.email, role: row.role, joinedAt: row.joinedAt.toISOString() };
}
