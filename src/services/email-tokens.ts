import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { emailTokens, users } from '../db/schema/index.ts';
import type { ScopedDatabase, UserActor } from '../db/tenant.ts';
import { ApiError } from '../errors.ts';
import { sha256Hex } from '../lib/crypto.ts';
import { hashPassword } from '../lib/passwords.ts';
import { emailTokenExpiry, newEmailToken, passwordPolicyIssue, type EmailTokenPurpose } from './accounts.ts';

// Single-use email tokens (verification, password reset), stored hashed.

type TokenState = 'invalid' | 'expired' | 'used';

/** Stable answers for tokens that cannot be used: the code and `details.reason` are the contract. */
function tokenError(state: TokenState): ApiError {
  if (state === 'invalid') return new ApiError('BAD_REQUEST', 'This link is invalid.', { reason: 'token_invalid' });
  if (state === 'expired') return new ApiError('GONE', 'This link has expired. Ask for a new one.', { reason: 'token_expired' });
  return new ApiError('GONE', 'This link has already been used.', { reason: 'token_used' });
}

const insertToken = (hash: string, purpose: EmailTokenPurpose) => sql`${hash}, c.user_id, ${purpose}::email_token_purpose, ${emailTokenExpiry(purpose)}`;

/**
 * A new verification token for the signed-in user (earlier ones stay valid until they expire).
 * One round trip with the gate; 409 if the email is already verified.
 */
export async function issueVerification(account: ScopedDatabase<UserActor>): Promise<{ to: string; name: string; token: string }> {
  const userId = account.actor.id;
  const { token, hash } = await newEmailToken();
  const [inserted, profile] = await account.batch((db) => [
    db.execute(sql`
      insert into email_tokens (token_hash, user_id, purpose, expires_at)
      select ${insertToken(hash, 'verify_email')} from credentials c where c.user_id = ${userId}::uuid and c.email_verified_at is null
      returning user_id
    `),
    db.select({ email: users.email, name: users.name }).from(users).where(eq(users.id, userId)),
  ]);
  const user = profile[0];
  if (!user) throw new ApiError('UNAUTHORIZED', 'Your session is no longer valid. Sign in again.');
  if (inserted.rows.length === 0) throw new ApiError('CONFLICT', 'Your email address is already verified.', { reason: 'already_verified' });
  return { to: user.email, name: user.name, token };
}

interface ClaimRow extends Record<string, unknown> {
  claimed: boolean;
  found: boolean;
  used: boolean | null;
  expired: boolean | null;
}

/** Why a claim failed, from what the statement saw before its own update (a lost race counts as used). */
function claimFailure(row: ClaimRow | undefined): ApiError {
  if (!row?.found) return tokenError('invalid');
  if (row.expired && !row.used) return tokenError('expired');
  return tokenError('used');
}

/** Marks the email of the token's user verified and spends the token. One statement, one round trip. */
export async function verifyEmail(db: Database, token: string): Promise<void> {
  const hash = await sha256Hex(token);
  const { rows } = await db.http.execute<ClaimRow>(sql`
    with found as (
      select used_at, expires_at from email_tokens where token_hash = ${hash} and purpose = 'verify_email'
    ), claimed as (
      update email_tokens set used_at = now()
      where token_hash = ${hash} and purpose = 'verify_email' and used_at is null and expires_at > now()
      returning user_id
    ), verified as (
      update credentials c set email_verified_at = coalesce(c.email_verified_at, now()) from claimed where c.user_id = claimed.user_id
    )
    select exists (select 1 from claimed) as claimed, exists (select 1 from found) as found,
      (select used_at is not null from found) as used, (select expires_at <= now() from found) as expired
  `);
  if (!rows[0]?.claimed) throw claimFailure(rows[0]);
}

/**
 * A password-reset token for the active account with this email, or undefined if there is none (the
 * caller answers the same either way). Earlier reset tokens of the user are spent. One round trip.
 */
export async function issuePasswordReset(db: Database, email: string): Promise<{ to: string; name: string; token: string } | undefined> {
  const { token, hash } = await newEmailToken();
  const [, inserted, profile] = await db.http.batch([
    db.http
      .update(emailTokens)
      .set({ usedAt: sql`now()` })
      .where(
        and(eq(emailTokens.purpose, 'reset_password'), isNull(emailTokens.usedAt), eq(emailTokens.userId, sql`(select id from users where email = ${email})`)),
      ),
    db.http.execute(sql`
      insert into email_tokens (token_hash, user_id, purpose, expires_at)
      select ${insertToken(hash, 'reset_password')} from users u join credentials c on c.user_id = u.id
      where u.email = ${email} and c.deactivated_at is null
      returning user_id
    `),
    db.http.select({ email: users.email, name: users.name }).from(users).where(eq(users.email, email)),
  ]);
  const user = profile[0];
  return inserted.rows.length > 0 && user ? { to: user.email, name: user.name, token } : undefined;
}

interface ResetTokenRow extends Record<string, unknown> {
  email: string;
  used: boolean;
  expired: boolean;
  deactivated: boolean;
}

/**
 * Sets a new password with a reset token, spends every outstanding reset token of the user and revokes
 * ALL their sessions, so a thief holding a session is out at once. Two round trips: the token is read
 * first (bad tokens fail before any hashing, and the password is checked against the email), then claimed
 * and applied in one statement that re-checks it, so two concurrent resets cannot both succeed.
 */
export async function resetPassword(db: Database, token: string, password: string): Promise<{ orgIds: string[]; userId: string }> {
  const hash = await sha256Hex(token);
  const { rows } = await db.http.execute<ResetTokenRow>(sql`
    select u.email, t.used_at is not null as used, t.expires_at <= now() as expired, c.deactivated_at is not null as deactivated
    from email_tokens t join users u on u.id = t.user_id join credentials c on c.user_id = t.user_id
    where t.token_hash = ${hash} and t.purpose = 'reset_password'
  `);
  const found = rows[0];
  if (!found || found.deactivated) throw tokenError('invalid');
  if (found.used) throw tokenError('used');
  if (found.expired) throw tokenError('expired');
  const issue = passwordPolicyIssue(password, found.email);
  if (issue) throw new ApiError('VALIDATION_FAILED', 'Request validation failed.', { issues: [{ path: 'password', code: 'custom', message: issue }] });
  const passwordHash = await hashPassword(password);
  const { rows: applied } = await db.http.execute<{ user_id: string | null; org_ids: string[] }>(sql`
    with claimed as (
      update email_tokens t set used_at = now()
      from credentials c
      where t.token_hash = ${hash} and t.purpose = 'reset_password' and t.used_at is null and t.expires_at > now()
        and c.user_id = t.user_id and c.deactivated_at is null
      returning t.user_id
    ), changed as (
      update credentials c set password_hash = ${passwordHash}, password_changed_at = now(), email_verified_at = coalesce(c.email_verified_at, now())
      from claimed where c.user_id = claimed.user_id
    ), revoked as (
      update sessions s set revoked_at = now(), revoked_reason = 'password_reset'
      from claimed where s.user_id = claimed.user_id and s.revoked_at is null
    ), spent as (
      update email_tokens t set used_at = now()
      from claimed where t.user_id = claimed.user_id and t.purpose = 'reset_password' and t.used_at is null and t.token_hash <> ${hash}
    )
    select claimed.user_id, array(select app_user_org_ids(claimed.user_id)) as org_ids from claimed
  `);
  const row = applied[0];
  if (!row?.user_id) throw tokenError('used');
  return { orgIds: row.org_ids, userId: row.user_id };
}
