import { and, asc, between, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Database, HttpDatabase } from '../db/client.ts';
import { usageDaily } from '../db/schema/index.ts';
import { ORG_ROUTE_CLASSES, USAGE_LIMITS } from '../lib/limits.ts';

// Usage analytics (README, "Usage analytics"): one event shape for both sources, carried by the queue in batches
// and inserted by the `usage.record` job in one round trip (app_usage_record, src/db/sql/usage.sql).

/** Product event names: a letter, then letters, digits and `_ . : -` (64 at most). */
export const EVENT_NAME_PATTERN = /^[A-Za-z][\w.:-]{0,63}$/;

/** One usage event on the wire: an API request (`api`) or a product event a client sent (`product`). */
export const usageEventSchema = z.object({
  id: z.uuid(),
  orgId: z.uuid(),
  /** When the server saw it: the partition key. */
  at: z.iso.datetime(),
  source: z.enum(['api', 'product']),
  /** `METHOD /route/pattern` of a request, or the product event's name. */
  name: z.string().min(1).max(200),
  routeClass: z.enum(ORG_ROUTE_CLASSES).optional(),
  status: z.int().min(100).max(599).optional(),
  latencyMs: z.int().min(0).optional(),
  userId: z.uuid().optional(),
  apiKeyId: z.uuid().optional(),
  properties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
})
  // The daily rollup groups API requests by route class and status: an API event without both could never be rolled up.
  .refine((event) => event.source !== 'api' || (event.routeClass !== undefined && event.status !== undefined), 'An API event has a route class and a status.');
export type UsageEvent = z.infer<typeof usageEventSchema>;

/** The `usage.record` job's payload: the events of one queue message. */
export const usageBatchSchema = z.object({ events: z.array(usageEventSchema).min(1).max(5_000) });

/** A `usage.record` job message as it goes on the queue (the shape of services/jobs.ts's `JobMessage`). */
export type UsageJobMessage = { id: string; type: 'usage.record'; payload: { events: UsageEvent[] } };

const encoder = new TextEncoder();

/**
 * Packs events into job messages of at most `messageBytes` each, and those into `sendBatch` calls of at most
 * `batchBytes` and 100 messages (the Queues limits, with room for the envelope).
 */
export function packUsageMessages(events: readonly UsageEvent[]): UsageJobMessage[][] {
  const batches: UsageJobMessage[][] = [];
  let batch: UsageJobMessage[] = [];
  let batchBytes = 0;
  let chunk: UsageEvent[] = [];
  let chunkBytes = 0;
  const closeChunk = () => {
    if (!chunk.length) return;
    if (batch.length === 100 || batchBytes + chunkBytes > USAGE_LIMITS.batchBytes) {
      batches.push(batch);
      batch = [];
      batchBytes = 0;
    }
    batch.push({ id: crypto.randomUUID(), type: 'usage.record', payload: { events: chunk } });
    batchBytes += chunkBytes;
    chunk = [];
    chunkBytes = 0;
  };
  for (const event of events) {
    const bytes = encoder.encode(JSON.stringify(event)).length + 1;
    if (chunkBytes + bytes > USAGE_LIMITS.messageBytes) closeChunk();
    chunk.push(event);
    chunkBytes += bytes;
  }
  closeChunk();
  if (batch.length) batches.push(batch);
  return batches;
}

/** Sends events to the queue as `usage.record` jobs, in as few `sendBatch` calls as the limits allow. */
export async function sendUsageEvents(queue: Queue, events: readonly UsageEvent[]): Promise<void> {
  for (const batch of packUsageMessages(events)) {
    await queue.sendBatch(batch.map((body) => ({ body, contentType: 'json' as const })));
  }
}

/** The first instant whose events are still kept: the start of the month `retentionMonths` before `now`'s (UTC). */
export function usageRetentionStart(now: number, retentionMonths: number): Date {
  const date = new Date(now);
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() - retentionMonths, 1));
}

/** Inserts one message's events (one round trip); events before `oldest` are past retention and skipped. Answers how many were new. */
export async function recordUsageEvents(db: Database, events: readonly UsageEvent[], oldest: Date): Promise<number> {
  const { rows } = await db.http.execute<{ n: number }>(sql`select app_usage_record(${JSON.stringify(events)}::jsonb, ${oldest.toISOString()}::timestamptz) as n`);
  return Number(rows[0]?.n ?? 0);
}

/** The UTC day (`YYYY-MM-DD`) `days` days after the one holding `at`. */
export function utcDay(at: number, days = 0): string {
  return new Date(at + days * 86_400_000).toISOString().slice(0, 10);
}

/** Recomputes one UTC day's rollups (idempotent). Answers the orgs rolled up, or -1 for a day past retention (left as it was). */
export async function refreshUsageDay(db: Database, day: string): Promise<number> {
  const { rows } = await db.http.execute<{ n: number }>(sql`select app_usage_refresh_day(${day}::date) as n`);
  return Number(rows[0]?.n ?? 0);
}

/** An org's daily rollups over [from, to] (under RLS, behind the gate). */
export function selectUsageSeries(db: HttpDatabase, orgId: string, from: string, to: string) {
  return db.select().from(usageDaily).where(and(eq(usageDaily.orgId, orgId), between(usageDaily.day, from, to))).orderBy(asc(usageDaily.day));
}

export type PlatformUsageRow = {
  org_id: string;
  name: string;
  slug: string;
  subscription_tier: string;
  requests: string | number;
  client_errors: string | number;
  server_errors: string | number;
  product_events: string | number;
  peak_active_users: number;
  active_days: number;
  storage_bytes: string | number;
};

/** Every org's usage over [from, to] from the rollups, the busiest first (platform gate only). */
export function selectPlatformUsage(db: HttpDatabase, from: string, to: string, limit: number) {
  return db.execute<PlatformUsageRow>(sql`select * from platform_usage_summary(${from}::date, ${to}::date, ${limit})`);
}
