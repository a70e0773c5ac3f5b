import { z } from 'zod';
import { APP_ENVS } from './lib/environments.ts';
import { MULTIPART, REQUEST_BODY_MAX_BYTES, USAGE_LIMITS } from './lib/limits.ts';

const optional = <T extends z.ZodType>(schema: T) => schema.optional().or(z.literal('').transform(() => undefined));

const json = <T extends z.ZodType>(schema: T) =>
  z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON' });
      return z.NEVER;
    }
  }).pipe(schema);

const publicJwk = z.looseObject({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string().min(1) });
const privateJwk = publicJwk.extend({ d: z.string() });

/** The environments that run on a developer's machine or in the tests, never deployed for real users. */
const LOCAL_ENVS: ReadonlySet<string> = new Set(['development', 'test']);

/** Configuration and secrets, parsed once per isolate at the boundary. */
const configSchema = z.object({
  APP_ENV: z.enum(APP_ENVS),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
  /** host:port of the local Neon proxy (scripts/lib/neon-proxy.ts); never set in production. */
  NEON_LOCAL_PROXY: optional(z.string().regex(/^[\w.-]+:\d+$/)),
  SENTRY_DSN: optional(z.url()),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean)),
  BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1_048_576),
  /** The least severe log line written: `warn` drops the per-request lines (`info`); errors are always written. */
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Public base URL of the app, for links in emails. */
  APP_URL: z.url().default('http://localhost:8787'),
  /** Ed25519 private JWK (with `kid`) that signs access tokens. Secret. */
  JWT_SIGNING_KEY: json(privateJwk),
  /** Public JWKs of previous signing keys: tokens they signed still verify during a rotation. */
  JWT_PREVIOUS_KEYS: optional(json(z.array(publicJwk))).default([]),
  JWT_ISSUER: z.string().min(1).default('edge-saas'),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(900),
  REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  /** Concurrent refreshes of one token within this window all get the same new pair. */
  REFRESH_GRACE_SECONDS: z.coerce.number().int().min(0).max(120).default(10),
  /** HMAC key for deriving successor refresh tokens. Secret, ≥ 32 characters. */
  TOKEN_SECRET: z.string().min(32),
  /** HTTP email provider (Resend-compatible `POST {from,to,subject,html,text}`); unset → dev outbox. */
  EMAIL_PROVIDER_URL: optional(z.url()),
  EMAIL_API_KEY: optional(z.string()),
  EMAIL_FROM: z.string().default('Edge SaaS <no-reply@example.com>'),
  /**
   * `on`: without an email provider, emails go to the dev outbox table, and GET /api/dev/outbox serves
   * them (with their single-use tokens) to loopback callers. Only `npm run dev` and the tests set it; it is
   * never in wrangler.toml, and only development and test may start with it.
   */
  DEV_OUTBOX: z.enum(['on', 'off']).default('off'),
  /**
   * `tokens`: signup answers 201 with the new account's tokens, and 409 for a taken address (which tells
   * whether an account exists). `uniform`: signup always answers the same 202, and the owner of a taken
   * address gets an email instead, so signup cannot be used to enumerate accounts.
   */
  SIGNUP_RESPONSE: z.enum(['tokens', 'uniform']).default('tokens'),
  /** When the rate limiter cannot be reached: `closed` refuses auth requests with 503, `open` lets them through. Always logged. */
  RATE_LIMIT_FAIL_MODE_AUTH: z.enum(['closed', 'open']).default('closed'),
  /** Keys of signed file URLs, `id:secret,id:secret` (secrets ≥ 32 chars); the first signs, all verify. Unset: derived from TOKEN_SECRET. */
  FILE_URL_KEYS: optional(z.string().regex(/^[\w-]{1,16}:[^,\s]{32,}(,[\w-]{1,16}:[^,\s]{32,})*$/, 'must be id:secret pairs, comma-separated')),
  /** How long a webhook receiver has to answer (Svix: 15 s); tests shorten it. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(15_000).default(15_000),
  /** The largest body one upload request may carry: the Cloudflare plan's limit (Free/Pro 100 MB; Business 200 MB, Enterprise 500 MB). */
  MAX_REQUEST_BODY_BYTES: z.coerce.number().int().min(MULTIPART.minPartBytes).max(5 * 2 ** 30).default(REQUEST_BODY_MAX_BYTES),
  /** `off` stops recording API usage of org routes (README, "Usage analytics"); product events are still taken. */
  USAGE_RECORDING: z.enum(['on', 'off']).default('on'),
  /**
   * Raw usage events are kept for the current month and this many full months before it; rollups are kept. At
   * least USAGE_LIMITS.retentionMinMonths: app_usage_drop_partitions (src/db/sql/usage.sql) keeps that many whatever
   * its caller asks.
   */
  USAGE_RETENTION_MONTHS: z.coerce.number().int().min(USAGE_LIMITS.retentionMinMonths).max(120).default(13),
})
  .refine((config) => config.DEV_OUTBOX === 'off' || LOCAL_ENVS.has(config.APP_ENV), {
    path: ['DEV_OUTBOX'],
    message: 'only development and test may use the dev outbox',
  });

export type Config = z.infer<typeof configSchema>;

/** The name of every var and secret the Worker reads: `npm run dev` forwards those set in its environment. */
export const CONFIG_KEYS: readonly string[] = Object.keys(configSchema.shape);

// The Worker's env object is the same for every request of an isolate: remembering the last one parsed
// pays the cost once, and holds nothing more than the one configuration in use.
let parsed: { env: Env; config: Config } | undefined;

/**
 * Parses the Worker's vars and secrets once per isolate (per env object).
 * Throws with the offending keys (never their values) when the configuration is invalid.
 */
export function getConfig(env: Env): Config {
  if (parsed?.env === env) return parsed.config;
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const keys = result.error.issues.map((issue) => issue.path.join('.')).join(', ');
    throw new Error(`Invalid configuration: ${keys}`);
  }
  parsed = { env, config: result.data };
  return result.data;
}
