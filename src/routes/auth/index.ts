import { createRouter } from '../router.ts';
import { loginHandler, logoutHandler, refreshHandler, signupHandler } from './auth.handlers.ts';
import { login, logout, refresh, signup } from './auth.routes.ts';
import { forgotPasswordHandler, resendVerificationHandler, resetPasswordHandler, verifyEmailHandler } from './email-flows.handlers.ts';
import { forgotPasswordRoute, resendVerificationRoute, resetPasswordRoute, verifyEmailRoute } from './email-flows.routes.ts';

/** Sign up, log in, refresh, log out, email verification, password reset. */
export const authRoutes = createRouter()
  .openapi(signup, signupHandler)
  .openapi(login, loginHandler)
  .openapi(refresh, refreshHandler)
  .openapi(logout, logoutHandler)
  .openapi(verifyEmailRoute, verifyEmailHandler)
  .openapi(resendVerificationRoute, resendVerificationHandler)
  .openapi(forgotPasswordRoute, forgotPasswordHandler)
  .openapi(resetPasswordRoute, resetPasswordHandler);
