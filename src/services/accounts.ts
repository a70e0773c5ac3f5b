import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Database, HttpDatabase } from '../db/client.ts';
import { sqlState } from '../db/errors.ts';
import { credentials, emailTokens, memberships, organizations, users } from '../db/schema/index.ts';
import type { RequestMeta, ScopedDatabase, UserActor } from '../db/tenant.ts';
import { ApiError } from '../errors.ts';
import { randomToken, sha256Hex } from '../lib/crypto.ts';
import { describeError, log } from '../lib/log.ts';
import { DECOY_PASSWORD_HASH, hashPassword, normaliseEmail, verifyPassword } from '../lib/passwords.ts';
import { ownerCountSql } from './organizations.ts';
import { mayEmail } from './auth-throttle.ts';
import { enqueueJob } from './jobs.ts';
import { insertSession, prepareSession, tokenPair, type TokenPair } from './sessions.ts';

type AccountConfig = Parameters<typeof tokenPair>[0] & Parameters<typeof insertSession>[1];

/** The columns of a user's own profile: the user row plus whether the email is verified. */
export const profileColumns = {
  id: users.id,
  email: users.email,
  name: users.name,
  emailVerifiedAt: credentials.emailVerifiedAt,
  createdAt: users.createdAt,
  updatedAt: users.updatedAt,
};

export interface ProfileRow {
  id: string;
  email: string;
  name: string;
  emailVerifiedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The profile of `userId` (no round trip here: batch it). */
export function selectProfile(db: HttpDatabase, userId: string) {
  return db.select(profileColumns).from(users).innerJoin(credentials, eq(credentials.userId, users.id)).where(eq(users.id, userId));
}

/** One round trip: the gate, the change (none for an empty one) and the profile after it; undefined if the account is gone. */
export async function updateProfile(account: ScopedDatabase<UserActor>, changes: { name?: string }): Promise<ProfileRow | undefined> {
  const userId = account.actor.id;
  if (changes.name === undefined) return (await account.batch((db) => [selectProfile(db, userId)]))[0][0];
  const [, rows] = await account.batch((db) => [db.update(users).set({ name: changes.name, updatedAt: sql`now()` }).where(eq(users.id, userId)), selectProfile(db, userId)]);
  return rows[0];
}

/**
 * The part of the password policy a schema cannot express alone: the password must not be the email.
 * (Length is checked by the request schemas, with PASSWORD_MIN_LENGTH..PASSWORD_MAX_LENGTH.)
 */
export function passwordPolicyIssue(password: string, email: string): string | undefined {
  return normaliseEmail(password) === normaliseEmail(email) ? 'The password must not be your email address.' : undefined;
}

/** How long single-use email tokens live, as SQL intervals. */
export const EMAIL_TOKEN_TTL = { verify_email: '24 hours', reset_password: '1 hour' } as const;

export type EmailTokenPurpose = keyof typeof EMAIL_TOKEN_TTL;

/** A fresh single-use email token; only its hash is stored. */
export async function newEmailToken(): Promise<{ token: string; hash: string }> {
  const token = randomToken();
  return { token, hash: await sha256Hex(token) };
}

/** SQL for the expiry of an email token issued now. */
export const emailTokenExpiry = (purpose: EmailTokenPurpose) => sql`now() + ${EMAIL_TOKEN_TTL[purpose]}::interval`;

export interface SignedIn {
  profile: ProfileRow;
  tokens: TokenPair;
  /** The new session (a sign-in notification compares its device with the user's earlier ones). */
  sessionId: string;
}

/**
 * Creates the user, their credentials, a first session with its refresh token and an email-verification
 * token — one batch, one round trip, all or nothing. A taken email answers 409.
 */
export async function createAccount(
  db: Database,
  config: AccountConfig,
  input: { email: string; password: string; name: string },
  meta: RequestMeta,
): Promise<SignedIn & { verificationToken: string }> {
  const userId = crypto.randomUUID();
  const [passwordHash, session, verification] = await Promise.all([hashPassword(input.password), prepareSession(), newEmailToken()]);
  try {
    const [created] = await db.http.batch([
      db.http.insert(users).values({ id: userId, email: input.email, name: input.name }).returning(),
      db.http.insert(credentials).values({ userId, passwordHash }),
      ...insertSession(db.http, config, userId, session, meta),
      db.http.insert(emailTokens).values({ tokenHash: verification.hash, userId, purpose: 'verify_email', expiresAt: emailTokenExpiry('verify_email') }),
    ]);
    const user = created[0];
    if (!user) throw new Error('user insert returned no row');
    const tokens = await tokenPair(config, { userId, sessionId: session.id, issuedAt: new Date(), refreshToken: session.refreshToken });
    return { profile: { ...user, emailVerifiedAt: null }, tokens, sessionId: session.id, verificationToken: verification.token };
  } catch (error) {
    if (sqlState(error) === '23505') throw new ApiError('CONFLICT', 'An account with this email already exists.');
    throw error;
  }
}

/**
 * Uniform signup (`SIGNUP_RESPONSE=uniform`), run after the answer: a new address gets its account and the
 * verification email; a taken one gets an email telling its owner someone tried (at most as often as
 * EMAIL_SEND_LIMITS allows). Never throws: failures are logged.
 */
export async function signUpQuietly(
  env: Pick<Env, 'JOBS' | 'RATE_LIMITER'>,
  db: Database,
  config: AccountConfig & Parameters<typeof mayEmail>[1],
  input: { email: string; password: string; name: string },
  meta: RequestMeta,
): Promise<void> {
  try {
    const { profile, verificationToken } = await createAccount(db, config, input, meta);
    await enqueueJob(env.JOBS, 'email.send', { to: profile.email, template: 'verify-email', data: { token: verificationToken, name: profile.name } });
  } catch (error) {
    if (!(error instanceof ApiError && error.code === 'CONFLICT')) {
      log('error', 'uniform signup failed', { error: describeError(error) });
      return;
    }
    try {
      if (await mayEmail(env, config, 'signup-attempt', input.email)) await enqueueJob(env.JOBS, 'email.send', { to: input.email, template: 'signup-attempt', data: {} });
    } catch (notified) {
      log('error', 'could not notify the owner of a taken address', { error: describeError(notified) });
    }
  }
}

const invalidLogin = () => new ApiError('UNAUTHORIZED', 'Invalid email or password.');

/**
 * Checks an email and password and opens a session: two round trips (the lookup, then the session).
 * Unknown emails are verified against a decoy hash and deactivated accounts are verified too, so all
 * three failures cost the same time and answer the same 401. A hash with outdated parameters is
 * upgraded in the session's batch.
 */
export async function logIn(db: Database, config: AccountConfig, input: { email: string; password: string }, meta: RequestMeta): Promise<SignedIn> {
  const [account] = await db.http
    .select({ ...profileColumns, passwordHash: credentials.passwordHash, deactivatedAt: credentials.deactivatedAt })
    .from(users)
    .innerJoin(credentials, eq(credentials.userId, users.id))
    .where(eq(users.email, input.email));
  const { valid, needsRehash } = await verifyPassword(input.password, account?.passwordHash ?? DECOY_PASSWORD_HASH);
  if (!account || !valid || account.deactivatedAt) throw invalidLogin();
  const { passwordHash: _hash, deactivatedAt: _deactivated, ...profile } = account;
  const session = await prepareSession();
  const rehash = needsRehash ? await hashPassword(input.password) : undefined;
  await db.http.batch([
    ...insertSession(db.http, config, account.id, session, meta),
    ...(rehash ? [db.http.update(credentials).set({ passwordHash: rehash }).where(eq(credentials.userId, account.id))] : []),
  ]);
  const tokens = await tokenPair(config, { userId: account.id, sessionId: session.id, issuedAt: new Date(), refreshToken: session.refreshToken });
  return { profile, tokens, sessionId: session.id };
}

/** How the caller stands to another user: themself, sharing an organization with them, or a stranger. */
export type Relation = 'self' | 'shared' | 'none';

/** What any user who shares an organization with a user may see of them. */
export interface PublicProfileRow {
  id: string;
  email: string;
  name: string;
}

/**
 * The caller's relation to `targetId`, with the target's public profile unless they are a stranger
 * (who must not learn the user exists). One round trip: the user gate (live session), the profile, and
 * `users_share_org`, which looks across the caller's orgs on the caller's verified identity.
 */
export async function relationTo(account: ScopedDatabase<UserActor>, targetId: string): Promise<{ relation: Relation; profile?: PublicProfileRow }> {
  const [targets, sharing] = await account.batch((http) => [
    http.select({ id: users.id, email: users.email, name: users.name }).from(users).where(eq(users.id, targetId)),
    http.execute<{ shared: boolean }>(sql`select users_share_org(${targetId}::uuid) as shared`),
  ]);
  const profile = targets[0];
  if (!profile) return { relation: 'none' };
  if (profile.id === account.actor.id) return { relation: 'self', profile };
  return sharing.rows[0]?.shared ? { relation: 'shared', profile } : { relation: 'none' };
}

/**
 * Deactivates the caller's account: credentials marked, every session revoked, outstanding email tokens
 * spent — so every token stops working at once. Refused with 409 while the caller is the last active
 * owner of a live organization, which would otherwise be left without anyone able to manage it.
 *
 * One interactive transaction: each such org is locked with the same lock every ownership change takes
 * (`lockOrganization`, in a fixed order so two co-owners deactivating at once serialise instead of both
 * leaving, and a co-owner leaving at the same moment cannot either), then the remaining active owners
 * are counted in a later statement, which sees whatever the other transaction committed. Answers the orgs
 * the user belonged to, whose grants ended.
 */
export async function deactivateAccount(account: ScopedDatabase<UserActor>): Promise<{ orgIds: string[] }> {
  const actor = account.actor;
  return account.transaction(async (tx) => {
    const owned = await tx
      .select({ id: organizations.id, name: organizations.name })
      .from(memberships)
      .innerJoin(organizations, and(eq(organizations.id, memberships.orgId), isNull(organizations.deletedAt)))
      .where(and(eq(memberships.userId, actor.id), eq(memberships.role, 'owner')))
      .orderBy(asc(organizations.id));
    const blocking: Array<{ id: string; name: string }> = [];
    for (const org of owned) {
      await tx.execute(account.check({ kind: 'org', orgId: org.id, permission: 'org:delete' }));
      await tx.select({ id: organizations.id }).from(organizations).where(eq(organizations.id, org.id)).for('no key update');
      const { rows } = await tx.execute<{ owners: number }>(sql`select ${ownerCountSql(org.id)} as owners`);
      // The caller is still active here, so they are one of the owners counted.
      if ((rows[0]?.owners ?? 0) <= 1) blocking.push(org);
    }
    if (blocking.length > 0) {
      throw new ApiError('CONFLICT', 'You are the only owner of some organizations. Transfer their ownership or delete them first.', {
        organizations: blocking,
      });
    }
    await tx.execute(sql`
      with deactivated as (
        update credentials set deactivated_at = now() where user_id = ${actor.id}::uuid and deactivated_at is null
      ), revoked as (
        update sessions set revoked_at = now(), revoked_reason = 'deactivated' where user_id = ${actor.id}::uuid and revoked_at is null
      )
      update email_tokens set used_at = now() where user_id = ${actor.id}::uuid and used_at is null
    `);
    const orgs = await tx.select({ orgId: memberships.orgId }).from(memberships).where(eq(memberships.userId, actor.id));
    return { orgIds: orgs.map((row) => row.orgId) };
  });
}
