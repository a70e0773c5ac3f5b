import { z } from '@hono/zod-openapi';
import { emailField } from '../../lib/fields.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../lib/passwords.ts';
import { passwordPolicyIssue } from '../../services/accounts.ts';
import { REFRESH_TOKEN_PREFIX } from '../../services/tokens.ts';
import { nameField, profileSchema } from '../users/users.schemas.ts';

export const newPasswordField = z
  .string()
  .min(PASSWORD_MIN_LENGTH)
  .max(PASSWORD_MAX_LENGTH)
  .openapi({ description: `${PASSWORD_MIN_LENGTH}–${PASSWORD_MAX_LENGTH} characters, not your email address.` });

/** A single-use token from an email link. */
export const emailTokenField = z.string().min(1).max(256);

export const signupBody = z
  .strictObject({ email: emailField, password: newPasswordField, name: nameField })
  .superRefine((value, ctx) => {
    const issue = passwordPolicyIssue(value.password, value.email);
    if (issue) ctx.addIssue({ code: 'custom', path: ['password'], message: issue });
  })
  .openapi('SignupRequest');

// Login does not apply today's length minimum: accounts made under an older policy must still sign in.
export const loginBody = z.strictObject({ email: emailField, password: z.string().min(1).max(PASSWORD_MAX_LENGTH) }).openapi('LoginRequest');

export const refreshBody = z
  .strictObject({ refreshToken: z.string().regex(new RegExp(`^${REFRESH_TOKEN_PREFIX}[\\w-]{43}$`), 'not a refresh token') })
  .openapi('RefreshRequest');

export const tokensSchema = z
  .object({
    accessToken: z.string().openapi({ description: 'A short-lived JWT (EdDSA); send it as `Authorization: Bearer …`.' }),
    refreshToken: z.string().openapi({ description: 'Single use: each refresh returns its successor.' }),
    tokenType: z.literal('Bearer'),
    expiresIn: z.number().int().openapi({ description: 'Seconds until the access token expires.' }),
  })
  .openapi('Tokens');

export const authResultSchema = z.object({ user: profileSchema, tokens: tokensSchema }).openapi('AuthResult');

export const verifyEmailBody = z.strictObject({ token: emailTokenField }).openapi('VerifyEmailRequest');
export const forgotPasswordBody = z.strictObject({ email: emailField }).openapi('ForgotPasswordRequest');
export const resetPasswordBody = z.strictObject({ token: emailTokenField, password: newPasswordField }).openapi('ResetPasswordRequest');
