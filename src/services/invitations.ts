import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import type { HttpDatabase } from '../db/client.ts';
import { sqlHint, sqlState } from '../db/errors.ts';
import { invitations, organizations } from '../db/schema/index.ts';
import type { Actor, ScopedDatabase, UserActor } from '../db/tenant.ts';
import { ApiError } from '../errors.ts';
import { randomToken, sha256Hex } from '../lib/crypto.ts';
import { exactTimestamp, keysetAfter, keysetOrderBy, type KeyPart, type PageRequest } from '../lib/pagination.ts';
import { rolesUpTo, type OrgRole } from '../lib/permissions.ts';
import { callerRoleSql, lockOrganization } from './organizations.ts';
import { quotaCheck } from './quotas.ts';

export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';
export const INVITATION_STATUSES = ['pending', 'accepted', 'revoked', 'expired'] as const satisfies readonly InvitationStatus[];

/** An invitation's status, derived in SQL so filters and responses agree with `invitation_accept`. */
export const invitationStatusSql: SQL<InvitationStatus> = sql<InvitationStatus>`(case
  when ${invitations.acceptedAt} is not null then 'accepted'
  when ${invitations.revokedAt} is not null then 'revoked'
  when ${invitations.expiresAt} <= now() then 'expired'
  else 'pending' end)`;

const pendingFor = (orgId: string, email: string) =>
  sql`exists (select 1 from invitations i where i.org_id = ${orgId} and i.email = ${email}
    and i.accepted_at is null and i.revoked_at is null and i.expires_at > now())`;

const memberWithEmail = (orgId: string, email: string) =>
  sql`exists (select 1 from memberships m join users u on u.id = m.user_id where m.org_id = ${orgId} and u.email = ${email})`;

function inviterNameSql(actor: Actor): SQL<string | null> {
  return actor.type === 'user'
    ? sql<string | null>`(select u.name from users u where u.id = ${actor.id})`
    : sql<string | null>`(select k.name || ' (API key)' from api_keys k where k.id = ${actor.id})`;
}

/** The invitation row and what its email needs. The token exists only here and in the email. */
export interface CreatedInvitation {
  invitation: typeof invitations.$inferSelect;
  token: string;
  orgName: string;
  inviterName: string;
}

/**
 * Creates an invitation in one round trip: gate, org lock (so two invitations for one address cannot
 * both pass the "no pending invitation" check), an insert guarded by the rules, and reads that return
 * the row or explain why the guard refused:
 *  - the inviter may not grant a role above their own (API keys count as admins) → 403;
 *  - the address belongs to a member, or has a pending invitation → 409;
 *  - the org holds its quota of members (pending invitations count) → 403 QUOTA_EXCEEDED.
 */
export async function createInvitation(tenant: ScopedDatabase, orgId: string, input: { email: string; role: OrgRole }): Promise<CreatedInvitation> {
  const actor = tenant.actor;
  const id = crypto.randomUUID();
  const token = randomToken('inv_');
  const tokenHash = await sha256Hex(token);
  const { email, role } = input;
  const callerRole = callerRoleSql(actor, orgId);
  const [, , , [invitation], [state]] = await tenant.batch((db) => [
    lockOrganization(db, orgId),
    // Members count pending invitations, so the quota is checked here, not when one is accepted.
    db.execute(quotaCheck(orgId, 'members')),
    db.execute(sql`
      insert into ${invitations} (id, org_id, email, role, token_hash, invited_by, expires_at)
      select ${id}, ${orgId}, ${email}, ${role}::org_role, ${tokenHash}, ${actor.type === 'user' ? actor.id : null}::uuid, now() + interval '7 days'
      where ${role}::org_role >= ${callerRole} and not ${memberWithEmail(orgId, email)} and not ${pendingFor(orgId, email)}`),
    db.select().from(invitations).where(eq(invitations.id, id)),
    inviterState(db, actor, orgId, email),
  ]);
  if (!state) throw new ApiError('NOT_FOUND', 'Organization not found.');
  if (invitation) return { invitation, token, orgName: state.orgName, inviterName: state.inviterName ?? 'A team member' };
  if (!state.callerRole || !rolesUpTo(state.callerRole).includes(role)) {
    throw new ApiError('FORBIDDEN', `You cannot invite someone as ${role}: that is above your own role.`);
  }
  if (state.isMember) throw new ApiError('CONFLICT', 'This person is already a member of the organization.');
  if (state.hasPending) throw new ApiError('CONFLICT', 'This address already has a pending invitation. Revoke it to send a new one.');
  throw new ApiError('CONFLICT', 'The organization changed while this request ran. Try again.');
}

function inviterState(db: HttpDatabase, actor: Actor, orgId: string, email: string) {
  return db
    .select({
      orgName: organizations.name,
      callerRole: callerRoleSql(actor, orgId),
      inviterName: inviterNameSql(actor),
      isMember: sql<boolean>`${memberWithEmail(orgId, email)}`,
      hasPending: sql<boolean>`${pendingFor(orgId, email)}`,
    })
    .from(organizations)
    .where(eq(organizations.id, orgId));
}

/** Removes an invitation whose email could not be queued, so the address can be invited again. */
export async function discardInvitation(tenant: ScopedDatabase, id: string): Promise<void> {
  await tenant.batch((db) => [db.delete(invitations).where(eq(invitations.id, id))]);
}

const newestFirst: KeyPart[] = [
  { expression: invitations.createdAt, direction: 'desc' },
  { expression: invitations.id, direction: 'desc' },
];

/** A page of the org's invitations, newest first, optionally of one status (`limit + 1` rows: see takePage), each with its key text for the cursor. */
export function selectInvitationPage(db: HttpDatabase, orgId: string, status: InvitationStatus | undefined, page: PageRequest) {
  return db
    .select({ invitation: invitations, status: invitationStatusSql, key: exactTimestamp(invitations.createdAt) })
    .from(invitations)
    .where(and(eq(invitations.orgId, orgId), status && eq(invitationStatusSql, status), page.after && keysetAfter(newestFirst, page.after)))
    .orderBy(...keysetOrderBy(newestFirst))
    .limit(page.limit + 1);
}

const invitationOf = (orgId: string, invitationId: string) => and(eq(invitations.id, invitationId), eq(invitations.orgId, orgId));

/** Revokes an invitation unless it was accepted or already revoked; returns its id if this revoked it. */
export function setInvitationRevoked(db: HttpDatabase, orgId: string, invitationId: string) {
  return db
    .update(invitations)
    .set({ revokedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(invitationOf(orgId, invitationId), isNull(invitations.acceptedAt), isNull(invitations.revokedAt)))
    .returning({ id: invitations.id });
}

/** Whether the invitation exists and was accepted: read with a revocation, to explain a refusal. */
export function selectInvitationAcceptance(db: HttpDatabase, orgId: string, invitationId: string) {
  return db.select({ acceptedAt: invitations.acceptedAt }).from(invitations).where(invitationOf(orgId, invitationId));
}

/**
 * Accepts an invitation as the signed-in user, through the SECURITY DEFINER `invitation_accept`
 * (it finds the invitation by token hash across orgs, checks the session and the email, and writes the
 * membership and the acceptance together, audited as the invitee). One round trip.
 */
export async function acceptInvitation(account: ScopedDatabase<UserActor>, token: string): Promise<{ orgId: string; role: OrgRole }> {
  const tokenHash = await sha256Hex(token);
  try {
    // The user gate has just checked the session and set `app.actor`, the context invitation_accept takes.
    const [{ rows }] = await account.batch((db) => [
      db.execute<{ org_id: string; role: OrgRole }>(sql`select org_id, role from invitation_accept(${tokenHash}, current_setting('app.actor')::jsonb)`),
    ]);
    const row = rows[0];
    if (!row) throw new Error('invitation_accept returned no row');
    return { orgId: row.org_id, role: row.role };
  } catch (error) {
    throw acceptError(error) ?? error;
  }
}

/** `invitation_accept`'s SQLSTATEs, each with a message that tells the invitee what to do. */
function acceptError(error: unknown): ApiError | undefined {
  switch (sqlState(error)) {
    case 'AP404':
      return new ApiError('NOT_FOUND', 'This invitation does not exist or has been revoked.');
    case 'AP409':
      return sqlHint(error) === 'already_member'
        ? new ApiError('CONFLICT', 'You are already a member of this organization.')
        : new ApiError('CONFLICT', 'This invitation has already been accepted.');
    case 'AP410':
      return new ApiError('GONE', 'This invitation has expired. Ask for a new one.');
    case 'AP403':
      return new ApiError('FORBIDDEN', 'This invitation was sent to another email address. Sign in with that address to accept it.');
    default:
      return undefined;
  }
}
