import { DurableObject } from 'cloudflare:workers';
import { ROOM_LIMITS } from '../../src/lib/limits.ts';
import { describeError, log } from '../../src/lib/log.ts';
import { RoomStore } from './room-store.ts';
import { CLOSE_CODES, clientFrame, directoryName, MEMBER_HEADER, roomMember, serverEvent, type DisconnectTarget, type RoomPingReply, type ServerEvent, type TicketActor } from './room.schemas.ts';
import { DeliveryBudget, membersPage, presenceChangeFrame } from './room-presence.ts';
import { attachmentOf, errorFrame, exceedsBytes, frameId, matches, memberTags, parseJson, publicMember, safely, targetTag, type Attachment } from './room-sockets.ts';

/**
 * A realtime room, one object per room (its name says the org: `roomName`), on the WebSocket hibernation API:
 * sockets are accepted with `ctx.acceptWebSocket` and tags (user, session, key), each socket's identity and
 * rate counter live in its attachment, and ping/pong is answered by the runtime without waking the object. No
 * timers, no outbound sockets: between frames the object can be evicted and the sockets stay open. An org's
 * directory (`directoryName`) is an object of this class too: it lists the org's rooms for revocations.
 * The app reaches it through `roomFor` (room.client.ts), never through the binding.
 */
export class Room extends DurableObject<Env> {
  readonly #store: RoomStore;
  /** Attachments already read in this instance's life (null: left): a broadcast to 1,000 sockets reads none. */
  readonly #members = new WeakMap<WebSocket, Attachment | null>();
  /** The room-wide delivery budget: in memory, as the object is evicted only after far longer than its window. */
  readonly #budget = new DeliveryBudget();
  /** The alarm's pending updates, in order (`#alarmBy`). */
  #alarmSet: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new RoomStore(ctx.storage.sql);
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('ping', 'pong'));
  }

  /** Answers without touching storage: proves the namespace routes to a live object. */
  ping(): RoomPingReply {
    return 'pong';
  }

  /** Keeps a connect ticket (its SHA-256) for `ROOM_LIMITS.ticketTtlMs`. */
  issueTicket(hash: string, actor: TicketActor): void {
    this.#store.addTicket(hash, actor, Date.now() + ROOM_LIMITS.ticketTtlMs);
  }

  /** The ticket's caller, once; undefined for an unknown, used or expired ticket. */
  redeemTicket(hash: string): TicketActor | undefined {
    return this.#store.takeTicket(hash);
  }

  /** Accepts one socket of a member the app has admitted (header `MEMBER_HEADER`); `?lastId=` resumes history, `?v=2` speaks v2. */
  override fetch(request: Request): Response {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return new Response('Expected Upgrade: websocket', { status: 426 });
    const member = roomMember.safeParse(parseJson(request.headers.get(MEMBER_HEADER) ?? ''));
    if (!member.success) return new Response('Unknown member', { status: 400 });
    const query = new URL(request.url).searchParams;
    const lastId = Number.parseInt(query.get('lastId') ?? '', 10);
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    if (this.ctx.getWebSockets().length >= ROOM_LIMITS.connectionsPerRoom) {
      this.ctx.acceptWebSocket(server);
      server.close(CLOSE_CODES.full, 'Room is full');
      return new Response(null, { status: 101, webSocket: client });
    }
    const attachment: Attachment = { ...member.data, id: crypto.randomUUID(), rate: { start: 0, count: 0 }, ...(query.get('v') === '2' ? { v: 2 } : {}) };
    this.ctx.acceptWebSocket(server, memberTags(member.data));
    server.serializeAttachment(attachment);
    this.#members.set(server, attachment);
    server.send(this.#hello(attachment, Number.isSafeInteger(lastId) && lastId >= 0 ? lastId : undefined));
    this.#announce(attachment, 'join', server);
    this.#active();
    return new Response(null, { status: 101, webSocket: client });
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    const attachment = this.#attachment(ws);
    if (!attachment) return;
    try {
      this.#receive(ws, attachment, message);
    } catch (error) {
      // Never thrown out of the handler: one bad frame must not cost the room (or anyone else's socket).
      log('error', 'room frame failed', { error: describeError(error) });
      safely(() => ws.send(errorFrame('INTERNAL', 'The frame could not be handled.')));
    }
  }

  override webSocketClose(ws: WebSocket, code: number, reason: string): void {
    this.#leave(ws);
    safely(() => ws.close(code, reason));
  }

  override webSocketError(ws: WebSocket): void {
    this.#leave(ws);
  }

  /**
   * Flushes the coalesced presence changes (v2) to the v2 sockets, one frame for all since the last flush. Joins are told
   * only of sockets still open: stored changes outlive a restart (a deploy or a local reload drops every socket).
   */
  override alarm(): void {
    const { members } = this.presence();
    if (members.length === 0) {
      // Nobody is left to tell (a restart drops every socket without a close).
      this.#store.takePresenceChanges();
      return this.#forgetWhenIdle();
    }
    const open = new Set(members.map((member) => member.connectionId));
    const { joined, left } = this.#store.takePresenceChanges((connectionId) => open.has(connectionId));
    if (joined.length + left.length > 0) this.#send(presenceChangeFrame(members.length, joined, left), undefined, isV2);
    // Should a restart drop these members without a close, the history is still forgotten in time.
    if (this.#store.hasHistory()) this.#alarmBy(Date.now() + ROOM_LIMITS.historyIdleMs);
  }

  /**
   * Stores a server event in the history and sends it to every socket. Answers its id. Throws (storing and sending
   * nothing) when its data, as JSON, passes `ROOM_LIMITS.messageBytes`: a hello replays up to `historyMessages` frames,
   * so the bound a client's frame has holds for the app's too (the caller logs a failed publish).
   */
  publish(input: ServerEvent): { id: number; delivered: number } {
    const { event, data } = serverEvent.parse(input);
    if (exceedsBytes(JSON.stringify(data), ROOM_LIMITS.messageBytes)) throw new RangeError(`room event ${event}: data over ${ROOM_LIMITS.messageBytes} bytes`);
    const frame = this.#store.append((id) => JSON.stringify({ v: 1, type: 'event', id, at: new Date().toISOString(), event, data }), ROOM_LIMITS.historyMessages);
    this.#active();
    return { id: frameId(frame), delivered: this.#send(frame) };
  }

  /**
   * Closes the sockets `target` names with `code` and `reason`; answers how many sockets stay open. Everyone goes only
   * when the room is gone (its org or project deleted), so its stored messages are deleted too.
   */
  disconnect(target: DisconnectTarget, code: number, reason: string): number {
    const tagged = this.ctx.getWebSockets(targetTag(target)).filter((socket) => matches(target, this.#attachment(socket)));
    // Everyone goes (a deleted project or org): nobody is left to hear who left, so no N² leave frames.
    const silently = 'everyone' in target;
    for (const ws of tagged) {
      if (silently) {
        this.#members.set(ws, null);
        safely(() => ws.serializeAttachment(null));
      } else this.#leave(ws);
      safely(() => ws.close(code, reason));
    }
    if (silently) this.#store.clear();
    return this.ctx.getWebSockets().filter((socket) => this.#attachment(socket)).length;
  }

  /** Open sockets (members only) and their public identities: for tests and the benchmark. */
  presence(): { connections: number; members: ReturnType<typeof publicMember>[] } {
    const members = this.ctx.getWebSockets().flatMap((ws) => {
      const attachment = this.#attachment(ws);
      return attachment ? [publicMember(attachment)] : [];
    });
    return { connections: members.length, members };
  }

  /** Directory: a room of this org is about to get a socket. */
  track(name: string): void {
    this.#store.track(name, Date.now());
  }

  /** Directory: a room's last member left at `at`; forgotten unless a socket was tracked into it since. */
  untrack(name: string, at: number): void {
    this.#store.untrack(name, at);
  }

  /**
   * Directory: closes `target`'s sockets in every room of the org (whose name starts with `within`, when given);
   * forgets rooms left empty. Answers how many rooms were reached.
   */
  async disconnectRooms(target: DisconnectTarget, code: number, reason: string, within = ''): Promise<number> {
    const started = Date.now();
    const names = this.#store.rooms().filter((name) => name.startsWith(within));
    const outcomes = await Promise.allSettled(
      names.map(async (name) => {
        const open = await this.env.ROOMS.getByName(name).disconnect(target, code, reason);
        if (open === 0) this.#store.untrack(name, started);
      }),
    );
    const failed = outcomes.filter((outcome) => outcome.status === 'rejected');
    if (failed.length > 0) log('error', 'rooms not told of a revocation', { failed: failed.length });
    return outcomes.length - failed.length;
  }

  #receive(ws: WebSocket, attachment: Attachment, message: string | ArrayBuffer): void {
    if (exceedsBytes(message, ROOM_LIMITS.messageBytes)) return ws.close(CLOSE_CODES.tooBig, 'Message too big');
    const now = Date.now();
    attachment.rate = now - attachment.rate.start >= 1_000 ? { start: now, count: 1 } : { start: attachment.rate.start, count: attachment.rate.count + 1 };
    ws.serializeAttachment(attachment);
    if (attachment.rate.count > ROOM_LIMITS.messagesPerSecond) return ws.close(CLOSE_CODES.policy, 'Rate limit exceeded');
    if (typeof message !== 'string') return ws.send(errorFrame('BAD_FRAME', 'Frames are JSON text.'));
    const frame = clientFrame.safeParse(parseJson(message));
    if (!frame.success) return ws.send(errorFrame('BAD_FRAME', 'Expected {"v":1,"type":"broadcast"|"ephemeral","data":…} (or v2 `members`).'));
    if (frame.data.type === 'members') return ws.send(JSON.stringify({ v: 2, type: 'members', ...membersPage(this.presence().members, frame.data.after) }));
    if (!attachment.canSend) return ws.send(errorFrame('READ_ONLY', 'You may read this room, not send to it.'));
    const sockets = this.ctx.getWebSockets().length;
    const retryAfterMs = this.#budget.spend(frame.data.type === 'ephemeral' ? sockets - 1 : sockets, now);
    if (retryAfterMs > 0) return ws.send(errorFrame('ROOM_BUSY', 'The room has reached its message budget; retry shortly.', { retryAfterMs }));
    const from = publicMember(attachment);
    if (frame.data.type === 'ephemeral') {
      this.#send(JSON.stringify({ v: 1, type: 'ephemeral', from, data: frame.data.data }), ws);
      return;
    }
    const data = frame.data.data;
    this.#send(this.#store.append((id) => JSON.stringify({ v: 1, type: 'broadcast', id, at: new Date(now).toISOString(), from, data }), ROOM_LIMITS.historyMessages));
    this.#active(now);
  }

  /** The socket's attachment: from memory, or (after an eviction) deserialized once. */
  #attachment(ws: WebSocket): Attachment | undefined {
    const known = this.#members.get(ws);
    if (known !== undefined) return known ?? undefined;
    const read = attachmentOf(ws);
    this.#members.set(ws, read ?? null);
    return read;
  }

  /** The hello: who you are, presence, and as much history as fits in `ROOM_LIMITS.helloBytes` beside them (newest kept). */
  #hello(attachment: Attachment, lastId: number | undefined): string {
    const members = this.presence().members;
    const presence = attachment.v === 2 ? membersPage(members, undefined) : members;
    const head = (missed: boolean) => JSON.stringify({ v: attachment.v ?? 1, type: 'hello', you: publicMember(attachment), canSend: attachment.canSend, presence, missed });
    // The head's size does not depend on `missed` (`true` is one byte shorter than `false`).
    const budget = ROOM_LIMITS.helloBytes - new TextEncoder().encode(head(false)).byteLength - ',"history":[]'.length;
    const { frames, missed } = this.#store.since(lastId, budget);
    return `${head(missed).slice(0, -1)},"history":[${frames.join(',')}]}`;
  }

  /** A member's socket leaves: its attachment is cleared (so it leaves once) and the others are told. */
  #leave(ws: WebSocket): void {
    const attachment = this.#attachment(ws);
    if (!attachment) return;
    this.#members.set(ws, null);
    safely(() => ws.serializeAttachment(null));
    this.#announce(attachment, 'leave', ws);
    if (this.ctx.getWebSockets().some((other) => other !== ws && this.#attachment(other))) return;
    // The last one: nobody is left to tell of pending presence changes.
    this.#store.takePresenceChanges();
    this.#forgetInDirectory();
    this.#active();
  }

  /**
   * A message was stored, or a member came or went: the room's history is kept `ROOM_LIMITS.historyIdleMs` from now.
   * One alarm serves presence flushes and retention: it is set for whichever is due first, and each handler looks again.
   */
  #active(at = Date.now()): void {
    this.#store.touch(at);
    this.#alarmBy(at + ROOM_LIMITS.historyIdleMs);
  }

  /** The alarm found nobody in the room: forget its messages once idle long enough, else look again then. */
  #forgetWhenIdle(): void {
    if (!this.#store.hasHistory()) return;
    const since = this.#store.lastActivity();
    // A room idle since before retention existed starts its wait now.
    if (since === undefined) return this.#active();
    if (since + ROOM_LIMITS.historyIdleMs <= Date.now()) return this.#store.clear();
    this.#alarmBy(since + ROOM_LIMITS.historyIdleMs);
  }

  /** Makes sure the alarm fires by `at`: an alarm already due earlier is kept (the one alarm serves flushes and retention). */
  #alarmBy(at: number): void {
    const storage = this.ctx.storage;
    // One after another, so two calls in one event cannot both read no alarm and the later one win.
    this.#alarmSet = this.#alarmSet
      .then(async () => {
        const current = await storage.getAlarm();
        if (current === null || at < current) await storage.setAlarm(at);
      })
      .catch((error: unknown) => log('error', 'room alarm not set', { error: describeError(error) }));
  }

  /**
   * The last member left: the org's directory forgets this room, so revocations fan out only to rooms in use
   * (a directory that kept every room ever used would make each revocation wake them all). Best effort.
   */
  #forgetInDirectory(): void {
    const name = this.ctx.id.name;
    const orgId = name?.match(/^org:([^:]+):/)?.[1];
    if (!name || !orgId) return;
    const left = Date.now();
    this.ctx.waitUntil(
      this.env.ROOMS.getByName(directoryName(orgId))
        .untrack(name, left)
        .catch((error: unknown) => log('warn', 'room not forgotten by its directory', { error: describeError(error) })),
    );
  }

  /**
   * Tells the room a member joined or left: v1 sockets at once, one frame each; v2 sockets at once while the room
   * is small, else through the pending changes, flushed by the alarm (which, unlike a timer, lets the object hibernate).
   */
  #announce(attachment: Attachment, event: 'join' | 'leave', except: WebSocket): void {
    const member = publicMember(attachment);
    this.#send(JSON.stringify({ v: 1, type: 'presence', event, member }), except, (other) => other.v !== 2);
    const joined = event === 'join' ? [JSON.stringify(member)] : [];
    const left = event === 'leave' ? [member.connectionId] : [];
    if (this.ctx.getWebSockets().length <= ROOM_LIMITS.presenceImmediateMax && !this.#store.hasPresenceChanges()) {
      this.#send(presenceChangeFrame(this.presence().connections, joined, left), except, isV2);
      return;
    }
    if (this.#store.addPresenceChange(member.connectionId, joined[0] ?? null)) {
      this.#alarmBy(Date.now() + ROOM_LIMITS.presenceFlushMs);
    }
  }

  /** Sends `frame` to every member socket (that `to` accepts) but `except`; a socket that fails is skipped, never the rest. Answers how many got it. */
  #send(frame: string, except?: WebSocket, to?: (attachment: Attachment) => boolean): number {
    let delivered = 0;
    for (const ws of this.ctx.getWebSockets()) {
      const attachment = ws === except ? undefined : this.#attachment(ws);
      if (!attachment || (to && !to(attachment))) continue;
      if (safely(() => ws.send(frame))) delivered++;
    }
    return delivered;
  }
}

const isV2 = (attachment: Attachment) => attachment.v === 2;
