import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Database } from '../db/client.ts';
import { credentials, memberships, notifications, organizations, users } from '../db/schema/index.ts';
import { DEFAULT_CHANNELS } from '../lib/notification-categories.ts';
import { enqueueJob } from './jobs.ts';
import type { NotificationEvent } from './notification-events.ts';
import { recipientsOf, type Delivery } from './notification-recipients.ts';
import { notificationView } from './notifications.ts';
import { publishToRoom } from './rooms.ts';

// Job `notifications.deliver`: at-least-once delivery with effects that happen once. The notification row is the
// ledger: stored once per user and event (unique dedupe key, `on conflict do nothing`), its channels fixed when it
// is stored, and each effect (realtime push, email) claimed on the row (`pushed_at`, `emailed_at` set only while
// null) before it runs. A duplicate or retried job finds the row and the claims and completes only what is missing;
// two copies running at once cannot both win a claim. A failed email send releases its claim and throws (the queue
// retries); a crash between a claim and its effect loses that one push or email (the notification stays listed).

export interface DeliveryContext {
  env: Env;
  db: Database;
}

/** The job acts for the recipient only: row-level security on notifications keys on app.user_id. */
function recipientContext(userId: string): SQL {
  return sql`select set_config('app.user_id', ${userId}, true), set_config('app.org_id', '', true), set_config('app.actor', '{"type":"system"}', true)`;
}

/**
 * Stores the notification unless stored already, with the channels of the user's preference now. A recipient who
 * is not told (preference `none`, or a deactivated account) still gets a silent row: no text, never listed, never
 * pushed or emailed. It is the dedupe record the daily tasks skip, so they do not pick the same recipient every
 * day and fill their batch with people they never tell.
 */
function storeStatement(delivery: Delivery): SQL {
  const fallback = DEFAULT_CHANNELS[delivery.category];
  return sql`with pref as (
      select coalesce((select p.channel::text from notification_preferences p where p.user_id = ${delivery.userId}::uuid and p.category = ${delivery.category}), ${fallback}) as channel
    ), told as (
      select c.deactivated_at is null and pref.channel <> 'none' as yes, pref.channel from credentials c cross join pref where c.user_id = ${delivery.userId}::uuid
    )
    insert into notifications (user_id, source_org_id, category, type, title, body, data, dedupe_key, in_app, email_wanted)
    select ${delivery.userId}::uuid, ${delivery.orgId}::uuid, ${delivery.category}, ${delivery.type},
      case when told.yes then ${delivery.title} else '' end, case when told.yes then ${delivery.body} else '' end,
      case when told.yes then ${JSON.stringify(delivery.data)}::jsonb else '{}'::jsonb end, ${delivery.dedupeKey},
      told.yes and told.channel in ('in_app', 'both'), told.yes and ${delivery.emailable} and told.channel in ('email', 'both')
    from told
    on conflict (user_id, dedupe_key) do nothing`;
}

/** Runs one event: every recipient's notification, each on its own (one failing does not undo the others). */
export async function deliverNotificationEvent(context: DeliveryContext, event: NotificationEvent): Promise<void> {
  const deliveries = await recipientsOf(context.db, event);
  const results = await Promise.allSettled(deliveries.map((delivery) => deliver(context, delivery)));
  const failed = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
  if (failed.length > 0) throw failed.length === 1 ? failed[0] : new AggregateError(failed, `${failed.length} notifications not delivered`);
}

/** Two round trips when there is something to do: store and read back, then claim the effects still missing. */
async function deliver({ env, db }: DeliveryContext, delivery: Delivery): Promise<void> {
  const { userId } = delivery;
  const mine = and(eq(notifications.userId, userId), eq(notifications.dedupeKey, delivery.dedupeKey));
  const [, , [row]] = await db.http.batch([db.http.execute(recipientContext(userId)), db.http.execute(storeStatement(delivery)), db.http.select().from(notifications).where(mine)]);
  if (!row) return;
  const push = row.inApp && row.pushedAt === null;
  const email = row.emailWanted && row.emailedAt === null;
  if (!push && !email) return;
  const unclaimed = (column: AnyPgColumn, wanted: boolean) => and(eq(notifications.id, row.id), isNull(column), sql`${wanted}::boolean`);
  const claimed = { id: notifications.id };
  const [, pushed, emailed, orgs, [recipient]] = await db.http.batch([
    db.http.execute(recipientContext(userId)),
    db.http.update(notifications).set({ pushedAt: sql`now()` }).where(unclaimed(notifications.pushedAt, push)).returning(claimed),
    db.http.update(notifications).set({ emailedAt: sql`now()` }).where(unclaimed(notifications.emailedAt, email)).returning(claimed),
    db.http
      .select({ orgId: memberships.orgId })
      .from(memberships)
      .innerJoin(organizations, eq(organizations.id, memberships.orgId))
      .where(and(eq(memberships.userId, userId), isNull(organizations.deletedAt))),
    db.http.select({ email: users.email }).from(users).innerJoin(credentials, eq(credentials.userId, users.id)).where(and(eq(users.id, userId), isNull(credentials.deactivatedAt))),
  ]);
  if (pushed.length > 0) await pushToRooms(env, delivery, row, orgs.map((org) => org.orgId));
  if (emailed.length > 0 && recipient) await sendEmail(env, db, row, recipient.email);
}

/**
 * The user's personal room of the event's org while they are a member there; otherwise (account events, a removed
 * member, an invitee) the personal room of every org they belong to. Never throws: a failed publish is logged.
 */
async function pushToRooms(env: Env, delivery: Delivery, row: typeof notifications.$inferSelect, orgIds: string[]): Promise<void> {
  const targets = delivery.orgId && orgIds.includes(delivery.orgId) ? [delivery.orgId] : orgIds;
  const pending: Array<Promise<unknown>> = [];
  const event = { event: 'notification.created', data: notificationView(row) };
  for (const orgId of targets) publishToRoom(env, (promise) => pending.push(promise), { kind: 'user', orgId, userId: delivery.userId }, event);
  await Promise.all(pending);
}

/** Queues the email; if that fails the claim is released, so the retry the throw causes sends it. */
async function sendEmail(env: Env, db: Database, row: typeof notifications.$inferSelect, to: string): Promise<void> {
  try {
    await enqueueJob(env.JOBS, 'email.send', { to, template: 'notification', data: { notificationId: row.id, title: row.title.slice(0, 200), body: row.body.slice(0, 2000) } });
  } catch (error) {
    await db.http.batch([
      db.http.execute(recipientContext(row.userId)),
      db.http.update(notifications).set({ emailedAt: null }).where(eq(notifications.id, row.id)),
    ]);
    throw error;
  }
}
