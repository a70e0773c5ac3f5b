import { asc, eq, sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { Schema } from '../db/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { featureFlags } from '../db/schema/index.ts';
import type { RequestMeta, ScopedDatabase, UserActor } from '../db/tenant.ts';
import { ApiError } from '../errors.ts';
import { canonicalJson, toFlagDefinition, toPayload, type FlagRules, type FlagValue, type FlagVariant } from '../lib/flags.ts';
import { insertPlatformAuditEntry } from './platform-audit.ts';

// Feature flags in Postgres, the source of truth. Every change runs behind the platform gate (RLS lets only
// the admin it entered write), writes its platform audit entry in the same transaction, and reads back every
// flag in that transaction too, so the caller can publish the edge copy (flags-edge.ts) without another query.

export type FlagRow = typeof featureFlags.$inferSelect;

/** Every flag, by key. Anyone may read them (the cron's resync reads with no gate). */
export function selectFlags<H extends PgQueryResultHKT>(db: PgDatabase<H, Schema>) {
  return db.select().from(featureFlags).orderBy(asc(featureFlags.key));
}

/** The flag `key`. */
export function selectFlag<H extends PgQueryResultHKT>(db: PgDatabase<H, Schema>, key: string) {
  return db.select().from(featureFlags).where(eq(featureFlags.key, key));
}

export interface NewFlag {
  key: string;
  description?: string;
  enabled?: boolean;
  rules?: FlagRules;
  value?: FlagValue;
  variants?: FlagVariant[];
}

/** Fields to change; `null` clears a value or the variants. A value and variants replace each other. */
export interface FlagChanges {
  description?: string;
  enabled?: boolean;
  rules?: FlagRules;
  value?: FlagValue | null;
  variants?: FlagVariant[] | null;
}

/** A committed change: the flag after it (null once deleted) and every flag, for the edge copy (null: nothing changed). */
export interface FlagWrite {
  flag: FlagRow | null;
  all: FlagRow[] | null;
}

export const flagNotFound = (key: string) => new ApiError('NOT_FOUND', `No flag has the key "${key}".`);

/** Creates a flag: one round trip (gate, insert, audit entry, every flag). A taken key is a 409. */
export async function createFlag(platform: ScopedDatabase<UserActor>, meta: RequestMeta, input: NewFlag): Promise<FlagWrite> {
  const values = {
    key: input.key,
    description: input.description ?? '',
    enabled: input.enabled ?? false,
    rules: input.rules ?? {},
    value: toPayload(input.value ?? null, input.variants ?? null),
  };
  const entry = { action: 'flag.created', targetType: 'flag', targetId: input.key, changes: values };
  try {
    const [[flag], , all] = await platform.batch((db) => [
      db.insert(featureFlags).values({ ...values, updatedBy: platform.actor.id }).returning(),
      insertPlatformAuditEntry(db, platform.actor, meta, entry),
      selectFlags(db),
    ]);
    if (!flag) throw new Error('flag insert returned no row');
    return { flag, all };
  } catch (error) {
    if (isUniqueViolation(error, 'feature_flags_pkey')) throw new ApiError('CONFLICT', `A flag with the key "${input.key}" already exists.`);
    throw error;
  }
}

/**
 * Changes a flag and bumps its version; the audit entry says `{ field: { from, to } }`. An interactive
 * transaction, because the entry needs what the row held (read under a row lock, so two admins' changes
 * serialise) and must not be written for a key that does not exist. A change that changes nothing writes
 * nothing: no version, no audit entry, `all: null`.
 */
export async function updateFlag(platform: ScopedDatabase<UserActor>, meta: RequestMeta, key: string, changes: FlagChanges): Promise<FlagWrite> {
  return platform.transaction(async (tx) => {
    const [current] = await tx.select().from(featureFlags).where(eq(featureFlags.key, key)).for('update');
    if (!current) throw flagNotFound(key);
    const next = applyChanges(current, changes);
    const diff = Object.fromEntries(
      (Object.keys(next) as Array<keyof typeof next>).filter((field) => canonicalJson(current[field]) !== canonicalJson(next[field])).map((field) => [field, { from: current[field], to: next[field] }]),
    );
    if (Object.keys(diff).length === 0) return { flag: current, all: null };
    const [flag] = await tx
      .update(featureFlags)
      .set({ ...next, version: sql`${featureFlags.version} + 1`, updatedBy: platform.actor.id, updatedAt: sql`now()` })
      .where(eq(featureFlags.key, key))
      .returning();
    await insertPlatformAuditEntry(tx, platform.actor, meta, { action: 'flag.updated', targetType: 'flag', targetId: key, changes: diff });
    return { flag: flag ?? null, all: await selectFlags(tx) };
  });
}

/** The row's writable columns after `changes` (validated against the model, so a stored row always parses). */
function applyChanges(current: FlagRow, changes: FlagChanges) {
  const definition = toFlagDefinition(current);
  let { value, variants } = definition;
  if (changes.variants !== undefined) {
    variants = changes.variants;
    if (variants) value = null;
  }
  if (changes.value !== undefined) {
    value = changes.value;
    if (value !== null) variants = null;
  }
  return {
    description: changes.description ?? current.description,
    enabled: changes.enabled ?? current.enabled,
    rules: changes.rules ?? definition.rules,
    value: toPayload(value, variants),
  };
}

/** Deletes a flag; the audit entry keeps what it was. Interactive for the same reason as `updateFlag`. */
export async function deleteFlag(platform: ScopedDatabase<UserActor>, meta: RequestMeta, key: string): Promise<FlagWrite> {
  return platform.transaction(async (tx) => {
    const [deleted] = await tx.delete(featureFlags).where(eq(featureFlags.key, key)).returning();
    if (!deleted) throw flagNotFound(key);
    const { description, enabled, rules, value, version } = deleted;
    await insertPlatformAuditEntry(tx, platform.actor, meta, { action: 'flag.deleted', targetType: 'flag', targetId: key, changes: { description, enabled, rules, value, version } });
    return { flag: null, all: await selectFlags(tx) };
  });
}
