import type { Context, MiddlewareHandler } from 'hono';
import { sql } from 'drizzle-orm';
import { createMemoryCache } from '../cache/memory-cache.ts';
import type { Database } from '../db/client.ts';
import type { Actor, RequestMeta } from '../db/tenant.ts';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { sha256Hex } from '../lib/crypto.ts';
import { verifyAccessToken } from '../services/tokens.ts';

export const API_KEY_PATTERN = /^sk_(live|test)_[\w-]{43}$/;

type KeyActor = Extract<Actor, { type: 'api_key' }>;

// Key lookups are cached briefly per isolate. Safe: every tenant transaction re-checks in its gate that
// the key is still live (not revoked, not expired, rotation grace not over), in the same round trip.
const keyLookups = createMemoryCache<string, KeyActor>({ name: 'api-key-lookups', max: 1_000, ttlMs: 30_000 });

/**
 * Authenticates the caller: an access token (`Authorization: Bearer <jwt>`) or an API key
 * (`Authorization: Bearer sk_…` or `X-API-Key: sk_…`). Sets `c.var.actor`; 401 otherwise.
 * Access tokens are verified in-process; sessions and deactivation are checked by the gate.
 */
export function authenticate(options: { allow?: Actor['type'][] } = {}): MiddlewareHandler<AppEnv> {
  const allow = options.allow ?? ['user', 'api_key'];
  return async function authenticate(c, next) {
    const bearer = c.req.header('authorization')?.match(/^Bearer\s+(\S+)$/i)?.[1];
    const credential = c.req.header('x-api-key') ?? bearer;
    if (!credential) throw new ApiError('UNAUTHORIZED', 'Authentication required.', undefined, { 'WWW-Authenticate': 'Bearer' });
    const actor: Actor = API_KEY_PATTERN.test(credential) ? await authenticateKey(c, credential) : await authenticateToken(c, credential);
    if (!allow.includes(actor.type)) throw new ApiError('FORBIDDEN', actor.type === 'api_key' ? 'API keys cannot be used here.' : 'This route is for API keys.');
    c.set('actor', actor);
    await next();
  };
}

async function authenticateToken(c: Context<AppEnv>, token: string): Promise<Actor> {
  const { userId, sessionId } = await verifyAccessToken(c.var.config, token);
  return { type: 'user', id: userId, sessionId };
}

async function authenticateKey(c: Context<AppEnv>, key: string): Promise<KeyActor> {
  const keyHash = await sha256Hex(key);
  const actor = await lookupKey(c.var.db, keyHash);
  if (!actor) throw new ApiError('UNAUTHORIZED', 'API key is invalid, expired or revoked.');
  c.executionCtx.waitUntil(c.var.db.http.execute(sql`select api_key_touch(${actor.id}::uuid)`).catch(() => {}));
  return actor;
}

async function lookupKey(db: Database, keyHash: string): Promise<KeyActor | undefined> {
  // Misses are not cached (the loader answers `undefined`): a key created a moment ago must work at once.
  return keyLookups.getOrLoad(keyHash, async () => {
    const { rows } = await db.http.execute<{ id: string; org_id: string; project_id: string | null; scopes: string[] }>(
      sql`select id, org_id, project_id, scopes from api_key_authenticate(${keyHash})`,
    );
    const row = rows[0];
    return row ? { type: 'api_key', id: row.id, keyHash, orgId: row.org_id, projectId: row.project_id, scopes: row.scopes } : undefined;
  });
}

/** What the audit log records about the request. */
export function requestMeta(c: Context<AppEnv>): RequestMeta {
  return {
    requestId: c.var.requestId,
    ip: c.req.header('cf-connecting-ip') ?? null,
    userAgent: c.req.header('user-agent')?.slice(0, 512) ?? null,
  };
}
