import { sql, type SQL } from 'drizzle-orm';
import type { BatchItem, BatchResponse } from 'drizzle-orm/batch';
import { orgRolesFor, projectRolesFor, type Permission } from '../lib/permissions.ts';
import type { Database, HttpDatabase, Transaction } from './client.ts';

/** Who is acting. Carried into Postgres with every tenant transaction (for the gate and the audit trigger). */
export type Actor =
  | { type: 'user'; id: string; sessionId: string }
  | { type: 'api_key'; id: string; keyHash: string; orgId: string; projectId: string | null; scopes: readonly string[] };

export type UserActor = Extract<Actor, { type: 'user' }>;
export type KeyActor = Extract<Actor, { type: 'api_key' }>;

/** Request facts the audit log records. */
export interface RequestMeta {
  requestId: string;
  ip: string | null;
  userAgent: string | null;
}

/** Where a scoped database lets its caller in. */
export type Gate =
  | { kind: 'user'; newOrgId?: string }
  | { kind: 'platform' }
  | { kind: 'org'; orgId: string; permission: Permission; projectId?: string };

type Queries = readonly [BatchItem<'pg'>, ...BatchItem<'pg'>[]];

/**
 * Database access scoped to one caller: every batch or transaction starts with the gate statement,
 * which sets the tenant context that row-level security keys on and checks membership, role and
 * session — in the same round trip as the work. A query that forgets the tenant cannot see other
 * tenants' rows, and a caller without the permission never gets to run the work (the gate raises
 * and the transaction rolls back).
 */
export interface ScopedDatabase<A extends Actor = Actor> {
  /** The caller, as authenticated; the gate re-checks in Postgres that it is still live. */
  readonly actor: A;
  /** One round trip: the gate plus `build`'s queries, in one transaction. Resolves to the queries' results. */
  batch<T extends Queries>(build: (db: HttpDatabase) => T): Promise<BatchResponse<T>>;
  /** An interactive transaction (several round trips) that begins with the gate. */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  /** The gate alone (one round trip), for work outside Postgres that must not start before it; throws its refusal. */
  enter(): Promise<void>;
  /**
   * The gate alone, answering the grant it has just checked (`app_edge_grant`, as JSON) for the org's edge
   * authority to keep (org gates only); throws its refusal.
   */
  grant(): Promise<unknown>;
  /** Whether the gate has admitted the caller (a batch or transaction that began with it succeeded, or `enter`). */
  readonly gated: boolean;
  /** The caller's org role after the first batch or transaction ('api_key' for keys; null for user gates). */
  readonly role: string | null;
  /** When the caller's session ends (ms since the epoch), as a user gate that admitted it read; undefined otherwise. */
  readonly sessionValidUntil: number | undefined;
  /** The gate statement of another scope of the same caller, to require it too inside a batch or transaction. */
  check(gate: Gate): SQL;
  /**
   * Sends `statement` right after the gate, once, in the next batch, transaction or `enter`: how an idempotency
   * key is claimed in the same transaction as the work it guards (middleware/idempotency.ts). `undefined` withdraws it.
   */
  attach(statement: SQL | undefined): void;
  /** What became of the attached statement: not sent yet, committed with the work, or failed (rolled back) with it. */
  readonly attached: AttachedState;
}

export type AttachedState = { state: 'none' | 'unsent' | 'committed' } | { state: 'failed'; error: unknown };

/** The gate statement for a caller. Role lists come from the permission matrix, never from input. */
function gateStatement(actor: Actor, meta: RequestMeta, gate: Gate): SQL {
  const context = JSON.stringify({ ...actor, ...meta });
  // The session's end rides along, for the user's edge authority to hold it live (middleware/user-admission.ts).
  if (gate.kind === 'user') return sql`select app_enter_user(${context}::jsonb, ${gate.newOrgId ?? null}::uuid) as role, app_session_valid_until(${context}::jsonb) as valid_until`;
  if (gate.kind === 'platform') return sql`select app_enter_platform_admin(${context}::jsonb) as role`;
  const orgRoles = sql.param(orgRolesFor(gate.permission));
  const projectRoles = sql.param(projectRolesFor(gate.permission));
  return sql`select app_enter(${gate.orgId}::uuid, ${context}::jsonb, ${orgRoles}::text[], ${gate.projectId ?? null}::uuid, ${projectRoles}::text[]) as role`;
}

/** The gate statement that also answers the caller's grant, for the edge authority. */
function grantStatement(actor: Actor, meta: RequestMeta, gate: Gate): SQL {
  if (gate.kind !== 'org') throw new Error('only org gates have an edge grant');
  const context = JSON.stringify({ ...actor, ...meta });
  // The select list runs in order: app_enter has admitted the caller (or raised) before the grant is read.
  return sql`select e.role, app_edge_grant(${gate.orgId}::uuid, ${context}::jsonb, ${gate.projectId ?? null}::uuid) as grant
    from (${gateStatement(actor, meta, gate)}) e`;
}

/**
 * The only way to a caller's data: built by the route kinds' middleware, handed to handlers and services.
 * `admitted`: an edge authority has already admitted the caller on a grant the gate confirmed (the org's,
 * middleware/edge-admission.ts, or the user's, middleware/user-admission.ts), so the handle counts as gated
 * before its first query; every query still begins with the gate, which sets the context row-level security
 * keys on.
 */
export function createScopedDatabase<A extends Actor>(db: Database, actor: A, meta: RequestMeta, gate: Gate, admitted?: { role: string | null }): ScopedDatabase<A> {
  // Built on first use: a caller an edge authority admitted often reaches no query at all.
  let gateSql: SQL | undefined;
  const statement = () => (gateSql ??= gateStatement(actor, meta, gate));
  let role: string | null = admitted?.role ?? null;
  let gated = admitted !== undefined;
  let sessionValidUntil: number | undefined;
  let attachedStatement: SQL | undefined;
  let attached: AttachedState = { state: 'none' };
  // The attached statement goes with the first round trip that reaches Postgres; `settle` records its fate.
  const take = () => {
    const taken = attachedStatement;
    attachedStatement = undefined;
    return taken;
  };
  async function settle<T>(sent: SQL | undefined, work: Promise<T>): Promise<T> {
    if (!sent) return work;
    try {
      const result = await work;
      attached = { state: 'committed' };
      return result;
    } catch (error) {
      // Rolled back with the work: the next round trip (a handler may try again) carries it once more.
      attachedStatement ??= sent;
      attached = { state: 'failed', error };
      throw error;
    }
  }
  // Called only once the gate statement has succeeded: only then has the gate admitted the caller.
  const remember = (rows: Array<Record<string, unknown>>) => {
    gated = true;
    const value = rows[0]?.role;
    role = typeof value === 'string' && value ? value : null;
    const validUntil = rows[0]?.valid_until;
    if (typeof validUntil === 'number') sessionValidUntil = validUntil;
  };
  return {
    actor,
    get role() {
      return role;
    },
    get gated() {
      return gated;
    },
    get sessionValidUntil() {
      return sessionValidUntil;
    },
    get attached() {
      return attached;
    },
    async batch<T extends Queries>(build: (db: HttpDatabase) => T): Promise<BatchResponse<T>> {
      const extra = take();
      const prefix = extra ? [db.http.execute(statement()), db.http.execute(extra)] : [db.http.execute(statement())];
      const [entered, ...results] = await settle(extra, db.http.batch([...prefix, ...build(db.http)] as unknown as Queries));
      remember((entered as { rows: Array<Record<string, unknown>> }).rows);
      return results.slice(prefix.length - 1) as BatchResponse<T>;
    },
    async transaction(work) {
      const extra = take();
      return settle(
        extra,
        db.transaction(async (tx) => {
          remember((await tx.execute(statement())).rows);
          if (extra) await tx.execute(extra);
          return work(tx);
        }),
      );
    },
    async enter() {
      const extra = take();
      if (!extra) return remember((await db.http.execute(statement())).rows);
      const [entered] = await settle(extra, db.http.batch([db.http.execute(statement()), db.http.execute(extra)]));
      remember(entered.rows);
    },
    async grant() {
      const { rows } = await db.http.execute(grantStatement(actor, meta, gate));
      remember(rows);
      return rows[0]?.grant;
    },
    check: (other) => gateStatement(actor, meta, other),
    attach(extra) {
      attachedStatement = extra;
      attached = { state: extra ? 'unsent' : 'none' };
    },
  };
}
