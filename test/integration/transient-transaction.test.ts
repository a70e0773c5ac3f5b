import { eq, sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getConfig } from '../../src/config.ts';
import { createDatabase, type Transaction } from '../../src/db/client.ts';
import { apiErrorFromDatabase, isTransientDatabaseError } from '../../src/db/errors.ts';
import { credentials, sessions, users } from '../../src/db/schema/index.ts';
import { callAs, deadDatabase, expectUnavailable, flakyProxy } from '../helpers/database-faults.ts';
import { api, createMember, createOrg, createUser, ownerDb, type TestUser } from '../helpers/factories.ts';
import { env, testDb } from '../helpers/worker.ts';

/**
 * Interactive transactions use the driver's WebSocket mode (the only route with one today is
 * DELETE /users/{id}). When the database cannot be reached or the connection is lost, they fail like
 * HTTP queries do: 503 SERVICE_UNAVAILABLE with Retry-After, nothing changed, never sent twice (a
 * transaction writes), no rejection left unhandled and no connection left open.
 */
const uncaught: unknown[] = [];
addEventListener('unhandledrejection', (event) => uncaught.push(event.reason));
// workerd reports an exception thrown in an event handler (e.g. an 'error' event nobody listens to) as a
// global 'error' event, which its type definitions do not list.
(globalThis as unknown as EventTarget<{ error: ErrorEvent }>).addEventListener('error', (event) => uncaught.push(event.error));

let user: TestUser;

beforeEach(async () => {
  user = await createUser();
  // A co-owner lets the deactivation go through, and makes the transaction lock and count that org.
  await createMember(await createOrg(user), 'owner');
});

afterEach(() => {
  // The driver's endpoint is isolate-wide: point it back at the real proxy before fixtures query again.
  testDb();
  expect(uncaught).toEqual([]);
});

async function account(id: string) {
  const [credential] = await ownerDb.http.select({ deactivatedAt: credentials.deactivatedAt }).from(credentials).where(eq(credentials.userId, id));
  const [session] = await ownerDb.http.select({ revokedAt: sessions.revokedAt }).from(sessions).where(eq(sessions.userId, id));
  return { deactivated: credential?.deactivatedAt != null, revoked: session?.revokedAt != null };
}

async function expectUnchanged(): Promise<void> {
  expect(await account(user.id)).toEqual({ deactivated: false, revoked: false });
  expect((await api('/api/v1/me', { auth: user })).status).toBe(200);
}

describe('an interactive transaction whose database fails', () => {
  const deactivate = (bindings: Env) => callAs(bindings, user, `/api/v1/users/${user.id}`, { method: 'DELETE' });

  it('answers 503 with Retry-After when nothing listens, and changes nothing', async () => {
    await expectUnavailable(await deactivate(await deadDatabase()), 'write');
    testDb();
    await expectUnchanged();
  });

  it('answers 503 when its connection is reset, and is not sent again', async () => {
    const proxy = await flakyProxy(1);
    await expectUnavailable(await deactivate(proxy.bindings), 'write');
    // The one forwarded connection is the lookup of the user's orgs that follows a failed user write (it may have ended
    // sessions: middleware/user-scope.ts tells their authorities); the transaction itself is not sent again.
    expect(await proxy.stats()).toMatchObject({ dropped: 1, forwarded: 1 });
    testDb();
    await expectUnchanged();
  });

  it.each([
    ['while a statement runs', (tx: Transaction, cut: () => Promise<number>) => Promise.all([tx.execute(sql`select pg_sleep(2)`), cut()])],
    ['between two statements', async (tx: Transaction, cut: () => Promise<number>) => tx.execute(sql`select ${await cut()}::int`)],
  ])('rejects with the transient error its statement got when the connection is lost %s, and commits nothing', async (_when, lose) => {
    const proxy = await flakyProxy(0);
    const pending: Promise<unknown>[] = [];
    const owner = createDatabase(getConfig({ ...proxy.bindings, DATABASE_URL: env.OWNER_DATABASE_URL }), (promise) => pending.push(promise));
    let statementError: unknown;
    const error = await owner
      .transaction(async (tx) => {
        await tx.update(users).set({ name: 'Lost In Transit' }).where(eq(users.id, user.id));
        await lose(tx, proxy.cut).catch((caught: unknown) => {
          statementError = caught;
          throw caught;
        });
      })
      .catch((caught: unknown) => caught);
    await Promise.all(pending);
    // Not the error of the rollback that follows, which fails too on a lost connection.
    expect(error).toBeInstanceOf(Error);
    expect(error).toBe(statementError);
    expect(isTransientDatabaseError(error)).toBe(true);
    expect(apiErrorFromDatabase(error)).toMatchObject({ code: 'SERVICE_UNAVAILABLE', headers: { 'Retry-After': '1' } });
    expect(await proxy.stats()).toEqual({ dropped: 0, forwarded: 1, open: 0 });
    testDb();
    const [row] = await ownerDb.http.select({ name: users.name }).from(users).where(eq(users.id, user.id));
    expect(row?.name).toBe(user.name);
  });
});

describe('an interactive transaction whose database holds', () => {
  it('deactivates through the same proxy and closes its connection once the response is sent', async () => {
    const proxy = await flakyProxy(0);
    const response = await callAs(proxy.bindings, user, `/api/v1/users/${user.id}`, { method: 'DELETE' });
    expect(response.status).toBe(204);
    testDb();
    expect(await account(user.id)).toEqual({ deactivated: true, revoked: true });
    expect((await proxy.stats()).forwarded).toBeGreaterThan(0);
    await vi.waitFor(async () => expect((await proxy.stats()).open).toBe(0));
  });
});
