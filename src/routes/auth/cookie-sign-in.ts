import { accessTokenOrRefreshToken } from '../../middleware/refresh-sign-in.ts';
import { refreshTokenPattern } from './auth.schemas.ts';
import { checkCsrf, clearRefreshCookie, presentedRefreshCookie } from './token-delivery.ts';

/** The security requirement of a route signed in to by `accessTokenOrRefreshCookie` (registered in routes/docs). */
export const refreshCookieSecurity = { refreshCookie: [] as string[] };

/**
 * Log out's sign-in (README, "Cookie mode for browser apps"): the access token, or, without a credential
 * header, the refresh cookie alone, with the CSRF proof cookie-mode refresh requires (middleware/refresh-sign-in.ts).
 * A cookie that names no live session is removed with the 401, as refresh removes it.
 */
export const accessTokenOrRefreshCookie = () =>
  accessTokenOrRefreshToken({
    token: presentedRefreshCookie,
    shaped: (token) => refreshTokenPattern.test(token),
    admit: (c) => checkCsrf(c, 'cookie'),
    refusedHeaders: clearRefreshCookie,
  });
