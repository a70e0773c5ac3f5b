import { describe, expect, it } from 'vitest';
import { roomFor, roomName } from '../../durable-objects/room/index.ts';
import { ROOM_LIMITS } from '../../src/lib/limits.ts';
import { api, createApiKey, createMember, createOrg, createUser, json } from '../helpers/factories.ts';
import { accept, closedWithin, joinRoom, roomTicket, upgrade, withLimits, type Frame } from '../helpers/room-client.ts';
import { env } from '../helpers/worker.ts';

const orgRoomPath = (orgId: string, roomId = 'general') => `/api/v1/orgs/${orgId}/rooms/${roomId}`;

async function tenant() {
  const owner = await createUser();
  const org = await createOrg(owner);
  const id = `r-${crypto.randomUUID().slice(0, 8)}`;
  return { owner, org, id, base: orgRoomPath(org.id, id) };
}

describe('connect', () => {
  it('a ticket opens the socket once; the hello carries presence and history', async () => {
    const { owner, base } = await tenant();
    const url = await roomTicket(base, owner);
    expect(url).toMatch(/\/ws\?ticket=rt_[\w-]{43}$/);
    const response = await upgrade(url);
    expect(response.status).toBe(101);
    const socket = accept(response);
    const hello = await socket.next('hello');
    expect(hello).toMatchObject({ v: 1, canSend: true, history: [], missed: false, you: { userId: owner.id, role: 'owner' } });
    expect(hello.presence).toEqual([expect.objectContaining({ userId: owner.id })]);
    const again = await upgrade(url);
    expect(again.status).toBe(401);
    expect(again.webSocket).toBeNull();
    socket.ws.close(1000);
  });

  it('refuses before the upgrade: no credentials, a bad ticket, a ticket of another room, no Upgrade header', async () => {
    const { owner, org, base } = await tenant();
    expect((await upgrade(`${base}/ws`)).status).toBe(401);
    expect((await upgrade(`${base}/ws?ticket=rt_${'a'.repeat(43)}`)).status).toBe(401);
    expect((await upgrade(`${base}/ws?ticket=nonsense`)).status).toBe(401);
    const otherRoom = await roomTicket(orgRoomPath(org.id, 'other'), owner);
    expect((await upgrade(`${base}/ws?${otherRoom.split('?')[1]}`)).status).toBe(401);
    const plain = await api(`${base}/ws`, { auth: owner });
    expect(plain.status).toBe(426);
    expect(await json(plain)).toMatchObject({ error: { code: 'UPGRADE_REQUIRED' } });
    const both = await upgrade(await roomTicket(base, owner), { auth: owner });
    expect(both.status).toBe(400);
    expect((await api(`/api/v1/orgs/${org.id}/rooms/Not-Lower/tickets`, { method: 'POST', auth: owner })).status).toBe(400);
  });

  it('a member of another org is refused before the upgrade, with a ticket of their own room too', async () => {
    const { org, base } = await tenant();
    const stranger = await createUser();
    const strangerOrg = await createOrg(stranger);
    expect((await api(`${base}/tickets`, { method: 'POST', auth: stranger })).status).toBe(404);
    const refused = await upgrade(`${base}/ws`, { auth: stranger });
    expect(refused.status).toBe(404);
    expect(refused.webSocket).toBeNull();
    const own = await roomTicket(orgRoomPath(strangerOrg.id, base.split('/').pop()), stranger);
    expect((await upgrade(own.replace(strangerOrg.id, org.id))).status).toBe(401);
  });

  it('an API key connects with its key as a header', async () => {
    const { org, base } = await tenant();
    const key = await createApiKey(org, { scopes: ['org:read'] });
    const socket = await joinRoom(base, { apiKey: key.key }, { byHeaders: true });
    expect(socket.hello).toMatchObject({ canSend: false, you: { keyId: key.id, userId: null } });
    socket.ws.close(1000);
  });
});

describe('presence, broadcast, ephemeral', () => {
  it('members see each other join and leave; broadcasts reach all with an id; ephemeral skips the sender', async () => {
    const { owner, org, base } = await tenant();
    const member = await createMember(org, 'member');
    const a = await joinRoom(base, owner);
    const b = await joinRoom(base, member);
    expect(await a.next('presence')).toMatchObject({ event: 'join', member: { userId: member.id } });
    expect((b.hello.presence as unknown[]).length).toBe(2);
    a.send({ v: 1, type: 'broadcast', data: { text: 'hi' } });
    const [toA, toB] = [await a.next('broadcast'), await b.next('broadcast')];
    expect(toA).toEqual(toB);
    expect(toB).toMatchObject({ id: 1, data: { text: 'hi' }, from: { userId: owner.id } });
    expect(toB.from).not.toHaveProperty('sessionId');
    b.send({ v: 1, type: 'ephemeral', data: { typing: true } });
    expect(await a.next('ephemeral')).toMatchObject({ data: { typing: true }, from: { userId: member.id } });
    b.ws.close(1000, 'bye');
    expect(await a.next('presence')).toMatchObject({ event: 'leave', member: { userId: member.id } });
    expect(b.frames.some((frame) => frame.type === 'ephemeral')).toBe(false);
    a.ws.close(1000);
  });

  it('a viewer reads but may not send', async () => {
    const { owner, org, base } = await tenant();
    const viewer = await createMember(org, 'viewer');
    const a = await joinRoom(base, owner);
    const v = await joinRoom(base, viewer);
    expect(v.hello.canSend).toBe(false);
    v.send({ v: 1, type: 'broadcast', data: 'x' });
    expect(await v.next('error')).toMatchObject({ code: 'READ_ONLY' });
    a.send({ v: 1, type: 'broadcast', data: 'from owner' });
    expect(await v.next('broadcast')).toMatchObject({ data: 'from owner' });
    a.ws.close(1000);
    v.ws.close(1000);
  });

  it('history is replayed on hello, and from lastId on resume', async () => {
    const { owner, base } = await tenant();
    const a = await joinRoom(base, owner);
    for (const n of [1, 2, 3]) a.send({ v: 1, type: 'broadcast', data: n });
    await a.next('broadcast');
    await a.next('broadcast');
    await a.next('broadcast');
    const fresh = await joinRoom(base, owner);
    expect((fresh.hello.history as Array<{ data: number }>).map((frame) => frame.data)).toEqual([1, 2, 3]);
    const resumed = await joinRoom(base, owner, { lastId: 2 });
    expect(resumed.hello.history).toEqual([expect.objectContaining({ id: 3, data: 3 })]);
    expect(resumed.hello.missed).toBe(false);
    for (const socket of [a, fresh, resumed]) socket.ws.close(1000);
  });

  it('the history keeps the last historyMessages; a resume from before them says missed: true', async () => {
    const { owner, base } = await tenant();
    await withLimits({ historyMessages: 2 }, async () => {
      const a = await joinRoom(base, owner);
      for (const n of [1, 2, 3]) a.send({ v: 1, type: 'broadcast', data: n });
      for (const n of [1, 2, 3]) expect(await a.next('broadcast')).toMatchObject({ id: n, data: n });
      const fresh = await joinRoom(base, owner);
      expect((fresh.hello.history as Array<{ id: number }>).map((frame) => frame.id)).toEqual([2, 3]);
      expect(fresh.hello.missed).toBe(false);
      // Id 1 was dropped: a client that saw nothing after 0 has missed it, one that saw 1 has missed nothing.
      const behind = await joinRoom(base, owner, { lastId: 0 });
      expect((behind.hello.history as Array<{ id: number }>).map((frame) => frame.id)).toEqual([2, 3]);
      expect(behind.hello.missed).toBe(true);
      const caughtUp = await joinRoom(base, owner, { lastId: 1 });
      expect((caughtUp.hello.history as Array<{ id: number }>).map((frame) => frame.id)).toEqual([2, 3]);
      expect(caughtUp.hello.missed).toBe(false);
      for (const socket of [a, fresh, behind, caughtUp]) socket.ws.close(1000);
    });
  });
});

describe('hello size', () => {
  const bytes = (frame: unknown) => new TextEncoder().encode(JSON.stringify(frame)).byteLength;

  it('a hello never passes helloBytes (1 MiB): its history keeps the newest frames that fit; a resume they cut says missed: true', async () => {
    const { owner, org, base, id } = await tenant();
    const stub = roomFor(env, roomName({ kind: 'org', orgId: org.id, roomId: id }));
    // A full history of the largest frames a client can cause: 100 × ~16.4 KB, 1.6 MB in all.
    const data = 'x'.repeat(ROOM_LIMITS.messageBytes - 80);
    for (let n = 0; n < ROOM_LIMITS.historyMessages; n++) await stub.publish({ event: 'note', data });
    const fresh = await joinRoom(base, owner);
    const ids = (hello: Frame) => (hello.history as Array<{ id: number }>).map((frame) => frame.id);
    expect(bytes(fresh.hello)).toBeLessThanOrEqual(ROOM_LIMITS.helloBytes);
    const kept = ids(fresh.hello);
    expect(kept.length).toBeGreaterThan(50);
    expect(kept.length).toBeLessThan(ROOM_LIMITS.historyMessages);
    // The newest, in order, none skipped; a first connect promised no more.
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, index) => ROOM_LIMITS.historyMessages - kept.length + 1 + index));
    expect(fresh.hello.missed).toBe(false);
    const behind = await joinRoom(base, owner, { lastId: 0 });
    expect(ids(behind.hello)).toEqual(kept);
    expect(behind.hello.missed).toBe(true);
    const recent = await joinRoom(base, owner, { lastId: 90 });
    expect(ids(recent.hello)).toEqual([91, 92, 93, 94, 95, 96, 97, 98, 99, 100]);
    expect(recent.hello.missed).toBe(false);
    for (const socket of [fresh, behind, recent]) socket.ws.close(1000);
  });
});

describe('bad frames and limits', () => {
  it('a malformed frame gets an error frame; the socket and the room carry on', async () => {
    const { owner, org, base } = await tenant();
    const other = await joinRoom(base, await createMember(org, 'member'));
    const a = await joinRoom(base, owner);
    for (const bad of ['not json', '{"v":3,"type":"broadcast","data":1}', '{"v":1,"type":"members"}', '{"v":1,"type":"shout"}', '[]', 'null']) {
      a.send(bad);
      expect(await a.next('error')).toMatchObject({ code: 'BAD_FRAME' });
    }
    a.ws.send(new Uint8Array([1, 2, 3]));
    expect(await a.next('error')).toMatchObject({ code: 'BAD_FRAME' });
    a.send({ v: 1, type: 'broadcast', data: 'still here' });
    expect(await other.next('broadcast')).toMatchObject({ data: 'still here' });
    a.ws.close(1000);
    other.ws.close(1000);
  });

  it('a frame over the size limit closes with 1009', async () => {
    const { owner, base } = await tenant();
    const a = await joinRoom(base, owner);
    a.send({ v: 1, type: 'broadcast', data: 'é'.repeat(9_000) });
    expect(await closedWithin(a)).toMatchObject({ code: 1009 });
  });

  it("a server event's data is bounded by messageBytes as JSON: at the limit it is published, one byte over it is refused", async () => {
    const { owner, org, base, id } = await tenant();
    const stub = roomFor(env, roomName({ kind: 'org', orgId: org.id, roomId: id }));
    const a = await joinRoom(base, owner);
    // JSON adds the two quotes; 'é' is two UTF-8 bytes, so the count is in bytes, not characters.
    const atLimit = 'é'.repeat((ROOM_LIMITS.messageBytes - 2) / 2);
    // Settled here, not by `expect(…).rejects`: its look at the RPC promise's properties would reject unhandled.
    const refused = await stub.publish({ event: 'note', data: `${atLimit}x` }).then(() => 'published', (error: unknown) => String(error));
    expect(refused).toContain(`over ${ROOM_LIMITS.messageBytes} bytes`);
    expect(await stub.publish({ event: 'note', data: atLimit })).toMatchObject({ id: 1, delivered: 1 });
    expect(await a.next('event')).toMatchObject({ id: 1, data: atLimit });
    const later = await joinRoom(base, owner);
    expect((later.hello.history as Array<{ id: number }>).map((frame) => frame.id)).toEqual([1]);
    for (const socket of [a, later]) socket.ws.close(1000);
  });

  it('too many frames per second close with 1008', async () => {
    const { owner, base } = await tenant();
    const a = await joinRoom(base, owner);
    for (let n = 0; n < 25; n++) a.send({ v: 1, type: 'ephemeral', data: n });
    expect(await closedWithin(a)).toMatchObject({ code: 1008, reason: 'Rate limit exceeded' });
  });
});
