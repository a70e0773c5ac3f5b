import { and, asc, eq, sql } from 'drizzle-orm';
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { auditLogs, featureFlags, idempotencyKeys, platformAuditLog, projects } from '../../src/db/schema/index.ts';
import { idempotencySecrets } from '../../src/lib/idempotency.ts';
import { releaseIdempotencyKey } from '../../src/services/idempotency.ts';
import { schedule } from '../../workers/scheduled.ts';
import { pruneExpiredIdempotencyKeys } from '../../workers/tasks/idempotency-keys.ts';
import { api, createApiKey, createMember, createOrg, createPlatformAdmin, createUser, json, ownerDb, type Credential } from '../helpers/factories.ts';
import { roundTrips } from '../helpers/round-trips.ts';
import { env, request, testDb } from '../helpers/worker.ts';

const newKey = () => `key-${crypto.randomUUID()}`;

function write(path: string, key: string | undefined, auth: Credential, body: unknown, method = 'POST') {
  return api(path, { method, body, auth, headers: key === undefined ? {} : { 'idempotency-key': key } });
}

/** Everything a client can compare of two answers: status, the headers that matter, the exact bytes. */
async function snapshot(response: Response) {
  return {
    status: response.status,
    location: response.headers.get('location'),
    contentType: response.headers.get('content-type'),
    body: await response.text(),
  };
}

async function projectsNamed(orgId: string, name: string) {
  return ownerDb.http.select().from(projects).where(and(eq(projects.orgId, orgId), eq(projects.name, name)));
}

async function createdEntries(orgId: string) {
  return ownerDb.http
    .select()
    .from(auditLogs)
    .where(and(eq(auditLogs.orgId, orgId), eq(auditLogs.action, 'project.created')))
    .orderBy(asc(auditLogs.seq));
}

async function setup() {
  const owner = await createUser();
  const org = await createOrg(owner);
  return { owner, org, path: `/api/v1/orgs/${org.id}/projects` };
}

describe('Idempotency-Key: replay', () => {
  it('replays the first answer byte for byte (status, Location, body), marked Idempotent-Replayed, with one effect and one audit entry', async () => {
    const { owner, org, path } = await setup();
    const key = newKey();
    const first = await write(path, key, owner, { name: 'Replayed', description: 'once' });
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const original = await snapshot(first);
    expect(original.status).toBe(201);
    for (let i = 0; i < 2; i++) {
      const again = await write(path, key, owner, { name: 'Replayed', description: 'once' });
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await snapshot(again)).toEqual(original);
    }
    expect(await projectsNamed(org.id, 'Replayed')).toHaveLength(1);
    expect(await createdEntries(org.id)).toHaveLength(1);
  });

  it('the same body spelled differently (key order, spacing) is the same request', async () => {
    const { owner, org, path } = await setup();
    const key = newKey();
    expect((await write(path, key, owner, { name: 'Canonical', description: 'd' })).status).toBe(201);
    const respelled = await SELF.fetch(`http://localhost${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: '{ "description" : "d",\n  "name": "Canonical" }',
    });
    expect(respelled.status).toBe(201);
    expect(respelled.headers.get('idempotent-replayed')).toBe('true');
    expect(await projectsNamed(org.id, 'Canonical')).toHaveLength(1);
  });

  it('replays a PATCH; a DELETE replays its 204 with no body', async () => {
    const { owner, org, path } = await setup();
    const created = await json<{ data: { id: string } }>(await write(path, undefined, owner, { name: 'To change' }));
    const one = `${path}/${created.data.id}`;
    const patchKey = newKey();
    const patched = await snapshot(await write(one, patchKey, owner, { name: 'Changed' }, 'PATCH'));
    expect(patched.status).toBe(200);
    await ownerDb.http.update(projects).set({ name: 'Changed behind its back' }).where(eq(projects.id, created.data.id));
    const replayed = await write(one, patchKey, owner, { name: 'Changed' }, 'PATCH');
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(await snapshot(replayed)).toEqual(patched);

    const { id: keyId } = await createApiKey(org, { scopes: ['projects:read'] });
    const revoke = `/api/v1/orgs/${org.id}/api-keys/${keyId}`;
    const deleteKey = newKey();
    expect((await api(revoke, { method: 'DELETE', auth: owner, headers: { 'idempotency-key': deleteKey } })).status).toBe(204);
    const again = await api(revoke, { method: 'DELETE', auth: owner, headers: { 'idempotency-key': deleteKey } });
    expect(again.status).toBe(204);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe('');
  });

  it('a replay goes only to a caller the gate still admits: retrying the DELETE of a project answers 404 once it is gone', async () => {
    const { owner, path } = await setup();
    const created = await json<{ data: { id: string } }>(await write(path, undefined, owner, { name: 'Gone' }));
    const key = newKey();
    expect((await api(`${path}/${created.data.id}`, { method: 'DELETE', auth: owner, headers: { 'idempotency-key': key } })).status).toBe(204);
    expect((await api(`${path}/${created.data.id}`, { method: 'DELETE', auth: owner, headers: { 'idempotency-key': key } })).status).toBe(404);
  });

  it('stores neither the key nor the answer in clear: an API key secret shown once stays unreadable at rest, yet replays', async () => {
    const { owner, org } = await setup();
    const key = newKey();
    const path = `/api/v1/orgs/${org.id}/api-keys`;
    const first = await write(path, key, owner, { name: 'Sealed key', scopes: ['projects:read'] });
    expect(first.status).toBe(201);
    const text = await first.text();
    const secret = (JSON.parse(text) as { data: { key: string } }).data.key;
    const again = await write(path, key, owner, { name: 'Sealed key', scopes: ['projects:read'] });
    expect(await again.text()).toBe(text);
    const rows = await ownerDb.http.select().from(idempotencyKeys).where(eq(idempotencyKeys.actorId, owner.id));
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows);
    for (const clear of [key, secret, 'Sealed key', btoa(secret)]) expect(stored).not.toContain(clear);
  });
});

describe('Idempotency-Key: refusals', () => {
  it('the same key with another body, path or method is a 422 IDEMPOTENCY_KEY_REUSED, and changes nothing', async () => {
    const { owner, org, path } = await setup();
    const other = await createOrg(owner);
    const key = newKey();
    expect((await write(path, key, owner, { name: 'First' })).status).toBe(201);
    const reused = [
      await write(path, key, owner, { name: 'Second' }),
      await write(`/api/v1/orgs/${other.id}/projects`, key, owner, { name: 'First' }),
      await write(`${path}?x=1`, key, owner, { name: 'First' }),
    ];
    expect(reused[0]?.status).toBe(422);
    expect((await json<{ error: { code: string } }>(reused[0] as Response)).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(reused[1]?.status).toBe(422);
    // An unknown query parameter is refused by validation first (400): nothing reached the key.
    expect(reused[2]?.status).toBe(400);
    expect(await projectsNamed(org.id, 'Second')).toHaveLength(0);
    expect(await projectsNamed(other.id, 'First')).toHaveLength(0);
  });

  it('a key whose first request has not answered yet is a 409 IDEMPOTENCY_KEY_IN_USE with Retry-After, and runs nothing', async () => {
    const { owner, org, path } = await setup();
    const key = newKey();
    const body = { name: 'Running' };
    const url = new URL(`http://localhost${path}`);
    const secrets = await idempotencySecrets(env.TOKEN_SECRET, owner.id, key, { method: 'POST', path: url.pathname, body: JSON.stringify(body) });
    // What a first request holds between its commit and storing its answer: a claim without a response.
    await ownerDb.http.insert(idempotencyKeys).values({ actorId: owner.id, keyHash: secrets.keyHash, fingerprint: secrets.fingerprint });
    const response = await write(path, key, owner, body);
    expect(response.status).toBe(409);
    expect(response.headers.get('retry-after')).toBe('1');
    expect((await json<{ error: { code: string } }>(response)).error.code).toBe('IDEMPOTENCY_KEY_IN_USE');
    expect(await projectsNamed(org.id, 'Running')).toHaveLength(0);
  });

  it('a claim released after a 503 (the work did not complete) lets the retry run, once; a stored answer is never released', async () => {
    const { owner, org, path } = await setup();
    const key = newKey();
    const body = { name: 'Released' };
    const secrets = await idempotencySecrets(env.TOKEN_SECRET, owner.id, key, { method: 'POST', path, body: JSON.stringify(body) });
    // What a request leaves between its committed claim and its 503: a claim without an answer.
    await ownerDb.http.insert(idempotencyKeys).values({ actorId: owner.id, keyHash: secrets.keyHash, fingerprint: secrets.fingerprint });
    expect((await write(path, key, owner, body)).status).toBe(409);
    // As the Worker's runtime role, with no gate: what middleware/idempotency.ts does on a 503.
    await releaseIdempotencyKey(testDb(), owner.id, secrets);
    expect((await write(path, key, owner, body)).status).toBe(201);
    await releaseIdempotencyKey(testDb(), owner.id, secrets);
    const replay = await write(path, key, owner, body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await projectsNamed(org.id, 'Released')).toHaveLength(1);
  });

  it('a 503 after the claim committed (the invitation email could not be queued) releases the key: the retry with it runs again', async () => {
    const { owner, org } = await setup();
    const key = newKey();
    const path = `/api/v1/orgs/${org.id}/invitations`;
    const body = { email: `released-${crypto.randomUUID().slice(0, 8)}@example.com`, role: 'member' };
    // The queue binding refuses every send: the invitation's round trip (with the claim) commits, then its
    // email cannot be queued, so the handler discards it and answers 503.
    const down = () => Promise.reject(new Error('queue unavailable'));
    const JOBS: Queue = { send: down, sendBatch: down, metrics: down };
    const headers = { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json', 'idempotency-key': key };
    const failed = await request(path, { method: 'POST', headers, body: JSON.stringify(body) }, { bindings: { ...env, JOBS } });
    expect(failed.status).toBe(503);
    expect(await ownerDb.http.select().from(idempotencyKeys).where(eq(idempotencyKeys.actorId, owner.id))).toEqual([]);
    const retried = await write(path, key, owner, body);
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    // Its answer is the one kept now.
    const again = await write(path, key, owner, body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(await retried.text());
  });

  it('invalid keys are a clean 400 VALIDATION_FAILED naming the header, and run nothing', async () => {
    const { owner, org, path } = await setup();
    for (const bad of ['', 'x'.repeat(256), 'café', 'tab\there']) {
      const response = await write(path, bad, owner, { name: 'Bad key' });
      expect(response.status, JSON.stringify(bad)).toBe(400);
      const body = await json<{ error: { code: string; details: { issues: Array<{ path: string }> } } }>(response);
      expect(body.error.code).toBe('VALIDATION_FAILED');
      expect(body.error.details.issues[0]?.path).toBe('header.Idempotency-Key');
    }
    for (const good of ['x'.repeat(255), '!', 'a b', crypto.randomUUID()]) {
      expect((await write(path, good, owner, { name: `Good ${good.length}` })).status, good).toBe(201);
    }
    expect(await projectsNamed(org.id, 'Bad key')).toHaveLength(0);
  });

  it('a request that fails validation stores nothing: the corrected request with the same key runs', async () => {
    const { owner, org, path } = await setup();
    const key = newKey();
    expect((await write(path, key, owner, { name: '' })).status).toBe(400);
    expect((await write(path, key, owner, { name: 'Corrected', unknown: 1 })).status).toBe(400);
    const stranger = await createUser();
    // The gate's refusal stores nothing either.
    expect((await write(path, key, stranger, { name: 'Corrected' })).status).toBe(404);
    expect(await ownerDb.http.select().from(idempotencyKeys).where(eq(idempotencyKeys.actorId, owner.id))).toEqual([]);
    expect((await write(path, key, owner, { name: 'Corrected' })).status).toBe(201);
    expect(await projectsNamed(org.id, 'Corrected')).toHaveLength(1);
  });

  it('an error after the work began is stored and replayed (Stripe): a taken slug stays a 409 for that key once freed', async () => {
    const owner = await createUser();
    const slug = `taken-${crypto.randomUUID().slice(0, 8)}`;
    const holder = await write('/api/v1/orgs', undefined, owner, { name: 'Holder', slug });
    expect(holder.status).toBe(201);
    const holderId = (await json<{ data: { id: string } }>(holder)).data.id;
    const key = newKey();
    const refused = await snapshot(await write('/api/v1/orgs', key, owner, { name: 'Wants it', slug }));
    expect(refused.status).toBe(409);
    expect((await write(`/api/v1/orgs/${holderId}`, undefined, owner, { slug: `${slug}-moved` }, 'PATCH')).status).toBe(200);
    const replayed = await write('/api/v1/orgs', key, owner, { name: 'Wants it', slug });
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    // The very bytes of the first answer, its requestId included.
    expect(await snapshot(replayed)).toEqual(refused);
    // A new key runs the request anew, and the slug is free now.
    expect((await write('/api/v1/orgs', newKey(), owner, { name: 'Wants it', slug })).status).toBe(201);
  });
});

describe('Idempotency-Key: concurrency and scope', () => {
  it('20 concurrent duplicates make exactly one project and one audit entry; every other answer is the replay or a 409', async () => {
    const { owner, org, path } = await setup();
    const key = newKey();
    const responses = await Promise.all(Array.from({ length: 20 }, () => write(path, key, owner, { name: 'Raced' })));
    const answers = await Promise.all(responses.map(snapshot));
    expect(await projectsNamed(org.id, 'Raced')).toHaveLength(1);
    expect(await createdEntries(org.id)).toHaveLength(1);
    const created = answers.filter((answer) => answer.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(new Set(created.map((answer) => answer.body)).size).toBe(1);
    expect(answers.every((answer) => answer.status === 201 || answer.status === 409)).toBe(true);
    expect(responses.filter((response) => response.status === 201 && response.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    // Once the first has answered, every retry is its replay.
    const settled = await snapshot(await write(path, key, owner, { name: 'Raced' }));
    expect(settled).toEqual(created[0]);
  });

  it('keys are per caller: the same key from two users, or a user and an API key, makes independent effects', async () => {
    const { owner, org, path } = await setup();
    const admin = await createMember(org, 'admin');
    const { key: apiKey } = await createApiKey(org, { scopes: ['projects:write'] });
    const key = newKey();
    const answers = [await write(path, key, owner, { name: 'Shared key' }), await write(path, key, admin, { name: 'Shared key' }), await write(path, key, { apiKey }, { name: 'Shared key' })];
    expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201]);
    expect(answers.map((answer) => answer.headers.get('idempotent-replayed'))).toEqual([null, null, null]);
    expect(await projectsNamed(org.id, 'Shared key')).toHaveLength(3);
    // A different body from the other caller is no 422 either: nothing is shared.
    expect((await write(path, newKey(), admin, { name: 'Other' })).status).toBe(201);
  });

  it('row-level security: without a gate the runtime role can neither read nor write a key', async () => {
    const { owner, path } = await setup();
    expect((await write(path, newKey(), owner, { name: 'Private' })).status).toBe(201);
    const runtime = testDb();
    const [visible] = await runtime.http.select({ n: sql<number>`count(*)::int` }).from(idempotencyKeys);
    expect(visible?.n).toBe(0);
    expect((await ownerDb.http.select().from(idempotencyKeys).where(eq(idempotencyKeys.actorId, owner.id))).length).toBe(1);
    await expect(runtime.http.insert(idempotencyKeys).values({ actorId: owner.id, keyHash: 'forged', fingerprint: 'f' })).rejects.toThrow();
  });
});

describe('Idempotency-Key on the other kinds and in interactive transactions', () => {
  it('platform routes: concurrent duplicates of a flag created in an interactive transaction make one flag and one audit entry', async () => {
    const admin = await createPlatformAdmin();
    const flag = `idem-${crypto.randomUUID().slice(0, 8)}`;
    const key = newKey();
    const responses = await Promise.all(Array.from({ length: 8 }, () => write('/api/v1/admin/flags', key, admin, { key: flag })));
    expect(responses.every((response) => response.status === 201 || response.status === 409)).toBe(true);
    expect(responses.filter((response) => response.status === 201 && response.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    expect(await ownerDb.http.select().from(featureFlags).where(eq(featureFlags.key, flag))).toHaveLength(1);
    expect(await ownerDb.http.select().from(platformAuditLog).where(eq(platformAuditLog.targetId, flag))).toHaveLength(1);
    const replay = await write('/api/v1/admin/flags', key, admin, { key: flag });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  });

  it('user routes: a PATCH of the profile replays; a deactivation stores its answer although it ended its own session', async () => {
    const user = await createUser();
    const key = newKey();
    const first = await snapshot(await write(`/api/v1/users/${user.id}`, key, user, { name: 'Renamed once' }, 'PATCH'));
    expect(first.status).toBe(200);
    expect(await snapshot(await write(`/api/v1/users/${user.id}`, key, user, { name: 'Renamed once' }, 'PATCH'))).toEqual(first);
    const leaving = newKey();
    expect((await api(`/api/v1/users/${user.id}`, { method: 'DELETE', auth: user, headers: { 'idempotency-key': leaving } })).status).toBe(204);
    const rows = await ownerDb.http.select().from(idempotencyKeys).where(eq(idempotencyKeys.actorId, user.id));
    expect(rows.map((row) => row.response === null)).toEqual([false, false]);
    // The replay goes only to a caller the gate admits: the session has ended.
    expect((await api(`/api/v1/users/${user.id}`, { method: 'DELETE', auth: user, headers: { 'idempotency-key': leaving } })).status).toBe(401);
  });
});

describe('Idempotency-Key: expiry', () => {
  it('after 24 hours a key is new again; the daily task deletes expired keys and keeps fresh ones', async () => {
    const { owner, org, path } = await setup();
    const key = newKey();
    expect((await write(path, key, owner, { name: 'Expiring' })).status).toBe(201);
    const backdate = (hours: number) =>
      ownerDb.http.update(idempotencyKeys).set({ createdAt: sql`now() - make_interval(hours => ${hours})` }).where(eq(idempotencyKeys.actorId, owner.id));
    await backdate(23);
    expect((await write(path, key, owner, { name: 'Expiring' })).headers.get('idempotent-replayed')).toBe('true');
    await backdate(25);
    const fresh = await write(path, key, owner, { name: 'Expiring' });
    expect(fresh.status).toBe(201);
    expect(fresh.headers.get('idempotent-replayed')).toBeNull();
    expect(await projectsNamed(org.id, 'Expiring')).toHaveLength(2);
    // An expired key with other parameters is new too (no 422).
    await backdate(25);
    expect((await write(path, key, owner, { name: 'Other body' })).status).toBe(201);

    const old = newKey();
    expect((await write(path, old, owner, { name: 'Old' })).status).toBe(201);
    await ownerDb.http
      .update(idempotencyKeys)
      .set({ createdAt: sql`now() - interval '25 hours'` })
      .where(and(eq(idempotencyKeys.actorId, owner.id), sql`${idempotencyKeys.createdAt} > now() - interval '1 hour'`));
    const keep = newKey();
    expect((await write(path, keep, owner, { name: 'Kept' })).status).toBe(201);
    await pruneExpiredIdempotencyKeys({ env, db: testDb(), scheduledTime: Date.now() });
    const left = await ownerDb.http.select().from(idempotencyKeys).where(eq(idempotencyKeys.actorId, owner.id));
    expect(left).toHaveLength(1);
    expect((await write(path, keep, owner, { name: 'Kept' })).headers.get('idempotent-replayed')).toBe('true');
  });

  it('the prune runs with the daily maintenance cron', () => {
    expect(schedule['17 3 * * *']).toContain(pruneExpiredIdempotencyKeys);
  });
});

describe('Idempotency-Key: cost', () => {
  it('a keyed write costs one more round trip (storing the answer); its claim rides in the work\'s; a replay costs one', async () => {
    const { owner, path } = await setup();
    // Warm the edge authority, so only the write itself is counted.
    expect((await api(path, { auth: owner })).status).toBe(200);
    expect(await roundTrips(async () => expect((await write(path, undefined, owner, { name: 'Unkeyed' })).status).toBe(201))).toBe(1);
    const key = newKey();
    expect(await roundTrips(async () => expect((await write(path, key, owner, { name: 'Keyed' })).status).toBe(201))).toBe(2);
    expect(await roundTrips(async () => expect((await write(path, key, owner, { name: 'Keyed' })).headers.get('idempotent-replayed')).toBe('true'))).toBe(1);
  });
});

describe('Idempotency-Key in the OpenAPI document', () => {
  it('every write of the gated JSON kinds declares the header and its 409 and 422; no read and no public route does', async () => {
    type Operation = { parameters?: Array<{ name: string; in: string }>; responses: Record<string, unknown>; 'x-route-kind': string };
    const document = await json<{ paths: Record<string, Record<string, Operation>> }>(await api('/api/openapi.json'));
    let writes = 0;
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const declares = (operation.parameters ?? []).some((parameter) => parameter.in === 'header' && parameter.name === 'Idempotency-Key');
        const kind = operation['x-route-kind'];
        // The streamed upload that creates (POST) takes a key too, fingerprinted with its bytes' digest.
        const gatedWrite = method !== 'get' && (['org', 'user', 'platform-admin'].includes(kind) || (kind === 'upload' && method === 'post'));
        // A write of any other kind must be a decision: public (auth flows, see README), a part upload (PUT, idempotent
        // by its number) or a socket ticket (changes nothing). A caller-kind write has no database, so it cannot take a key yet.
        if (method !== 'get' && !gatedWrite) expect(['public', 'upload', 'socket'], `${method.toUpperCase()} ${path}`).toContain(kind);
        expect(declares, `${method.toUpperCase()} ${path}`).toBe(gatedWrite);
        if (!gatedWrite) continue;
        writes += 1;
        expect(Object.keys(operation.responses), `${method.toUpperCase()} ${path}`).toEqual(expect.arrayContaining(['409', '422']));
        // A route's own 409 (e.g. a taken slug) is kept, and says the key's 409 too.
        const conflict = operation.responses['409'] as { description: string; headers?: Record<string, unknown> };
        expect(conflict.description, `${method.toUpperCase()} ${path}`).toContain('IDEMPOTENCY_KEY_IN_USE');
        expect(Object.keys(conflict.headers ?? {}), `${method.toUpperCase()} ${path}`).toContain('Retry-After');
      }
    }
    expect(writes).toBeGreaterThan(20);
  });
});
