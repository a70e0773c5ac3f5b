import { z } from '@hono/zod-openapi';
import { emailField } from '../../lib/fields.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../lib/passwords.ts';
import { passwordPolicyIssue } from '../../services/accounts.ts';
import { REFRESH_TOKEN_PREFIX } from '../../services/tokens.ts';
import { nameField, profileSchema } from '../users/users.schemas.ts';
import { REFRESH_COOKIE, tokenDeliveryField } from './token-delivery.ts';

export const newPasswordField = z
  .string()
  .min(PASSWORD_MIN_LENGTH)
  .max(PASSWORD_MAX_LENGTH)
  .openapi({ description: `${PASSWORD_MIN_LENGTH}–${PASSWORD_MAX_LENGTH} characters, not your email address.` });

/** A single-use token from an email link. */
export const emailTokenField = z.string().min(1).max(256);

export const signupBody = z
  .strictObject({ email: emailField, password: newPasswordField, name: nameField, tokenDelivery: tokenDeliveryField })
  .superRefine((value, ctx) => {
    const issue = passwordPolicyIssue(value.password, value.email);
    if (issue) ctx.addIssue({ code: 'custom', path: ['password'], message: issue });
  })
  .openapi('SignupRequest');

// Login does not apply today's length minimum: accounts made under an older policy must still sign in.
export const loginBody = z
  .strictObject({ email: emailField, password: z.string().min(1).max(PASSWORD_MAX_LENGTH), tokenDelivery: tokenDeliveryField })
  .openapi('LoginRequest');

export const refreshTokenPattern = new RegExp(`^${REFRESH_TOKEN_PREFIX}[\\w-]{43}$`);

// Body mode names the token in the body; cookie mode takes it from the cookie, and both at once is refused.
export const refreshBody = z
  .strictObject({
    refreshToken: z
      .string()
      .regex(refreshTokenPattern, 'not a refresh token')
      .optional()
      .openapi({ description: `Required in body mode; must be absent with \`tokenDelivery: "cookie"\` (the token is then the \`${REFRESH_COOKIE}\` cookie).` }),
    tokenDelivery: tokenDeliveryField,
  })
  .superRefine((value, ctx) => {
    const cookie = value.tokenDelivery === 'cookie';
    if (cookie === (value.refreshToken !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['refreshToken'], message: cookie ? 'cookie mode takes the refresh token from its cookie, not the body' : 'required' });
    }
  })
  .openapi('RefreshRequest');

export const tokensSchema = z
  .object({
    accessToken: z.string().openapi({ description: 'A short-lived JWT (EdDSA); send it as `Authorization: Bearer …`.' }),
    refreshToken: z
      .string()
      .optional()
      .openapi({ description: `Single use: each refresh returns its successor. Absent with \`tokenDelivery: "cookie"\`: it is the \`${REFRESH_COOKIE}\` cookie.` }),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int().openapi({ description: 'Seconds until the access token expires.' }),
  })
  .openapi('Tokens');

export const authResultSchema = z.object({ user: profileSchema, tokens: tokensSchema }).openapi('AuthResult');

export const verifyEmailBody = z.strictObject({ token: emailTokenField }).openapi('VerifyEmailRequest');
export const forgotPasswordBody = z.strictObject({ email: emailField }).openapi('ForgotPasswordRequest');
export const resetPasswordBody = z.strictObject({ token: emailTokenField, password: newPasswordField }).openapi('ResetPasswordRequest');
