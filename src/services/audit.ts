import { and, asc, eq, gt, gte, lt, lte, sql, type SQL } from 'drizzle-orm';
import type { HttpDatabase } from '../db/client.ts';
import { auditChainHeads, auditLogs } from '../db/schema/index.ts';
import type { ScopedDatabase } from '../db/tenant.ts';
import { sha256Hex } from '../lib/crypto.ts';
import { keysetAfter, keysetOrderBy, type KeyPart, type PageRequest } from '../lib/pagination.ts';

// seq is unique per org, so it is the whole key.
const newestFirst: KeyPart[] = [{ expression: auditLogs.seq, direction: 'desc' }];

/** What narrows the audit log; `from` (inclusive) and `to` (exclusive) are ISO dates or date-times. */
export interface AuditLogFilter {
  orgId: string;
  action?: string;
  actorId?: string;
  from?: string;
  to?: string;
}

/** A page of the org's audit log, newest first, on the (org_id, seq) index (`limit + 1` rows: see takePage); `after` is `[seq]`. */
export function selectAuditLogPage(db: HttpDatabase, filter: AuditLogFilter, page: PageRequest) {
  const { orgId, action, actorId, from, to } = filter;
  return db
    .select()
    .from(auditLogs)
    .where(
      and(
        eq(auditLogs.orgId, orgId),
        action ? eq(auditLogs.action, action) : undefined,
        actorId ? eq(auditLogs.actorId, actorId) : undefined,
        from ? gte(auditLogs.createdAt, new Date(from)) : undefined,
        to ? lt(auditLogs.createdAt, new Date(to)) : undefined,
        page.after ? keysetAfter(newestFirst, page.after) : undefined,
      ),
    )
    .orderBy(...keysetOrderBy(newestFirst))
    .limit(page.limit + 1);
}

/**
 * An act that changes no row, so no trigger records it (e.g. signing a download URL): `<target>.<verb>`, and
 * `changes` keyed as the trigger keys them (column-style snake_case; the API camel-cases them). Never a secret.
 */
export interface AuditEvent {
  action: `${string}.${string}`;
  targetType: string;
  targetId: string;
  changes: Record<string, string | number | boolean | null>;
}

/**
 * Appends `event` to the chain of the org the gate entered in this batch (app_audit_event, src/db/sql/audit.sql,
 * refuses without one). With `onlyIf`, only when that condition holds in the same snapshot: an act the handler
 * then refuses (its target gone) leaves no entry. Un-executed: compose it into the act's own batch.
 */
export function auditEvent(db: HttpDatabase, event: AuditEvent, onlyIf?: SQL) {
  const { action, targetType, targetId, changes } = event;
  const call = sql`select app_audit_event(${action}, ${targetType}, ${targetId}, ${JSON.stringify(changes)}::jsonb)`;
  return db.execute(onlyIf ? sql`${call} where ${onlyIf}` : call);
}

/** `prev_hash` of an org's first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** Rows read per query while verifying: bounded memory and statement size, whatever the log's length. */
export const VERIFY_PAGE_SIZE = 1000;

/** One entry as the verifier needs it: `canonical` is `audit_canonical(entry)`, the exact text its hash covers. */
export interface ChainLink {
  id: number;
  seq: number;
  prevHash: string;
  hash: string;
  canonical: string;
}

/** Where verification stands: links checked so far, the last good link, and the first broken entry if any. */
export interface ChainState {
  entries: number;
  lastSeq: number;
  lastHash: string;
  firstBrokenId?: number;
}

export const initialChainState = (): ChainState => ({ entries: 0, lastSeq: 0, lastHash: GENESIS_HASH });

/**
 * Checks `links` (in seq order) continuing from `state`: seq contiguous from 1, each `prev_hash` equal to
 * the previous entry's hash, each hash equal to sha256(prev_hash + "\n" + canonical). Stops at the first
 * broken link. An edited entry breaks at itself; a deleted one at the entry after the gap.
 */
export async function verifyLinks(state: ChainState, links: readonly ChainLink[]): Promise<ChainState> {
  let { entries, lastSeq, lastHash } = state;
  for (const link of links) {
    entries += 1;
    const intact =
      link.seq === lastSeq + 1 && link.prevHash === lastHash && (await sha256Hex(`${link.prevHash}\n${link.canonical}`)) === link.hash;
    if (!intact) return { entries, lastSeq, lastHash, firstBrokenId: link.id };
    lastSeq = link.seq;
    lastHash = link.hash;
  }
  return { entries, lastSeq, lastHash };
}

/**
 * Verifies an org's whole audit chain, a page (one gated round trip) at a time, up to the chain head
 * read with the first page. Appends are serialised per org by the head's lock, so entries committed
 * while we read lie beyond that head and are left for the next verification. Ending short of the head
 * (the newest entries deleted) or on another hash is a broken chain too.
 */
export async function verifyAuditChain(
  tenant: ScopedDatabase,
  orgId: string,
  pageSize = VERIFY_PAGE_SIZE,
): Promise<{ valid: boolean; entries: number; firstBrokenId?: number }> {
  let state = initialChainState();
  let head: { seq: number; hash: string } | undefined;
  for (;;) {
    const [links, heads] = await tenant.batch((db) => [
      db
        .select({
          id: auditLogs.id,
          seq: auditLogs.seq,
          prevHash: auditLogs.prevHash,
          hash: auditLogs.hash,
          canonical: sql<string>`audit_canonical(${auditLogs})`,
        })
        .from(auditLogs)
        .where(and(eq(auditLogs.orgId, orgId), gt(auditLogs.seq, state.lastSeq), lte(auditLogs.seq, head?.seq ?? Number.MAX_SAFE_INTEGER)))
        .orderBy(asc(auditLogs.seq))
        .limit(pageSize),
      db.select({ seq: auditChainHeads.seq, hash: auditChainHeads.hash }).from(auditChainHeads).where(eq(auditChainHeads.orgId, orgId)),
    ]);
    head ??= heads[0] ?? { seq: 0, hash: GENESIS_HASH };
    state = await verifyLinks(state, links.filter((link) => link.seq <= (head?.seq ?? 0)));
    if (state.firstBrokenId !== undefined) return { valid: false, entries: state.entries, firstBrokenId: state.firstBrokenId };
    if (links.length < pageSize) {
      const reachedHead = state.lastSeq === head.seq && state.lastHash === head.hash;
      return { valid: reachedHead, entries: state.entries };
    }
  }
}
