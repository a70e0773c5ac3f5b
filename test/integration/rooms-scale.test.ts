import { describe, expect, it } from 'vitest';
import { roomFor, roomName } from '../../durable-objects/room/index.ts';
import { ROOM_LIMITS } from '../../src/lib/limits.ts';
import { createMember, createOrg, createUser } from '../helpers/factories.ts';
import { closedWithin, joinRoom, type Frame, type TestSocket } from '../helpers/room-client.ts';
import { env } from '../helpers/worker.ts';

// The room benchmark's shape at a size a test can afford (README, "Realtime rooms"; issue #9): v2 sockets in batches
// of 50, well past presenceImmediateMax and the presence page, then broadcasts. Every open socket must get every
// broadcast, and each v2 socket the presence it is promised: a paged hello, then every later join and every leave in
// the alarm's flushes, with the room's count.

const SOCKETS = 300;
const BATCH = 50;
const LEAVERS = 50;

type Socket = TestSocket & { hello: Frame };
type Member = { connectionId: string };

const idOf = (socket: Socket) => (socket.hello.you as Member).connectionId;
const presenceOf = (socket: Socket) => socket.frames.filter((frame) => frame.type === 'presence');
const ids = (members: unknown) => (members as Member[]).map((member) => member.connectionId);

/**
 * Waits until `check` holds (the alarm flushes about `presenceFlushMs` after the first pending change). A bound on
 * waiting, not a timing claim: under a loaded `npm test` a flush has come later than 5 s.
 */
async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const broadcastsOf = (socket: Socket, data: string) => socket.frames.filter((frame) => frame.type === 'broadcast' && frame.data === data).length;

describe('a v2 room past its presence page and immediate threshold', () => {
  it(`${SOCKETS} sockets: every socket gets every broadcast, a paged hello, each later join and each leave`, { timeout: 120_000 }, async () => {
    expect(SOCKETS).toBeGreaterThan(2 * ROOM_LIMITS.presencePage);
    expect(BATCH).toBeLessThanOrEqual(ROOM_LIMITS.presencePage);
    const owner = await createUser();
    const org = await createOrg(owner, { tier: 'enterprise' });
    const member = await createMember(org, 'member');
    const roomId = `scale-${crypto.randomUUID().slice(0, 8)}`;
    const base = `/api/v1/orgs/${org.id}/rooms/${roomId}`;
    const sockets: Socket[] = [];
    // Every sixth socket is the member's: they are the ones closed later (4003), spread over every batch.
    while (sockets.length < SOCKETS) {
      const start = sockets.length;
      sockets.push(...(await Promise.all(Array.from({ length: BATCH }, (_, i) => joinRoom(base, (start + i) % 6 === 5 ? member : owner, { byHeaders: true, v: 2 })))));
      // Each batch is flushed before the next, so no flush passes a page and `more` stays false.
      const first = sockets[0];
      if (first && sockets.length > 1) await until(() => presenceOf(first).at(-1)?.count === sockets.length, `the flush of ${sockets.length}`);
    }

    // The hello: a page of at most presencePage members in connection-id order, the count, and a cursor past the page.
    const byArrival = [...sockets].sort((a, b) => Number((a.hello.presence as { count: number }).count) - Number((b.hello.presence as { count: number }).count));
    expect(byArrival.map((socket) => (socket.hello.presence as { count: number }).count)).toEqual(Array.from({ length: SOCKETS }, (_, i) => i + 1));
    const everyone = new Set(sockets.map(idOf));
    for (const [index, socket] of byArrival.entries()) {
      const page = socket.hello.presence as { count: number; members: Member[]; next: string | null };
      expect(socket.hello).toMatchObject({ v: 2, type: 'hello' });
      expect(page.members).toHaveLength(Math.min(index + 1, ROOM_LIMITS.presencePage));
      expect(ids(page.members)).toEqual([...ids(page.members)].sort());
      expect(ids(page.members).every((id) => everyone.has(id))).toBe(true);
      expect(page.next === null).toBe(index + 1 <= ROOM_LIMITS.presencePage);
      // After its hello, a socket hears of every socket that came later, and its last frame says the room's count.
      const heard = new Set(presenceOf(socket).flatMap((frame) => ids(frame.joined)));
      expect(byArrival.slice(index + 1).map(idOf).filter((id) => !heard.has(id))).toEqual([]);
      expect(presenceOf(socket).every((frame) => frame.v === 2 && frame.more === false)).toBe(true);
      if (index < SOCKETS - 1) expect(presenceOf(socket).at(-1)?.count).toBe(SOCKETS);
    }

    // A broadcast reaches every socket, the sender too, once.
    sockets[0]?.send({ v: 1, type: 'broadcast', data: 'all' });
    await until(() => sockets.every((socket) => broadcastsOf(socket, 'all') > 0), 'the broadcast to every socket');
    expect(sockets.every((socket) => broadcastsOf(socket, 'all') === 1)).toBe(true);

    // The server closes the member's sockets (their access changed): the others hear each leave and the new count …
    const leavers = sockets.filter((_, index) => index % 6 === 5);
    const stayers = sockets.filter((_, index) => index % 6 !== 5);
    expect(leavers).toHaveLength(LEAVERS);
    const stub = roomFor(env, roomName({ kind: 'org', orgId: org.id, roomId }));
    expect(await stub.disconnect({ userId: member.id }, 4003, 'Access changed')).toBe(SOCKETS - LEAVERS);
    for (const socket of leavers) expect(await closedWithin(socket)).toMatchObject({ code: 4003 });
    await until(() => stayers.every((socket) => presenceOf(socket).at(-1)?.count === SOCKETS - LEAVERS), 'the flush of the leaves');
    const gone = leavers.map(idOf).sort();
    for (const socket of stayers) expect(presenceOf(socket).flatMap((frame) => frame.left as string[]).sort()).toEqual(gone);

    // … a broadcast still reaches every open socket, and `members` pages exactly the sockets left open.
    stayers[0]?.send({ v: 1, type: 'broadcast', data: 'after' });
    await until(() => stayers.every((socket) => broadcastsOf(socket, 'after') === 1), 'the broadcast to every open socket');
    const paged: string[] = [];
    const reader = stayers[1] as Socket;
    let after: string | null = null;
    do {
      reader.send({ v: 2, type: 'members', ...(after ? { after } : {}) });
      const page = await reader.next('members');
      expect(page.count).toBe(SOCKETS - LEAVERS);
      paged.push(...ids(page.members));
      after = page.next as string | null;
    } while (after);
    expect(paged).toEqual(stayers.map(idOf).sort());
    for (const socket of stayers) socket.ws.close(1000);
  });
});
