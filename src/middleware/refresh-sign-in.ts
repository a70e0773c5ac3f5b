import type { Context, MiddlewareHandler, Next } from 'hono';
import type { KindEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { CALLER_RATE_LIMITS, RATE_WINDOW_SECONDS } from '../lib/limits.ts';
import { sessionOfRefreshToken } from '../services/sessions.ts';
import { authenticate, type AuthVariables } from './auth.ts';
import { requestDatabase } from './database.ts';
import { limitClientAddress } from './rate-limit.ts';

type SignInEnv = KindEnv<AuthVariables>;

/** Where a request that has no credential header carries its refresh token, and what it must prove first. */
export interface RefreshTokenSignIn {
  /** The refresh token the request carries, if any (cookie mode: the refresh cookie). */
  token: (c: Context<SignInEnv>) => string | undefined;
  /** Whether a value is shaped like a refresh token at all (no lookup for one that is not). */
  shaped: (token: string) => boolean;
  /** Throws unless the request may sign in with the token (cookie mode: the CSRF proof). Runs before anything else. */
  admit: (c: Context<SignInEnv>) => void;
  /** Headers of the 401s of a request signed in this way (cookie mode: remove the cookie). */
  refusedHeaders: Record<string, string>;
}

/**
 * A user route's sign-in that also takes a refresh token (log out with cookie mode's refresh cookie alone: a
 * browser app that reloaded, or whose access token expired, holds nothing else). A request with a credential
 * header (`Authorization`, `X-API-Key`) is authenticated by it alone, as on every user route; the token is
 * then never examined, so a session is never revoked on the word of a credential that does not prove it.
 * Without one, the token is admitted (`admit`), limited per client IP (it costs a lookup before anyone is known;
 * `SIGN_IN_LIMIT`), and must be the current token of a live session (`sessionOfRefreshToken`). Any other token
 * gets the same answer whatever it is (expired, revoked, exchanged, made up): 401 `refresh_token_invalid`.
 */
export function accessTokenOrRefreshToken(signIn: RefreshTokenSignIn): MiddlewareHandler<SignInEnv> {
  const byHeader = authenticate({ allow: ['user'] });
  return async function accessTokenOrRefreshToken(c, next) {
    const token = signIn.token(c);
    if (token === undefined || hasCredentialHeader(c)) return byHeader(c, next);
    signIn.admit(c);
    await limitClientAddress(c, SIGN_IN_LIMIT, 'open');
    await signInWithRefreshToken(c, signIn, token, next);
  };
}

/**
 * As many lookups per client IP as the auth routes allow, in a bucket of its own, so logins from one address (an
 * office behind one NAT) never keep its people from signing out; open when the limiter cannot be reached (logged),
 * since this sign-in only ever ends a session: a guessed token would need 256 random bits.
 */
const SIGN_IN_LIMIT = { key: 'refresh-token-sign-in', limit: CALLER_RATE_LIMITS.ip.auth ?? 0, windowMs: RATE_WINDOW_SECONDS * 1000 };

const hasCredentialHeader = (c: Context<SignInEnv>) => c.req.header('authorization') !== undefined || c.req.header('x-api-key') !== undefined;

async function signInWithRefreshToken(c: Context<SignInEnv>, signIn: RefreshTokenSignIn, token: string, next: Next): Promise<void> {
  const session = signIn.shaped(token) ? await sessionOfRefreshToken(requestDatabase(c), c.var.config, token) : undefined;
  if (!session) {
    throw new ApiError('UNAUTHORIZED', 'The refresh token names no live session: you are signed out.', { reason: 'refresh_token_invalid' }, signIn.refusedHeaders);
  }
  c.set('actor', { type: 'user', id: session.userId, sessionId: session.sessionId });
  await next();
  // The gate may still refuse the session (revoked or deactivated since the lookup): the token is dead too.
  if (c.res.status === 401) for (const [name, value] of Object.entries(signIn.refusedHeaders)) c.header(name, value);
}
