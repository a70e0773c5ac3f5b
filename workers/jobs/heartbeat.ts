import { heartbeats } from '../../src/db/schema/index.ts';
import type { ParsedJobPayload } from '../../src/services/jobs.ts';
import type { JobContext } from './types.ts';

/** Writes one row: proof that the path producer → queue → consumer → Postgres works end to end. */
export async function heartbeat({ db }: JobContext, payload: ParsedJobPayload<'system.heartbeat'>): Promise<void> {
  await db.http.insert(heartbeats).values({ source: payload.source });
}
