import { ticketActor, type TicketActor } from './room.schemas.ts';

/**
 * A room's storage (SQLite-backed: the class was created with `new_sqlite_classes`): connect tickets, the
 * recent history and its last id, and — in an org's directory object — the names of the org's rooms. Every method is
 * synchronous, so each one is atomic inside the object (a ticket is redeemed once, history ids never repeat).
 */
export class RoomStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec('CREATE TABLE IF NOT EXISTS tickets (hash TEXT PRIMARY KEY, actor TEXT NOT NULL, expires_at INTEGER NOT NULL)');
    sql.exec('CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY, frame TEXT NOT NULL)');
    sql.exec('CREATE TABLE IF NOT EXISTS rooms (name TEXT PRIMARY KEY, tracked_at INTEGER NOT NULL)');
    sql.exec('CREATE TABLE IF NOT EXISTS presence_changes (seq INTEGER PRIMARY KEY, connection_id TEXT NOT NULL, member TEXT)');
    sql.exec('CREATE TABLE IF NOT EXISTS activity (id INTEGER PRIMARY KEY CHECK (id = 1), at INTEGER NOT NULL)');
    // The last history id, apart from the history so that `clear` keeps it: ids that restarted at 1 after a wipe
    // would make a client resuming from an older, higher id skip the new frames without being told.
    sql.exec('CREATE TABLE IF NOT EXISTS last_id (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL)');
  }

  /** Keeps a ticket (by its hash) until `expiresAt`; drops the expired ones on the way. */
  addTicket(hash: string, actor: TicketActor, expiresAt: number): void {
    this.#sql.exec('DELETE FROM tickets WHERE expires_at <= ?', Date.now());
    this.#sql.exec('INSERT INTO tickets (hash, actor, expires_at) VALUES (?, ?, ?)', hash, JSON.stringify(actor), expiresAt);
  }

  /** The ticket's caller, once: the row is deleted as it is read. Undefined when unknown, used or expired. */
  takeTicket(hash: string): TicketActor | undefined {
    const row = this.#sql.exec<{ actor: string; expires_at: number }>('DELETE FROM tickets WHERE hash = ? RETURNING actor, expires_at', hash).toArray()[0];
    if (!row || row.expires_at <= Date.now()) return undefined;
    const parsed = ticketActor.safeParse(JSON.parse(row.actor));
    return parsed.success ? parsed.data : undefined;
  }

  /** Appends a frame built around its new id; keeps the last `keep`. Answers the frame's text. */
  append(build: (id: number) => string, keep: number): string {
    const id = this.#lastId() + 1;
    const frame = build(id);
    this.#sql.exec('INSERT INTO history (id, frame) VALUES (?, ?)', id, frame);
    this.#sql.exec('INSERT INTO last_id (id, last) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET last = excluded.last', id);
    this.#sql.exec('DELETE FROM history WHERE id <= ?', id - Math.max(1, keep));
    return frame;
  }

  /**
   * The kept frames after `afterId` (all when undefined), oldest first: the newest that fit in `budget` UTF-8 bytes
   * (each counted with a separating comma). `missed`: a frame after `afterId` is not among them (dropped from the
   * history, wiped with it, or left out to fit), or `afterId` is past the last id given (never given here, or given
   * before ids outlived a wipe: what came since cannot be told).
   */
  since(afterId: number | undefined, budget: number): { frames: string[]; missed: boolean } {
    const rows = this.#sql.exec<{ id: number; frame: string; bytes: number }>('SELECT id, frame, length(CAST(frame AS BLOB)) AS bytes FROM history WHERE id > ? ORDER BY id DESC', afterId ?? 0).toArray();
    const kept: typeof rows = [];
    let used = 0;
    for (const row of rows) {
      used += Number(row.bytes) + 1;
      if (used > budget) break;
      kept.push(row);
    }
    const frames = kept.map((row) => row.frame).reverse();
    if (afterId === undefined) return { frames, missed: false };
    // Ids were given without gaps up to the last one, so nothing is missed only if the oldest frame kept follows `afterId`.
    const last = this.#lastId();
    return { frames, missed: afterId > last || (afterId < last && kept.at(-1)?.id !== afterId + 1) };
  }

  /** Forgets everything but the directory's list and the last history id: history, tickets, pending presence and the last activity. */
  clear(): void {
    for (const table of ['history', 'tickets', 'presence_changes', 'activity']) this.#sql.exec(`DELETE FROM ${table}`);
  }

  /** Notes the room's last activity (a message stored, or its last member leaving). */
  touch(at: number): void {
    this.#sql.exec('INSERT INTO activity (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at', at);
  }

  /** When the room was last active, if it has kept anything since. */
  lastActivity(): number | undefined {
    return this.#sql.exec<{ at: number }>('SELECT at FROM activity').toArray()[0]?.at;
  }

  hasHistory(): boolean {
    return this.#sql.exec('SELECT 1 FROM history LIMIT 1').toArray().length > 0;
  }

  /** Directory: remembers a room name (again), with when. */
  track(name: string, at: number): void {
    this.#sql.exec('INSERT INTO rooms (name, tracked_at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET tracked_at = excluded.tracked_at', name, at);
  }

  /** Directory: forgets a room found empty, unless it was tracked again since `before` (a socket joined meanwhile). */
  untrack(name: string, before: number): void {
    this.#sql.exec('DELETE FROM rooms WHERE name = ? AND tracked_at < ?', name, before);
  }

  rooms(): string[] {
    return this.#sql.exec<{ name: string }>('SELECT name FROM rooms').toArray().map((row) => row.name);
  }

  /**
   * Presence (protocol v2): keeps a join (`member` as JSON) or a leave (null) until the next flush, so a change
   * survives an eviction in between. Answers whether it is the first one pending (the caller then sets the alarm).
   */
  addPresenceChange(connectionId: string, member: string | null): boolean {
    const first = this.#sql.exec<{ n: number }>('SELECT count(*) AS n FROM presence_changes').one().n === 0;
    this.#sql.exec('INSERT INTO presence_changes (connection_id, member) VALUES (?, ?)', connectionId, member);
    return first;
  }

  /** Whether presence changes wait for a flush (a new change must queue behind them to keep the order). */
  hasPresenceChanges(): boolean {
    return this.#sql.exec('SELECT 1 FROM presence_changes LIMIT 1').toArray().length > 0;
  }

  /**
   * Takes the pending presence changes, coalesced: a connection that joined and left since the last flush is in neither
   * list, nor is a join of a connection `isOpen` rejects (these rows outlive a restart, which drops every socket).
   */
  takePresenceChanges(isOpen: (connectionId: string) => boolean = () => true): { joined: string[]; left: string[] } {
    const rows = this.#sql.exec<{ seq: number; connection_id: string; member: string | null }>('DELETE FROM presence_changes RETURNING seq, connection_id, member').toArray();
    const joined = new Map<string, string>();
    const left: string[] = [];
    for (const row of rows.sort((a, b) => Number(a.seq) - Number(b.seq))) {
      if (row.member !== null) joined.set(row.connection_id, row.member);
      else if (!joined.delete(row.connection_id)) left.push(row.connection_id);
    }
    return { joined: [...joined].flatMap(([connectionId, member]) => (isOpen(connectionId) ? [member] : [])), left };
  }

  /** The last id given to a frame; a room stored before `last_id` existed has it only in its history. */
  #lastId(): number {
    return this.#sql.exec<{ last: number }>('SELECT max(coalesce((SELECT last FROM last_id), 0), coalesce((SELECT max(id) FROM history), 0)) AS last').one().last;
  }
}
