import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { roomFor, roomName } from '../../durable-objects/room/index.ts';
import { ROOM_LIMITS } from '../../src/lib/limits.ts';
import { createMember, createOrg, createUser } from '../helpers/factories.ts';
import { joinRoom, withLimits, type Frame } from '../helpers/room-client.ts';
import { env } from '../helpers/worker.ts';

async function tenant() {
  const owner = await createUser();
  const org = await createOrg(owner);
  const id = `r-${crypto.randomUUID().slice(0, 8)}`;
  return { owner, org, base: `/api/v1/orgs/${org.id}/rooms/${id}`, stub: roomFor(env, roomName({ kind: 'org', orgId: org.id, roomId: id })) };
}

const you = (socket: { hello: Frame }) => (socket.hello.you as { connectionId: string }).connectionId;
const pending = (stub: ReturnType<typeof roomFor>) => runInDurableObject(stub, (_, state) => state.storage.sql.exec('SELECT count(*) AS n FROM presence_changes').one().n);

describe('protocol v2 presence', () => {
  it('small room: the hello pages presence with a count, and each change reaches v2 sockets at once; v1 sockets keep v1 frames', async () => {
    const { owner, org, base } = await tenant();
    const member = await createMember(org, 'member');
    const a = await joinRoom(base, owner, { v: 2 });
    expect(a.hello).toMatchObject({ v: 2, type: 'hello', canSend: true, presence: { count: 1, members: [{ userId: owner.id }], next: null } });
    const old = await joinRoom(base, owner);
    expect(old.hello).toMatchObject({ v: 1, presence: [expect.anything(), expect.anything()] });
    const b = await joinRoom(base, member, { v: 2 });
    expect(await a.next('presence')).toMatchObject({ v: 2, count: 2, joined: [{ userId: owner.id, connectionId: you(old) }], left: [], more: false });
    expect(await a.next('presence')).toMatchObject({ v: 2, count: 3, joined: [{ userId: member.id, connectionId: you(b) }] });
    expect(await old.next('presence')).toMatchObject({ v: 1, event: 'join', member: { userId: member.id } });
    b.ws.close(1000);
    expect(await a.next('presence')).toMatchObject({ v: 2, count: 2, joined: [], left: [you(b)] });
    expect(await old.next('presence')).toMatchObject({ v: 1, event: 'leave', member: { connectionId: you(b) } });
    // v2 sockets never see v1's join/leave frames, and broadcasts are the same frame for both.
    old.send({ v: 1, type: 'broadcast', data: 'same' });
    expect(await a.next('broadcast')).toEqual(await old.next('broadcast'));
    expect(a.frames.filter((frame) => frame.type === 'presence').every((frame) => frame.v === 2 && !('event' in frame))).toBe(true);
    a.ws.close(1000);
    old.ws.close(1000);
  });

  it('large room: changes are kept in storage (across an eviction) and flushed by the alarm as one coalesced frame', async () => {
    const { owner, base, stub } = await tenant();
    await withLimits({ presenceImmediateMax: 1, presenceFlushMs: 60_000 }, async () => {
      const a = await joinRoom(base, owner, { v: 2 });
      const old = await joinRoom(base, owner);
      const b = await joinRoom(base, owner, { v: 2 });
      const c = await joinRoom(base, owner, { v: 2 });
      // The v1 socket hears each join at once; the v2 sockets hear nothing until the flush.
      expect(await old.next('presence')).toMatchObject({ event: 'join', member: { connectionId: you(b) } });
      expect(await old.next('presence')).toMatchObject({ event: 'join', member: { connectionId: you(c) } });
      expect(await pending(stub)).toBe(3);
      expect(await runInDurableObject(stub, (_, state) => state.storage.getAlarm())).toBeGreaterThan(Date.now() + 50_000);
      await evictDurableObject(stub);
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      const flushed = await a.next('presence');
      expect(flushed).toMatchObject({ v: 2, count: 4, left: [], more: false });
      expect((flushed.joined as Array<{ connectionId: string }>).map((m) => m.connectionId)).toEqual([you(old), you(b), you(c)]);
      expect((await b.next('presence')).joined).toEqual(flushed.joined);
      expect(await pending(stub)).toBe(0);
      // A socket that joins and leaves between two flushes is in neither list.
      b.ws.close(1000);
      const d = await joinRoom(base, owner, { v: 2 });
      d.ws.close(1000);
      await old.next('presence');
      await old.next('presence');
      await old.next('presence');
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      expect(await a.next('presence')).toEqual({ v: 2, type: 'presence', count: 3, joined: [], left: [you(b)], more: false });
      expect(c.frames.filter((frame) => frame.type === 'presence')).toHaveLength(2);
      for (const socket of [a, old, c]) socket.ws.close(1000);
    });
  });

  it('after a restart, a flush tells no join of a socket that is gone (pending changes outlive the sockets they name)', async () => {
    const { owner, base, stub } = await tenant();
    await withLimits({ presenceImmediateMax: 1, presenceFlushMs: 60_000 }, async () => {
      const a = await joinRoom(base, owner, { v: 2 });
      const b = await joinRoom(base, owner, { v: 2 });
      // What a restart leaves: the join of a socket the previous instance had, which was dropped with no leave.
      const gone = { connectionId: crypto.randomUUID(), userId: owner.id, keyId: null, role: 'owner' };
      await runInDurableObject(stub, (_, state) => state.storage.sql.exec('INSERT INTO presence_changes (connection_id, member) VALUES (?, ?)', gone.connectionId, JSON.stringify(gone)));
      expect(await pending(stub)).toBe(2);
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      const flushed = await a.next('presence');
      expect(flushed).toEqual({ v: 2, type: 'presence', count: 2, joined: [expect.objectContaining({ connectionId: you(b) })], left: [], more: false });
      expect(await b.next('presence')).toEqual(flushed);
      expect(await pending(stub)).toBe(0);
      a.ws.close(1000);
      b.ws.close(1000);
    });
  });

  it('a room that empties with changes pending drops them, and the next joins are flushed on time (retention shares the alarm)', async () => {
    const { owner, base, stub } = await tenant();
    await withLimits({ presenceImmediateMax: 1, presenceFlushMs: 60_000 }, async () => {
      const alarm = () => runInDurableObject(stub, (_, state) => state.storage.getAlarm());
      const a = await joinRoom(base, owner, { v: 2 });
      a.send({ v: 1, type: 'broadcast', data: 'kept for retention' });
      await a.next('broadcast');
      const b = await joinRoom(base, owner, { v: 2 });
      expect(await pending(stub)).toBe(1);
      b.ws.close(1000);
      a.ws.close(1000);
      await vi.waitFor(async () => expect(await pending(stub)).toBe(0));
      const c = await joinRoom(base, owner, { v: 2 });
      const d = await joinRoom(base, owner, { v: 2 });
      expect(await pending(stub)).toBe(1);
      // The flush comes within presenceFlushMs, not at the 30-day retention alarm.
      expect(await alarm()).toBeLessThanOrEqual(Date.now() + 60_000);
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      expect(await c.next('presence')).toMatchObject({ v: 2, count: 2, joined: [expect.objectContaining({ connectionId: you(d) })], left: [] });
      // Members are in: the alarm is set again for the history's retention, never in the past.
      expect(await alarm()).toBeGreaterThan(Date.now() + ROOM_LIMITS.historyIdleMs - 60_000);
      c.ws.close(1000);
      d.ws.close(1000);
    });
  });

  it('a flush larger than a page is capped and says more; `members` pages the whole room by cursor', async () => {
    const { owner, base, stub } = await tenant();
    await withLimits({ presenceImmediateMax: 1, presenceFlushMs: 60_000, presencePage: 2 }, async () => {
      const a = await joinRoom(base, owner, { v: 2 });
      const others = [await joinRoom(base, owner, { v: 2 }), await joinRoom(base, owner, { v: 2 }), await joinRoom(base, owner, { v: 2 })];
      expect(others[2]?.hello.presence).toMatchObject({ count: 4, members: [expect.anything(), expect.anything()], next: expect.any(String) });
      await runDurableObjectAlarm(stub);
      const flushed = await a.next('presence');
      expect(flushed).toMatchObject({ count: 4, more: true });
      expect(flushed.joined).toHaveLength(2);
      const seen: string[] = [];
      let after: string | null | undefined;
      do {
        a.send({ v: 2, type: 'members', ...(after ? { after } : {}) });
        const page = await a.next('members');
        expect(page).toMatchObject({ v: 2, count: 4 });
        seen.push(...(page.members as Array<{ connectionId: string }>).map((m) => m.connectionId));
        after = page.next as string | null;
      } while (after);
      expect(seen).toEqual([you(a), ...others.map(you)].sort());
      a.send({ v: 2, type: 'members', after: 'x'.repeat(65) });
      expect(await a.next('error')).toMatchObject({ code: 'BAD_FRAME' });
      for (const socket of [a, ...others]) socket.ws.close(1000);
    });
  });
});

describe('room-wide message budget', () => {
  it('past the budget a frame is refused with ROOM_BUSY and retryAfterMs, reaches no one, and the socket stays open', async () => {
    const { owner, org, base, stub } = await tenant();
    const member = await joinRoom(base, await createMember(org, 'member'));
    const a = await joinRoom(base, owner);
    await withLimits({ roomDeliveriesPerSecond: 3 }, async () => {
      a.send({ v: 1, type: 'broadcast', data: 'first' });
      expect(await member.next('broadcast')).toMatchObject({ data: 'first' });
      // A second broadcast (2 deliveries) would pass 3 in this second; an ephemeral (1 delivery) still fits, a second
      // one does not. Sent back to back, so all land in the window 'first' opened, in whichever order they arrive.
      a.send({ v: 1, type: 'broadcast', data: 'second' });
      member.send({ v: 1, type: 'ephemeral', data: 'typing' });
      member.send({ v: 1, type: 'ephemeral', data: 'over' });
      const busy = await a.next('error');
      expect(busy).toMatchObject({ code: 'ROOM_BUSY', retryAfterMs: expect.any(Number) });
      expect(busy.retryAfterMs).toBeGreaterThan(0);
      expect(busy.retryAfterMs).toBeLessThanOrEqual(1_000);
      expect(await a.next('ephemeral')).toMatchObject({ data: 'typing' });
      expect(await member.next('error')).toMatchObject({ code: 'ROOM_BUSY' });
      await new Promise((resolve) => setTimeout(resolve, Number(busy.retryAfterMs) + 50));
      a.send({ v: 1, type: 'broadcast', data: 'third' });
      expect(await member.next('broadcast')).toMatchObject({ data: 'third' });
    });
    const history = await runInDurableObject(stub, (_, state) => state.storage.sql.exec<{ frame: string }>('SELECT frame FROM history ORDER BY id').toArray());
    expect(history.map((row) => (JSON.parse(row.frame) as { data: string }).data)).toEqual(['first', 'third']);
    expect(member.frames.some((frame) => frame.data === 'second' || frame.data === 'over')).toBe(false);
    a.ws.close(1000);
    member.ws.close(1000);
  });
});
