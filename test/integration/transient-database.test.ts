import { eq, sql } from 'drizzle-orm';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiErrorFromDatabase, isTransientDatabaseError, sqlState } from '../../src/db/errors.ts';
import { users } from '../../src/db/schema/index.ts';
import { callAs, deadDatabase, expectUnavailable, flakyProxy } from '../helpers/database-faults.ts';
import { createOrg, createProject, createUser, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { testDb } from '../helpers/worker.ts';

/**
 * A database that fails for a moment answers 503 SERVICE_UNAVAILABLE with Retry-After, never 500;
 * a read is sent once more first, a write never is. The faults are real: the Worker's Neon driver talks
 * to a TCP proxy (test/helpers/fake-services.ts) that resets its first connections before it forwards
 * to the real local Neon proxy and PostgreSQL, or to a port where nothing listens.
 */
let user: TestUser;
let org: TestOrg;
let projectPath: string;
/** A read the edge cache never serves, so a warm grant still needs Postgres for it. */
let listPath: string;

beforeAll(async () => {
  user = await createUser();
  org = await createOrg(user);
  projectPath = `/api/v1/orgs/${org.id}/projects/${(await createProject(org)).id}`;
  listPath = `/api/v1/orgs/${org.id}/projects`;
});

// The driver's endpoint is isolate-wide: point it back at the real proxy before fixtures query again.
afterEach(() => void testDb());

describe('transient database failures', () => {
  it('retries a read once when the first attempt is lost, and answers it', async () => {
    for (const path of ['/api/v1/me', projectPath]) {
      const proxy = await flakyProxy(1);
      const response = await callAs(proxy.bindings, user, path);
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      expect(await proxy.stats()).toMatchObject({ dropped: 1, forwarded: expect.any(Number) });
      expect((await proxy.stats()).forwarded).toBeGreaterThan(0);
    }
  });

  it('retries a read only once: a second failure is a 503 with Retry-After', async () => {
    const proxy = await flakyProxy(2);
    await expectUnavailable(await callAs(proxy.bindings, user, listPath), 'read');
    expect(await proxy.stats()).toMatchObject({ dropped: 2, forwarded: 0 });
  });

  it('never resends a write (it may have committed): one lost attempt is a 503', async () => {
    const proxy = await flakyProxy(1);
    await expectUnavailable(await callAs(proxy.bindings, user, `/api/v1/users/${user.id}`, { method: 'PATCH', body: { name: 'Renamed By Retry' } }), 'write');
    // The one forwarded connection is the lookup of the user's orgs that follows a failed user write (it may have ended
    // sessions: middleware/user-scope.ts tells their authorities); a resend of the write would be a second, and rename.
    expect(await proxy.stats()).toMatchObject({ dropped: 1, forwarded: 1 });
    testDb();
    const [row] = await ownerDb.http.select({ name: users.name }).from(users).where(eq(users.id, user.id));
    expect(row?.name).toBe(user.name);
  });

  it('answers 503 for a read and a write when nothing listens', async () => {
    const bindings = await deadDatabase();
    await expectUnavailable(await callAs(bindings, user, listPath), 'read');
    await expectUnavailable(await callAs(bindings, user, `/api/v1/orgs/${org.id}/projects`, { method: 'POST', body: { name: 'Never Created' } }), 'write');
  });
});

describe('which database errors are transient', () => {
  const raise = async (state: string): Promise<unknown> => {
    try {
      await testDb().http.execute(sql.raw(`do $$ begin raise exception 'raised by a test' using errcode = '${state}'; end $$`));
    } catch (error) {
      return error;
    }
    throw new Error(`raising ${state} did not fail`);
  };

  it.each(['08006', '08001', '57P01', '57P02', '57P03', '53300', '57014', '55P03', '40001', '40P01'])(
    'SQLSTATE %s from Postgres is a 503 with Retry-After',
    async (state) => {
      const error = await raise(state);
      expect(isTransientDatabaseError(error)).toBe(true);
      expect(apiErrorFromDatabase(error)).toMatchObject({ code: 'SERVICE_UNAVAILABLE', headers: { 'Retry-After': '1' } });
    },
  );

  it.each(['42601', '23503', '22P02', 'XX000', '42501'])('SQLSTATE %s from Postgres is a bug, not transient: it stays a 500', async (state) => {
    const error = await raise(state);
    expect(isTransientDatabaseError(error)).toBe(false);
    expect(apiErrorFromDatabase(error)).toBeUndefined();
  });

  it('a Node errno code is not taken for a SQLSTATE (EPIPE has the same shape)', () => {
    const brokenPipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    expect(sqlState(brokenPipe)).toBeUndefined();
    expect(isTransientDatabaseError(brokenPipe)).toBe(true);
    expect(sqlState(Object.assign(new Error('x'), { code: '40001' }))).toBe('40001');
  });

  it('a real syntax error and a real statement timeout are told apart', async () => {
    const syntax = await testDb().http.execute(sql.raw('selec 1')).catch((error: unknown) => error);
    expect(isTransientDatabaseError(syntax)).toBe(false);
    const timeout = await testDb()
      .http.batch([testDb().http.execute(sql.raw(`set local statement_timeout = '10ms'`)), testDb().http.execute(sql.raw('select pg_sleep(1)'))])
      .catch((error: unknown) => error);
    expect(isTransientDatabaseError(timeout)).toBe(true);
  });
});
