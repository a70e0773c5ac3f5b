import { z } from 'zod';
import type { Database } from './db/client.ts';

/** Configuration and secrets, parsed once per isolate at the boundary. */
const configSchema = z.object({
  APP_ENV: z.enum(['development', 'test', 'staging', 'production']),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }),
  /** host:port of the local Neon proxy (scripts/lib/neon-proxy.ts); never set in production. */
  NEON_LOCAL_PROXY: z
    .string()
    .regex(/^[\w.-]+:\d+$/)
    .optional()
    .or(z.literal('').transform(() => undefined)),
  SENTRY_DSN: z.url().optional().or(z.literal('').transform(() => undefined)),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean)),
  BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1_048_576),
  JOB_MAX_RETRIES: z.coerce.number().int().min(0).default(5),
});

export type Config = z.infer<typeof configSchema>;

const parsed = new WeakMap<Env, Config>();

/**
 * Parses the Worker's vars and secrets, caching by env object so the cost is paid once per isolate.
 * Throws with the offending keys (never their values) when the configuration is invalid.
 */
export function getConfig(env: Env): Config {
  let config = parsed.get(env);
  if (!config) {
    const result = configSchema.safeParse(env);
    if (!result.success) {
      const keys = result.error.issues.map((issue) => issue.path.join('.')).join(', ');
      throw new Error(`Invalid configuration: ${keys}`);
    }
    config = result.data;
    parsed.set(env, config);
  }
  return config;
}

/** Hono's generic parameter for this app: bindings plus per-request variables. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    db: Database;
    /** The organization the request acts in, once known; logged with the request. */
    tenantId?: string;
  };
}
