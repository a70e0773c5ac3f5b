import { and, desc, eq, gt, isNull, ne, or, sql } from 'drizzle-orm';
import type { Database, HttpDatabase } from '../db/client.ts';
import { credentials, memberships, refreshTokens, sessions } from '../db/schema/index.ts';
import type { RequestMeta, ScopedDatabase, UserActor } from '../db/tenant.ts';
import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';
import { sha256Hex } from '../lib/crypto.ts';
import { newRefreshToken, signAccessToken, successorRefreshToken } from './tokens.ts';

type SessionConfig = Parameters<typeof signAccessToken>[0] & Pick<Config, 'REFRESH_TOKEN_TTL_DAYS' | 'REFRESH_GRACE_SECONDS'>;

/** What a client receives after signing up, logging in or refreshing. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

/** A session about to be opened; its rows are inserted by `insertSession` as part of a caller's batch. */
export interface NewSession {
  id: string;
  refreshToken: string;
  refreshTokenHash: string;
}

/** Why a session ended, kept in `sessions.revoked_reason`. */
export type RevokeReason = 'logout' | 'revoked' | 'revoked_all' | 'password_reset' | 'deactivated';

export async function prepareSession(): Promise<NewSession> {
  const refreshToken = newRefreshToken();
  return { id: crypto.randomUUID(), refreshToken, refreshTokenHash: await sha256Hex(refreshToken) };
}

/** The session row and its first refresh token, for the caller to put in its batch (no round trip here). */
export function insertSession(db: HttpDatabase, config: SessionConfig, userId: string, session: NewSession, meta: RequestMeta) {
  return [
    db.insert(sessions).values({
      id: session.id,
      userId,
      userAgent: meta.userAgent,
      ip: meta.ip,
      expiresAt: sql`now() + make_interval(days => ${config.REFRESH_TOKEN_TTL_DAYS}::int)`,
    }),
    db.insert(refreshTokens).values({ tokenHash: session.refreshTokenHash, sessionId: session.id }),
  ] as const;
}

/** Signs the access token that goes with `refreshToken`. */
export async function tokenPair(
  config: SessionConfig,
  subject: { userId: string; sessionId: string; issuedAt: Date; refreshToken: string },
): Promise<TokenPair> {
  const { accessToken, expiresIn } = await signAccessToken(config, subject);
  return { accessToken, refreshToken: subject.refreshToken, tokenType: 'Bearer', expiresIn };
}

interface RotateRow extends Record<string, unknown> {
  outcome: 'rotated' | 'replayed' | 'reused' | 'invalid';
  session_id: string | null;
  user_id: string | null;
  issued_at: string | null;
}

/**
 * Exchanges a refresh token for a new pair, in one round trip (`refresh_rotate`, which locks the session).
 * The successor is derived from the presented token and the access token is signed at the rotation time,
 * so every refresh of one token inside the grace window gets the same pair, byte for byte. Presenting an
 * already-rotated token after that revokes the whole session (the token has probably been stolen), and
 * `onRevoked` is told before the 401 leaves.
 */
export async function rotateRefreshToken(db: Database, config: SessionConfig, presented: string, onRevoked: (userId: string, sessionId: string | null) => Promise<void>): Promise<TokenPair> {
  const successor = await successorRefreshToken(config, presented);
  const [presentedHash, successorHash] = await Promise.all([sha256Hex(presented), sha256Hex(successor)]);
  const { rows } = await db.http.execute<RotateRow>(sql`
    select outcome, session_id, user_id, floor(extract(epoch from rotated_at))::bigint as issued_at
    from refresh_rotate(${presentedHash}, ${successorHash}, ${config.REFRESH_GRACE_SECONDS}::int * interval '1 second')
  `);
  const row = rows[0];
  if (row?.outcome === 'reused') {
    if (row.user_id) await onRevoked(row.user_id, row.session_id);
    throw new ApiError('UNAUTHORIZED', 'This refresh token was already used, so the session has been revoked for safety. Sign in again.', {
      reason: 'refresh_token_reused',
    });
  }
  if ((row?.outcome !== 'rotated' && row?.outcome !== 'replayed') || !row.session_id || !row.user_id || row.issued_at === null) {
    throw new ApiError('UNAUTHORIZED', 'The refresh token is invalid, expired or revoked. Sign in again.', { reason: 'refresh_token_invalid' });
  }
  return tokenPair(config, { userId: row.user_id, sessionId: row.session_id, issuedAt: new Date(Number(row.issued_at) * 1000), refreshToken: successor });
}

/**
 * The live session a presented refresh token belongs to, without exchanging it (one round trip): for signing
 * out with the refresh cookie alone. The token must be the session's current one, or one rotated inside the
 * grace window (a refresh racing in another tab); the session and account must pass what the gate checks
 * (`app_check_session`). An older token proves nothing about who holds the session now, so it names none here,
 * and nothing is revoked for it (reuse detection is refresh's).
 */
export async function sessionOfRefreshToken(db: Database, config: Pick<Config, 'REFRESH_GRACE_SECONDS'>, presented: string) {
  const [row] = await db.http
    .select({ userId: sessions.userId, sessionId: sessions.id })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .innerJoin(credentials, eq(credentials.userId, sessions.userId))
    .where(
      and(
        eq(refreshTokens.tokenHash, await sha256Hex(presented)),
        or(isNull(refreshTokens.rotatedAt), gt(refreshTokens.rotatedAt, sql`now() - ${config.REFRESH_GRACE_SECONDS}::int * interval '1 second'`)),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, sql`now()`),
        isNull(credentials.deactivatedAt),
      ),
    );
  return row;
}

/** The user's live sessions, most recently used first. One round trip with the gate. */
export async function listSessions(account: ScopedDatabase<UserActor>) {
  const userId = account.actor.id;
  const [rows] = await account.batch((db) => [
    db
      .select({ id: sessions.id, userAgent: sessions.userAgent, ip: sessions.ip, createdAt: sessions.createdAt, lastUsedAt: sessions.lastUsedAt })
      .from(sessions)
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, sql`now()`)))
      .orderBy(desc(sessions.lastUsedAt), desc(sessions.createdAt)),
  ]);
  return rows;
}

/** The orgs `userId` belongs to (under the user's own gate): whose edge authorities hear of their revocations. */
export function selectMyOrgIds(db: HttpDatabase, userId: string) {
  return db.select({ orgId: memberships.orgId }).from(memberships).where(eq(memberships.userId, userId));
}

/** The orgs of `userId` whatever their session's state (`app_user_org_ids`): for a write that ended them outside any gate. */
export async function orgIdsOfUser(db: Database, userId: string): Promise<string[]> {
  const { rows } = await db.http.execute<{ org_id: string }>(sql`select org_id from app_user_org_ids(${userId}::uuid) as org_id`);
  return rows.map((row) => row.org_id);
}

/** Sessions ended, and the orgs of the user, whose grants that ended too. */
export interface Revoked {
  count: number;
  orgIds: string[];
}

/** Revokes one live session of the user (count 0 if there is none with that id, or it is someone else's). */
export async function revokeSession(account: ScopedDatabase<UserActor>, sessionId: string, reason: RevokeReason): Promise<Revoked> {
  const userId = account.actor.id;
  const [rows, orgs] = await account.batch((db) => [
    db
      .update(sessions)
      .set({ revokedAt: sql`now()`, revokedReason: reason })
      .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt)))
      .returning({ id: sessions.id }),
    selectMyOrgIds(db, userId),
  ]);
  return { count: rows.length, orgIds: orgs.map((row) => row.orgId) };
}

/** Revokes every live session of the user, except `keep` when given. */
export async function revokeAllSessions(account: ScopedDatabase<UserActor>, keep?: string): Promise<Revoked> {
  const userId = account.actor.id;
  const [rows, orgs] = await account.batch((db) => [
    db
      .update(sessions)
      .set({ revokedAt: sql`now()`, revokedReason: 'revoked_all' satisfies RevokeReason })
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), keep ? ne(sessions.id, keep) : undefined))
      .returning({ id: sessions.id }),
    selectMyOrgIds(db, userId),
  ]);
  return { count: rows.length, orgIds: orgs.map((row) => row.orgId) };
}
