import { sql, type SQL } from 'drizzle-orm';
import type { Database, HttpDatabase } from '../db/client.ts';
import { orgHasWebhooks } from '../cache/webhook-orgs.ts';
import { describeError, log } from '../lib/log.ts';
import { WEBHOOK_EVENT_RULES } from '../lib/webhook-events.ts';
import { enqueueJob, type JobPayload } from './jobs.ts';

// Events are derived from the audit log, which every tenant change writes in its own transaction: each
// endpoint keeps a cursor (the org's audit `seq` fanned out so far) and the fan-out turns the entries beyond it
// into messages, one per endpoint and entry (unique, so a fan-out running twice creates nothing twice). Appends
// are serialised per org by the chain head's lock, so seq order is commit order: a cursor never passes an
// entry that commits later. No event is lost (the cursor only moves in the statement that inserts), and none
// invented (every message names its audit entry).

const eventRules = JSON.stringify(WEBHOOK_EVENT_RULES);

/** Entries fanned out per endpoint and run; a longer backlog continues in another fan-out job. */
export const FANOUT_BATCH = 500;

/** Job workers act for no user: the org's context for row-level security, and `system` for the audit log. */
export function systemContext(orgId: string): SQL {
  return sql`select set_config('app.org_id', ${orgId}, true), set_config('app.actor', '{"type":"system"}', true), set_config('app.user_id', '', true)`;
}

const newMessageId = sql`'msg_' || replace(gen_random_uuid()::text, '-', '')`;

/** The event body of audit entry `a` of type `eventType` (Standard Webhooks' `{ type, timestamp, data }`). */
const eventPayload = (eventType: SQL) => sql`jsonb_build_object('type', ${eventType},
  'timestamp', to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'data', jsonb_build_object('id', a.target_id, 'orgId', a.org_id, 'actor', jsonb_build_object('type', a.actor_type, 'id', a.actor_id),
    'changes', a.changes, 'auditSeq', a.seq, 'requestId', a.request_id))`;

// A rule whose `match` is `{}` takes every entry of its action, whatever its `changes` (SQL or JSON null included).
const eventTypes = sql`jsonb_to_recordset(${eventRules}::jsonb) m(action text, event_type text, match jsonb)`;

export interface QueuedMessage {
  id: string;
  attempts: number;
}

/**
 * One statement (one snapshot): the messages for every endpoint of the org whose cursor is behind the audit
 * head (up to FANOUT_BATCH entries each; disabled endpoints and unsubscribed types get none), and the cursors
 * moved to where it read. Answers the new messages and whether a backlog remains.
 */
export function fanOutStatement(orgId: string, now: Date): SQL {
  return sql`with head as (select seq from audit_chain_heads where org_id = ${orgId}::uuid),
    targets as (
      select s.endpoint_id, s.cursor_seq, least(h.seq, s.cursor_seq + ${FANOUT_BATCH}) as upto, e.enabled, e.event_types
      from webhook_endpoint_states s join webhook_endpoints e on e.id = s.endpoint_id cross join head h
      where s.org_id = ${orgId}::uuid and s.cursor_seq < h.seq
    ),
    inserted as (
      insert into webhook_messages (id, org_id, endpoint_id, audit_seq, event_type, payload, next_attempt_at)
      select ${newMessageId}, a.org_id, t.endpoint_id, a.seq, m.event_type, ${eventPayload(sql`m.event_type`)}, ${now.toISOString()}::timestamptz
      from targets t
      join audit_logs a on a.org_id = ${orgId}::uuid and a.seq > t.cursor_seq and a.seq <= t.upto
      join ${eventTypes} on m.action = a.action and (m.match = '{}'::jsonb or a.changes @> m.match)
      where t.enabled and (t.event_types is null or m.event_type = any(t.event_types))
      on conflict (endpoint_id, audit_seq) do nothing
      returning id
    ),
    moved as (
      update webhook_endpoint_states s set cursor_seq = t.upto from targets t
      where s.endpoint_id = t.endpoint_id and s.cursor_seq < t.upto
      returning t.upto < (select seq from head) as more
    )
    select (select coalesce(json_agg(id), '[]'::json) from inserted) as ids, (select coalesce(bool_or(more), false) from moved) as more`;
}

/**
 * Replay: the endpoint's events since `since` that it has been fanned out (subscribed types only), at most
 * `limit`, oldest first. Missing messages are created; existing ones that did not succeed are made due again
 * with the schedule afresh (same `webhook-id`, so a receiver that did process one dedupes it).
 */
export function replayStatement(orgId: string, endpointId: string, since: Date, now: Date, limit: number): SQL {
  return sql`with target as (
      select s.cursor_seq, e.event_types from webhook_endpoint_states s join webhook_endpoints e on e.id = s.endpoint_id
      where s.endpoint_id = ${endpointId}::uuid and e.enabled
    ),
    events as (
      select a.*, m.event_type from target t
      join audit_logs a on a.org_id = ${orgId}::uuid and a.seq <= t.cursor_seq and a.created_at >= ${since.toISOString()}::timestamptz
      join ${eventTypes} on m.action = a.action and (m.match = '{}'::jsonb or a.changes @> m.match)
      where t.event_types is null or m.event_type = any(t.event_types)
      order by a.seq limit ${limit + 1}
    ),
    upserted as (
      insert into webhook_messages as w (id, org_id, endpoint_id, audit_seq, event_type, payload, next_attempt_at)
      select ${newMessageId}, a.org_id, ${endpointId}::uuid, a.seq, a.event_type, ${eventPayload(sql`a.event_type`)}, ${now.toISOString()}::timestamptz
      from (select * from events order by seq limit ${limit}) a
      -- A pending message keeps its attempt count: its queued retry and the replay's job then claim the same
      -- attempt, so one sends and no second retry chain starts beside the first.
      on conflict (endpoint_id, audit_seq) do update set status = 'pending', next_attempt_at = excluded.next_attempt_at,
        attempts = case when w.status = 'pending' then w.attempts else 0 end
        where w.status <> 'succeeded'
      returning id
    )
    select (select coalesce(json_agg(id), '[]'::json) from upserted) as ids, (select count(*) > ${limit} from events) as more`;
}

type FanOutRow = { ids: string[]; more: boolean };

/** Sends the delivery jobs of messages (after `delaySeconds`), in batches of the queue's maximum. */
export async function enqueueDeliveries(queue: Queue, orgId: string, messages: readonly QueuedMessage[], delaySeconds = 0): Promise<void> {
  for (let start = 0; start < messages.length; start += 100) {
    const chunk = messages.slice(start, start + 100).map((message) => {
      const payload: JobPayload<'webhooks.deliver'> = { orgId, messageId: message.id, attempt: message.attempts };
      return { body: { id: crypto.randomUUID(), type: 'webhooks.deliver', payload }, contentType: 'json' as const, ...(delaySeconds > 0 && { delaySeconds }) };
    });
    await queue.sendBatch(chunk);
  }
}

/**
 * Job `webhooks.fanout`: one round trip turns the org's new audit entries into messages, then their delivery
 * jobs are sent. If sending fails the messages are already due, and the cron sweep sends them.
 */
export async function fanOut(db: Database, queue: Queue, orgId: string, now: Date): Promise<number> {
  const [, result] = await db.http.batch([db.http.execute(systemContext(orgId)), db.http.execute<FanOutRow>(fanOutStatement(orgId, now))]);
  const row = result.rows[0] ?? { ids: [], more: false };
  await enqueueDeliveries(queue, orgId, row.ids.map((id) => ({ id, attempts: 0 })));
  if (row.more) await enqueueJob(queue, 'webhooks.fanout', { orgId });
  return row.ids.length;
}

/** Replays an endpoint's events since `since` (see replayStatement) in the caller's gated batch; returns the statement's rows. */
export function replayEvents(db: HttpDatabase, orgId: string, endpointId: string, since: Date, now: Date, limit: number) {
  return db.execute<FanOutRow>(replayStatement(orgId, endpointId, since, now, limit));
}

/**
 * After an org write (middleware/edge-changes.ts, held by waitUntil, so no cost on the response): sends a
 * fan-out job if the org has webhook endpoints. Never throws: the cron sweep is the safety net.
 */
export async function promptFanOut(env: Pick<Env, 'CACHE' | 'JOBS'>, orgId: string): Promise<void> {
  try {
    if (await orgHasWebhooks(env.CACHE, orgId)) await enqueueJob(env.JOBS, 'webhooks.fanout', { orgId });
  } catch (error) {
    log('warn', 'webhook fan-out not sent', { orgId, error: describeError(error) });
  }
}
