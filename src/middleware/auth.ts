import type { Context, MiddlewareHandler } from 'hono';
import { sql } from 'drizzle-orm';
import { createMemoryCache } from '../cache/memory-cache.ts';
import type { Database } from '../db/client.ts';
import type { Actor, KeyActor } from '../db/tenant.ts';
import type { AppEnv, KindEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { sha256Hex } from '../lib/crypto.ts';
import { verifyAccessToken } from '../services/tokens.ts';
import { requestDatabase } from './database.ts';

export const API_KEY_PATTERN = /^sk_(live|test)_[\w-]{43}$/;

export type AuthVariables = {
  /** The authenticated caller. */
  actor: Actor;
};

// Which org, project and scopes a key hash names: facts that never change for a hash, cached in this isolate
// and in KV (the edge copy, so a cold isolate needs no Postgres either). A copy never decides a grant:
// whether the key is still live (not revoked, not expired, rotation grace not over) is decided for every
// request by the org's edge authority or the gate.
const keyLookups = createMemoryCache<string, KeyActor>({ name: 'api-key-lookups', max: 1_000, ttlMs: 30_000 });
// `last_used_at` is a hint, not an audit fact: written at most once a minute per key per isolate.
const keyTouches = createMemoryCache<string, true>({ name: 'api-key-touches', max: 1_000, ttlMs: 60_000 });
const KEY_COPY_TTL_SECONDS = 3_600;
const unknownKeys = createMemoryCache<string, true>({ name: 'api-key-unknown', max: 10_000, ttlMs: 60_000 });

/**
 * Authenticates the caller: an access token or an API key in `Authorization: Bearer …`, or an API key
 * in `X-API-Key`. Sets `c.var.actor`; 401 otherwise. Two different credentials in one request are a 400
 * (which one should win is a guess we do not make). Access tokens are verified in-process; sessions and
 * deactivation are checked by the gate.
 */
export function authenticate(options: { allow?: Actor['type'][] } = {}): MiddlewareHandler<KindEnv<AuthVariables>> {
  const allow = options.allow ?? ['user', 'api_key'];
  return async function authenticate(c, next) {
    const actor = await authenticateCredential(c);
    if (!allow.includes(actor.type)) throw new ApiError('FORBIDDEN', actor.type === 'api_key' ? 'API keys cannot be used here.' : 'This route is for API keys.');
    c.set('actor', actor);
    await next();
  };
}

async function authenticateCredential<E extends AppEnv>(c: Context<E>): Promise<Actor> {
  const authorization = c.req.header('authorization');
  const bearer = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  if (authorization !== undefined && bearer === undefined) throw unauthorized('The Authorization header must be "Bearer <token>".');
  const apiKey = c.req.header('x-api-key');
  if (apiKey !== undefined) {
    if (bearer !== undefined && bearer !== apiKey) throw new ApiError('BAD_REQUEST', 'Send one credential: Authorization or X-API-Key, not both.');
    if (!API_KEY_PATTERN.test(apiKey)) throw unauthorized('X-API-Key takes an API key (sk_…); send access tokens as Authorization: Bearer.');
    return authenticateKey(c, apiKey);
  }
  if (bearer === undefined) throw unauthorized('Authentication required.');
  return API_KEY_PATTERN.test(bearer) ? authenticateKey(c, bearer) : authenticateToken(c, bearer);
}

const unauthorized = (message: string) => new ApiError('UNAUTHORIZED', message, undefined, { 'WWW-Authenticate': 'Bearer' });

async function authenticateToken<E extends AppEnv>(c: Context<E>, token: string): Promise<Actor> {
  const { userId, sessionId } = await verifyAccessToken(c.var.config, token);
  return { type: 'user', id: userId, sessionId };
}

async function authenticateKey<E extends AppEnv>(c: Context<E>, key: string): Promise<KeyActor> {
  const keyHash = await sha256Hex(key);
  const db = requestDatabase(c);
  const actor = await lookupKey(c, db, keyHash);
  if (!actor) throw unauthorized('API key is invalid, expired or revoked.');
  if (!keyTouches.get(actor.id)) {
    keyTouches.set(actor.id, true);
    c.executionCtx.waitUntil(db.http.execute(sql`select api_key_touch(${actor.id}::uuid)`).catch(() => {}));
  }
  return actor;
}

type KeyFacts = Omit<KeyActor, 'type' | 'keyHash'>;

async function lookupKey<E extends AppEnv>(c: Context<E>, db: Database, keyHash: string): Promise<KeyActor | undefined> {
  // A hash that named no key a moment ago names none now: secrets are 256 random bits the server makes, so no
  // key created later can have it. Remembering misses keeps a flood of made-up keys off Postgres.
  if (unknownKeys.get(keyHash)) return undefined;
  const actor = await keyLookups.getOrLoad(keyHash, async () => {
    const copyName = `apikey:${keyHash}`;
    const copy = await c.env.CACHE.get<KeyFacts>(copyName, 'json').catch(() => null);
    if (copy) return { type: 'api_key', keyHash, ...copy };
    const { rows } = await db.http.execute<{ id: string; org_id: string; project_id: string | null; scopes: string[] }>(
      sql`select id, org_id, project_id, scopes from api_key_authenticate(${keyHash})`,
    );
    const row = rows[0];
    if (!row) return undefined;
    const facts: KeyFacts = { id: row.id, orgId: row.org_id, projectId: row.project_id, scopes: row.scopes };
    c.executionCtx.waitUntil(c.env.CACHE.put(copyName, JSON.stringify(facts), { expirationTtl: KEY_COPY_TTL_SECONDS }).catch(() => {}));
    return { type: 'api_key', keyHash, ...facts };
  });
  if (!actor) unknownKeys.set(keyHash, true);
  return actor;
}
