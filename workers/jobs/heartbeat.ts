import { z } from 'zod';
import { heartbeats } from '../../src/db/schema/index.ts';
import type { JobContext } from './registry.ts';

export const heartbeatPayload = z.object({ source: z.string().min(1).max(100) });

/** Writes one row: proof that the path producer → queue → consumer → Postgres works end to end. */
export async function heartbeat({ db }: JobContext, payload: z.infer<typeof heartbeatPayload>): Promise<void> {
  await db.http.insert(heartbeats).values({ source: payload.source });
}
