import type { MiddlewareHandler } from 'hono';
import type { Database } from '../db/client.ts';
import type { KindEnv } from '../env.ts';
import { requestDatabase } from './database.ts';

export type UnscopedVariables = {
  /** No gate, no tenant: row-level security shows this handle no tenant's rows. Public and pre-auth work only. */
  unscopedDb: Database;
};

/** Hands a public route the unscoped database (sign-up, log-in, token and email flows, readiness). */
export function unscoped(): MiddlewareHandler<KindEnv<UnscopedVariables>> {
  return async function unscoped(c, next) {
    c.set('unscopedDb', requestDatabase(c));
    await next();
  };
}
