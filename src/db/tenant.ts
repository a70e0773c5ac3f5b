import { sql, type SQL } from 'drizzle-orm';
import type { BatchItem, BatchResponse } from 'drizzle-orm/batch';
import { ApiError } from '../errors.ts';
import { orgRolesFor, projectRolesFor, type Permission } from '../lib/permissions.ts';
import type { Database, HttpDatabase, Transaction } from './client.ts';

/** Who is acting. Carried into Postgres with every tenant transaction (for the gate and the audit trigger). */
export type Actor =
  | { type: 'user'; id: string; sessionId: string }
  | { type: 'api_key'; id: string; keyHash: string; orgId: string; projectId: string | null; scopes: readonly string[] };

export type UserActor = Extract<Actor, { type: 'user' }>;

/** The actor of a user route, narrowed (`userRoute` refuses API keys before the handler runs). */
export function userActor(actor: Actor): UserActor {
  if (actor.type !== 'user') throw new ApiError('FORBIDDEN', 'API keys cannot be used here.');
  return actor;
}

/** Request facts the audit log records. */
export interface RequestMeta {
  requestId: string;
  ip: string | null;
  userAgent: string | null;
}

/** Where a scoped database lets its caller in. */
export type Gate =
  | { kind: 'user'; newOrgId?: string }
  | { kind: 'org'; orgId: string; permission: Permission; projectId?: string };

type Queries = readonly [BatchItem<'pg'>, ...BatchItem<'pg'>[]];

/**
 * Database access scoped to one caller: every batch or transaction starts with the gate statement,
 * which sets the tenant context that row-level security keys on and checks membership, role and
 * session — in the same round trip as the work. A query that forgets the tenant cannot see other
 * tenants' rows, and a caller without the permission never gets to run the work (the gate raises
 * and the transaction rolls back).
 */
export interface ScopedDatabase {
  /** One round trip: the gate plus `build`'s queries, in one transaction. Resolves to the queries' results. */
  batch<T extends Queries>(build: (db: HttpDatabase) => T): Promise<BatchResponse<T>>;
  /** An interactive transaction (several round trips) that begins with the gate. */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  /** The caller's org role after the first batch or transaction ('api_key' for keys; null for user gates). */
  readonly role: string | null;
}

/** The gate statement for a caller. Role lists come from the permission matrix, never from input. */
export function gateStatement(actor: Actor, meta: RequestMeta, gate: Gate): SQL {
  const context = JSON.stringify({ ...actor, ...meta });
  if (gate.kind === 'user') return sql`select app_enter_user(${context}::jsonb, ${gate.newOrgId ?? null}::uuid) as role`;
  const orgRoles = sql.param(orgRolesFor(gate.permission));
  const projectRoles = sql.param(projectRolesFor(gate.permission));
  return sql`select app_enter(${gate.orgId}::uuid, ${context}::jsonb, ${orgRoles}::text[], ${gate.projectId ?? null}::uuid, ${projectRoles}::text[]) as role`;
}

export function createScopedDatabase(db: Database, actor: Actor, meta: RequestMeta, gate: Gate): ScopedDatabase {
  const statement = gateStatement(actor, meta, gate);
  let role: string | null = null;
  const remember = (rows: Array<Record<string, unknown>>) => {
    const value = rows[0]?.role;
    role = typeof value === 'string' && value ? value : null;
  };
  return {
    get role() {
      return role;
    },
    async batch<T extends Queries>(build: (db: HttpDatabase) => T): Promise<BatchResponse<T>> {
      const [entered, ...results] = await db.http.batch([db.http.execute(statement), ...build(db.http)]);
      remember(entered.rows);
      return results as BatchResponse<T>;
    },
    async transaction(work) {
      return db.transaction(async (tx) => {
        remember((await tx.execute(statement)).rows);
        return work(tx);
      });
    },
  };
}
