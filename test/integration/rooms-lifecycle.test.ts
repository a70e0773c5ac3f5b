import { createExecutionContext, evictDurableObject, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { roomDirectoryFor, roomFor, roomName } from '../../durable-objects/room/index.ts';
import { createApp } from '../../src/app.ts';
import { ROOM_LIMITS } from '../../src/lib/limits.ts';
import { publishToRoom } from '../../src/services/rooms.ts';
import { api, createApiKey, createMember, createOrg, createProject, createUser, json, TEST_PASSWORD, type TestUser } from '../helpers/factories.ts';
import { bytesOf, uploadFile } from '../helpers/files.ts';
import { accept, closedWithin, joinRoom, roomTicket, upgrade } from '../helpers/room-client.ts';
import { env, request } from '../helpers/worker.ts';

const roomId = () => `r-${crypto.randomUUID().slice(0, 8)}`;

async function tenant() {
  const owner = await createUser();
  const org = await createOrg(owner);
  const id = roomId();
  return { owner, org, id, base: `/api/v1/orgs/${org.id}/rooms/${id}`, stub: roomFor(env, roomName({ kind: 'org', orgId: org.id, roomId: id })) };
}

/** Another session of the same user (a second device). */
async function secondSession(user: TestUser): Promise<{ token: string }> {
  const login = await api('/api/v1/auth/login', { body: { email: user.email, password: TEST_PASSWORD } });
  return { token: ((await login.json()) as { data: { tokens: { accessToken: string } } }).data.tokens.accessToken };
}

describe('hibernation', () => {
  it('the object is evicted and its sockets keep working: identities, presence and rate counters come back from the attachments', async () => {
    const { owner, org, base, stub } = await tenant();
    const member = await createMember(org, 'member');
    const a = await joinRoom(base, owner);
    const b = await joinRoom(base, member);
    a.send({ v: 1, type: 'ephemeral', data: 'before' });
    await b.next('ephemeral');
    await runInDurableObject(stub, (instance) => Object.assign(instance, { marker: 'in memory' }));
    await evictDurableObject(stub);
    // A fresh instance: what was in memory is gone …
    expect(await runInDurableObject(stub, (instance) => (instance as unknown as { marker?: string }).marker)).toBeUndefined();
    // … and what the sockets carry is not.
    const counters = await runInDurableObject(stub, (_, state) => state.getWebSockets().map((ws) => (ws.deserializeAttachment() as { rate: { count: number } }).rate.count));
    expect(counters.some((count) => count >= 1)).toBe(true);
    expect((await stub.presence()).members.map((m) => m.userId).sort()).toEqual([owner.id, member.id].sort());
    await evictDurableObject(stub);
    b.send({ v: 1, type: 'broadcast', data: 'after eviction' });
    expect(await a.next('broadcast')).toMatchObject({ data: 'after eviction', from: { userId: member.id } });
    expect(await b.next('broadcast')).toMatchObject({ data: 'after eviction' });
    a.ws.close(1000);
    b.ws.close(1000);
  });

  it('ping is answered with pong by the runtime (auto-response), without the object handling it', async () => {
    const { owner, base, stub } = await tenant();
    const a = await joinRoom(base, owner);
    await evictDurableObject(stub);
    a.ws.send('ping');
    expect(await a.next('raw')).toEqual({ type: 'raw', text: 'pong' });
    const stamped = await runInDurableObject(stub, (_, state) => state.getWebSockets().map((ws) => state.getWebSocketAutoResponseTimestamp(ws)));
    expect(stamped[0]).toBeInstanceOf(Date);
    a.ws.close(1000);
  });
});

describe('a failing socket', () => {
  it('a socket whose send throws is skipped during a broadcast; every other socket still gets it', async () => {
    const { owner, org, base, stub } = await tenant();
    const member = await createMember(org, 'member');
    // Connected first, so the room meets it before the others.
    const broken = await joinRoom(base, member);
    const a = await joinRoom(base, owner);
    const b = await joinRoom(base, owner);
    await runInDurableObject(stub, (_, state) => {
      for (const ws of state.getWebSockets(`user:${member.id}`)) {
        ws.send = () => {
          throw new Error('send failed');
        };
      }
    });
    expect(await stub.publish({ event: 'note', data: 'to all' })).toMatchObject({ delivered: 2 });
    expect(await a.next('event')).toMatchObject({ data: 'to all' });
    expect(await b.next('event')).toMatchObject({ data: 'to all' });
    a.send({ v: 1, type: 'broadcast', data: 'from a' });
    expect(await b.next('broadcast')).toMatchObject({ data: 'from a' });
    expect(await a.next('broadcast')).toMatchObject({ data: 'from a' });
    expect(broken.frames.filter((frame) => frame.type === 'event' || frame.type === 'broadcast')).toEqual([]);
    for (const socket of [broken, a, b]) socket.ws.close(1000);
  });
});

describe('history retention', () => {
  const stored = (stub: ReturnType<typeof roomFor>) => runInDurableObject(stub, (_, state) => state.storage.sql.exec('SELECT count(*) AS n FROM history').one().n);
  const alarm = (stub: ReturnType<typeof roomFor>) => runInDurableObject(stub, (_, state) => state.storage.getAlarm());
  const idleSince = (stub: ReturnType<typeof roomFor>, ms: number) => runInDurableObject(stub, (_, state) => state.storage.sql.exec('UPDATE activity SET at = ?', ms));

  it('a room nobody is in forgets its history once idle for historyIdleMs; not before, and not while someone is in it', async () => {
    const { owner, base, stub } = await tenant();
    const a = await joinRoom(base, owner);
    a.send({ v: 1, type: 'broadcast', data: 'kept a while' });
    await a.next('broadcast');
    a.ws.close(1000);
    // The last member left: one alarm, a retention period away.
    await vi.waitFor(async () => expect(await alarm(stub)).toBeGreaterThan(Date.now() + ROOM_LIMITS.historyIdleMs - 60_000));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stored(stub)).toBe(1);
    expect(await alarm(stub)).toBeGreaterThan(Date.now() + ROOM_LIMITS.historyIdleMs - 60_000);

    // Someone is back: an alarm that comes due meanwhile forgets nothing.
    const b = await joinRoom(base, owner);
    await idleSince(stub, 0);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stored(stub)).toBe(1);
    b.ws.close(1000);
    await vi.waitFor(async () => expect(await alarm(stub)).toBeGreaterThan(Date.now() + ROOM_LIMITS.historyIdleMs - 60_000));

    await idleSince(stub, Date.now() - ROOM_LIMITS.historyIdleMs);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stored(stub)).toBe(0);
    const c = await joinRoom(base, owner);
    expect(c.hello.history).toEqual([]);
    c.ws.close(1000);
  });

  it('an event published into an empty room (a personal room while its member is away) starts the wait', async () => {
    const { org, owner } = await tenant();
    const member = await createMember(org, 'member');
    const personal = roomFor(env, roomName({ kind: 'user', orgId: org.id, userId: member.id }));
    expect((await api(`/api/v1/orgs/${org.id}/members/${member.id}`, { method: 'PATCH', auth: owner, body: { role: 'admin' } })).status).toBe(200);
    await vi.waitFor(async () => expect(await stored(personal)).toBeGreaterThan(0));
    expect(await alarm(personal)).toBeGreaterThan(Date.now() + ROOM_LIMITS.historyIdleMs - 60_000);
  });

  const wipes = {
    'forgotten when idle': async (stub: ReturnType<typeof roomFor>) => {
      await idleSince(stub, Date.now() - ROOM_LIMITS.historyIdleMs);
      expect(await runDurableObjectAlarm(stub)).toBe(true);
    },
    'deleted (everyone disconnected)': async (stub: ReturnType<typeof roomFor>) => {
      expect(await stub.disconnect({ everyone: true }, 4004, 'Room gone')).toBe(0);
    },
  };

  it.each(Object.entries(wipes))('ids never restart after the history is %s: a resume from before the wipe gets the new frames and missed: true', async (_, wipe) => {
    const { owner, base, stub } = await tenant();
    const ids = (hello: Record<string, unknown>) => (hello.history as Array<{ id: number }>).map((frame) => frame.id);
    for (const n of [1, 2]) expect(await stub.publish({ event: 'note', data: n })).toMatchObject({ id: n });
    await wipe(stub);
    expect(await stored(stub)).toBe(0);
    // Nothing new yet: a client that saw 1 has missed 2 (wiped); one that saw 2 has missed nothing.
    const behind = await joinRoom(base, owner, { lastId: 1 });
    expect(behind.hello).toMatchObject({ history: [], missed: true });
    const caughtUp = await joinRoom(base, owner, { lastId: 2 });
    expect(caughtUp.hello).toMatchObject({ history: [], missed: false });
    for (const socket of [behind, caughtUp]) socket.ws.close(1000);

    expect(await stub.publish({ event: 'note', data: 3 })).toMatchObject({ id: 3 });
    const resumed = await joinRoom(base, owner, { lastId: 2 });
    expect(ids(resumed.hello)).toEqual([3]);
    expect(resumed.hello.missed).toBe(false);
    const older = await joinRoom(base, owner, { lastId: 1 });
    expect(ids(older.hello)).toEqual([3]);
    expect(older.hello.missed).toBe(true);
    for (const socket of [resumed, older]) socket.ws.close(1000);
  });

  it('a room whose ids restarted before they were kept (no last id stored) tells a client with a later id missed: true', async () => {
    const { owner, base, stub } = await tenant();
    for (const n of [1, 2]) await stub.publish({ event: 'note', data: n });
    await runInDurableObject(stub, (_, state) => state.storage.sql.exec('DELETE FROM last_id'));
    // The history's own ids still count: the next is 3, not 1.
    expect(await stub.publish({ event: 'note', data: 3 })).toMatchObject({ id: 3 });
    const ahead = await joinRoom(base, owner, { lastId: 7 });
    expect(ahead.hello).toMatchObject({ history: [], missed: true });
    ahead.ws.close(1000);
  });
});

describe('limits', () => {
  it('a full room accepts the next socket only to close it with 1013', async () => {
    const { owner, base } = await tenant();
    const limits = ROOM_LIMITS as { connectionsPerRoom: number };
    const before = limits.connectionsPerRoom;
    limits.connectionsPerRoom = 2;
    try {
      const a = await joinRoom(base, owner);
      const b = await joinRoom(base, owner);
      const third = accept(await upgrade(await roomTicket(base, owner)));
      expect(await closedWithin(third)).toMatchObject({ code: 1013, reason: 'Room is full' });
      expect(a.frames.filter((frame) => frame.type === 'presence')).toHaveLength(1);
      a.ws.close(1000);
      b.ws.close(1000);
    } finally {
      limits.connectionsPerRoom = before;
    }
  });

  it('an expired ticket opens nothing', async () => {
    const { owner, base, stub } = await tenant();
    const url = await roomTicket(base, owner);
    await runInDurableObject(stub, (_, state) => state.storage.sql.exec('UPDATE tickets SET expires_at = 0'));
    expect((await upgrade(url)).status).toBe(401);
  });
});

describe('disconnect on revocation', () => {
  it('a removed member is disconnected from every room of the org (4003), others stay', async () => {
    const { owner, org, base } = await tenant();
    const member = await createMember(org, 'member');
    const other = `/api/v1/orgs/${org.id}/rooms/${roomId()}`;
    const [m1, m2, o] = [await joinRoom(base, member), await joinRoom(other, member), await joinRoom(base, owner)];
    expect((await api(`/api/v1/orgs/${org.id}/members/${member.id.toUpperCase()}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect(await closedWithin(m1)).toEqual({ code: 4003, reason: 'Access changed' });
    expect(await closedWithin(m2)).toEqual({ code: 4003, reason: 'Access changed' });
    expect(await o.next('presence')).toMatchObject({ event: 'leave', member: { userId: member.id } });
    o.send({ v: 1, type: 'broadcast', data: 'still open' });
    expect(await o.next('broadcast')).toMatchObject({ data: 'still open' });
    expect((await api(`${base}/tickets`, { method: 'POST', auth: member })).status).toBe(404);
    o.ws.close(1000);
  });

  it('logout closes that session’s sockets (4001), not the same user’s other session', async () => {
    const { org, base } = await tenant();
    const user = await createMember(org, 'member');
    const socket = await joinRoom(base, user);
    const other = await joinRoom(base, await secondSession(user));
    expect((await api('/api/v1/auth/logout', { method: 'POST', auth: user })).status).toBe(204);
    expect(await closedWithin(socket)).toEqual({ code: 4001, reason: 'Credentials revoked' });
    other.send({ v: 1, type: 'broadcast', data: 'second session lives' });
    expect(await other.next('broadcast')).toMatchObject({ data: 'second session lives' });
    other.ws.close(1000);
  });

  it('a revoked session is disconnected (4001)', async () => {
    const { org, base } = await tenant();
    const user = await createMember(org, 'member');
    const socket = await joinRoom(base, user);
    const other = await secondSession(user);
    expect((await api(`/api/v1/me/sessions/${user.sessionId}`, { method: 'DELETE', auth: other })).status).toBe(204);
    expect(await closedWithin(socket)).toEqual({ code: 4001, reason: 'Credentials revoked' });
  });

  it('a revoked API key is disconnected (4001)', async () => {
    const { owner, org, base } = await tenant();
    const key = await createApiKey(org, { scopes: ['org:read'] });
    const socket = await joinRoom(base, { apiKey: key.key }, { byHeaders: true });
    expect((await api(`/api/v1/orgs/${org.id}/api-keys/${key.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect(await closedWithin(socket)).toEqual({ code: 4001, reason: 'Credentials revoked' });
    expect((await upgrade(`${base}/ws`, { auth: { apiKey: key.key } })).status).toBe(401);
  });
});

describe('domain events and personal rooms', () => {
  it("the org's directory lists a room while it has members and forgets it when the last one leaves", async () => {
    const { owner, org, id, base } = await tenant();
    const directory = roomDirectoryFor(env, org.id);
    const listed = () => runInDurableObject(directory, (_, state) => state.storage.sql.exec<{ name: string }>('SELECT name FROM rooms').toArray().map((row) => row.name));
    const name = roomName({ kind: 'org', orgId: org.id, roomId: id });
    const a = await joinRoom(base, owner);
    const b = await joinRoom(base, owner);
    expect(await listed()).toEqual([name]);
    a.ws.close(1000, 'bye');
    await b.next('presence');
    expect(await listed()).toEqual([name]);
    b.ws.close(1000, 'bye');
    await vi.waitFor(async () => expect(await listed()).toEqual([]));
  });

  it("a project's files reach its events room: file.stored on upload, file.deleted on delete; a file of no project announces nothing", async () => {
    const { owner, org } = await tenant();
    const project = await createProject(org);
    const events = await joinRoom(`/api/v1/orgs/${org.id}/projects/${project.id}/rooms/events`, owner);
    expect((await uploadFile(org, owner, bytesOf(64), { name: 'loose.txt' })).status).toBe(201);
    const stored = await json<{ data: { id: string } }>(await uploadFile(org, owner, bytesOf(64), { name: 'notes.txt', projectId: project.id }));
    expect(await events.next('event')).toMatchObject({ event: 'file.stored', id: 1, data: { id: stored.data.id, name: 'notes.txt', projectId: project.id } });
    expect((await api(`/api/v1/orgs/${org.id}/files/${stored.data.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect(await events.next('event')).toMatchObject({ event: 'file.deleted', id: 2, data: { id: stored.data.id } });
  });

  it('a project update reaches its events room (read-only); a deletion is announced, then its rooms close (4004)', async () => {
    const { owner, org } = await tenant();
    const project = await createProject(org);
    const projectBase = `/api/v1/orgs/${org.id}/projects/${project.id}/rooms`;
    const events = await joinRoom(`${projectBase}/events`, owner);
    const chat = await joinRoom(`${projectBase}/chat`, owner);
    expect(events.hello.canSend).toBe(false);
    expect(chat.hello.canSend).toBe(true);
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { method: 'PATCH', auth: owner, body: { name: 'Renamed' } })).status).toBe(200);
    expect(await events.next('event')).toMatchObject({ event: 'project.updated', id: 1, data: { id: project.id, name: 'Renamed' } });
    expect((await api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect(await events.next('event')).toMatchObject({ event: 'project.deleted', data: { projectId: project.id } });
    expect(await closedWithin(events)).toMatchObject({ code: 4004 });
    expect(await closedWithin(chat)).toMatchObject({ code: 4004 });
  });

  it('a deletion whose announcement is lost still closes the project\'s rooms (logged)', async () => {
    const { owner, org } = await tenant();
    const project = await createProject(org);
    const chat = await joinRoom(`/api/v1/orgs/${org.id}/projects/${project.id}/rooms/chat`, owner);
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    // Every room refuses `publish`; everything else (the directory's disconnect) goes through.
    const rooms = {
      getByName(name: string) {
        const stub = env.ROOMS.getByName(name) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
        return new Proxy({}, { get: (_, method: string) => (method === 'publish' ? () => Promise.reject(new Error('lost')) : (...args: unknown[]) => stub[method]?.(...args)) });
      },
    };
    const bindings = { ...env, ROOMS: rooms } as unknown as Env;
    const response = await request(`/api/v1/orgs/${org.id}/projects/${project.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${owner.accessToken}` } }, { bindings });
    expect(response.status).toBe(204);
    expect(await closedWithin(chat)).toMatchObject({ code: 4004 });
    const lines = errors.mock.calls.map(([line]) => JSON.parse(String(line)) as { message: string; event?: string });
    expect(lines).toContainEqual(expect.objectContaining({ message: 'room event not published', event: 'project.deleted' }));
  });

  it('membership changes reach the org events room; a personal room is its member’s alone and gets notifications', async () => {
    const { owner, org } = await tenant();
    const member = await createMember(org, 'member');
    const orgEvents = await joinRoom(`/api/v1/orgs/${org.id}/rooms/events`, owner);
    const personal = `/api/v1/orgs/${org.id}/members/${member.id}/room`;
    expect((await api(`${personal}/tickets`, { method: 'POST', auth: owner })).status).toBe(404);
    expect((await upgrade(`${personal}/ws`, { auth: owner })).status).toBe(404);
    const mine = await joinRoom(personal, member);
    expect(mine.hello.canSend).toBe(false);
    expect((await api(`/api/v1/orgs/${org.id}/members/${member.id}`, { method: 'PATCH', auth: owner, body: { role: 'viewer' } })).status).toBe(200);
    expect(await orgEvents.next('event')).toMatchObject({ event: 'member.updated', data: { userId: member.id, role: 'viewer' } });
    // The role change closes the member's sockets (4003); the notification waits in the room's history.
    expect(await closedWithin(mine)).toMatchObject({ code: 4003 });
    const again = await joinRoom(personal, member);
    expect(again.hello.history).toEqual([expect.objectContaining({ type: 'event', event: 'membership.role_changed', data: { role: 'viewer' } })]);
    again.ws.close(1000);
    orgEvents.ws.close(1000);
  });
});

describe('publishing never costs the request', () => {
  afterEach(() => vi.restoreAllMocks());

  const rename = (owner: TestUser, name: string): RequestInit => ({
    method: 'PATCH',
    headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });

  it('a publish that fails (the namespace is broken) is logged; the PATCH still answers 200', async () => {
    const { owner, org } = await tenant();
    const project = await createProject(org);
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const broken = { ...env, ROOMS: env.CACHE } as unknown as Env;
    const response = await request(`/api/v1/orgs/${org.id}/projects/${project.id}`, rename(owner, 'Renamed'), { bindings: broken });
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({ data: { name: 'Renamed' } });
    const lines = errors.mock.calls.map(([line]) => JSON.parse(String(line)) as { message: string; event?: string });
    expect(lines).toContainEqual(expect.objectContaining({ message: 'room event not published', event: 'project.updated' }));
  });

  it('a server event whose data passes messageBytes is refused by the room; publishToRoom logs it and does not throw', async () => {
    const { org, owner, id, stub } = await tenant();
    const a = await joinRoom(`/api/v1/orgs/${org.id}/rooms/${id}`, owner);
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    const pending: Promise<unknown>[] = [];
    const oversized = { event: 'note', data: 'x'.repeat(ROOM_LIMITS.messageBytes - 1) };
    publishToRoom(env, (promise) => pending.push(promise), { kind: 'org', orgId: org.id, roomId: id }, oversized);
    await Promise.all(pending);
    const lines = errors.mock.calls.map(([line]) => JSON.parse(String(line)) as { message: string; event?: string; error?: unknown });
    expect(lines).toContainEqual(expect.objectContaining({ message: 'room event not published', event: 'note' }));
    expect(JSON.stringify(lines)).toContain(`over ${ROOM_LIMITS.messageBytes} bytes`);
    // Nothing was stored or sent: the next event is the room's first.
    expect(await stub.publish({ event: 'note', data: 'small' })).toMatchObject({ id: 1, delivered: 1 });
    expect(await a.next('event')).toMatchObject({ id: 1, data: 'small' });
    a.ws.close(1000);
  });

  it('a publish that has not settled does not hold the response (waitUntil): the PATCH answers while it waits', async () => {
    const { owner, org } = await tenant();
    const project = await createProject(org);
    let release = () => {};
    const pending = new Promise<void>((resolve) => (release = resolve));
    const published: unknown[] = [];
    // A room that takes the event and never answers until the test lets it.
    const rooms = { getByName: () => ({ publish: (event: unknown) => (published.push(event), pending) }) };
    const ctx = createExecutionContext();
    const patch = new Request(`http://localhost/api/v1/orgs/${org.id}/projects/${project.id}`, rename(owner, 'Renamed'));
    patch.headers.set('cf-connecting-ip', '198.19.7.9');
    const answered = createApp().request(patch, undefined, { ...env, ROOMS: rooms } as unknown as Env, ctx);
    let timer = 0;
    const tooLate = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the response waited for the publish')), 5_000)));
    const response = await Promise.race([answered, tooLate]).finally(() => clearTimeout(timer));
    expect(response.status).toBe(200);
    expect(published).toEqual([expect.objectContaining({ event: 'project.updated' })]);
    release();
    await waitOnExecutionContext(ctx);
  });
});
