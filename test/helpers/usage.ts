import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { ownerDb } from './factories.ts';

export interface StoredUsageEvent {
  id: string;
  org_id: string;
  source: 'api' | 'product';
  name: string;
  route_class: string | null;
  status: number | null;
  latency_ms: number | null;
  user_id: string | null;
  api_key_id: string | null;
  properties: Record<string, unknown> | null;
}

/** The raw usage events of an org (read as the owner, past RLS), oldest first. */
export async function usageEventsOf(orgId: string): Promise<StoredUsageEvent[]> {
  const { rows } = await ownerDb.http.execute<StoredUsageEvent & Record<string, unknown>>(
    sql`select id, org_id, source, name, route_class, status, latency_ms, user_id, api_key_id, properties from usage_events where org_id = ${orgId}::uuid order by created_at, id`,
  );
  return rows;
}

/** Waits until the org's stored events satisfy `done` (they arrive through the buffer and the queue), and returns them. */
export async function waitForUsageEvents(orgId: string, done: (events: StoredUsageEvent[]) => boolean): Promise<StoredUsageEvent[]> {
  let events: StoredUsageEvent[] = [];
  await expect
    .poll(async () => done((events = await usageEventsOf(orgId))), { timeout: 15_000, interval: 200 })
    .toBe(true);
  return events;
}
