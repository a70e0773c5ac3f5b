import { ticketActor, type TicketActor } from './room.schemas.ts';

/**
 * A room's storage (SQLite-backed: the class was created with `new_sqlite_classes`): connect tickets, the
 * recent history, and — in an org's directory object — the names of the org's rooms. Every method is
 * synchronous, so each one is atomic inside the object (a ticket is redeemed once, history ids never repeat).
 */
export class RoomStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec('CREATE TABLE IF NOT EXISTS tickets (hash TEXT PRIMARY KEY, actor TEXT NOT NULL, expires_at INTEGER NOT NULL)');
    sql.exec('CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY, frame TEXT NOT NULL)');
    sql.exec('CREATE TABLE IF NOT EXISTS rooms (name TEXT PRIMARY KEY, tracked_at INTEGER NOT NULL)');
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
    const last = this.#sql.exec<{ id: number | null }>('SELECT max(id) AS id FROM history').one().id ?? 0;
    const id = last + 1;
    const frame = build(id);
    this.#sql.exec('INSERT INTO history (id, frame) VALUES (?, ?)', id, frame);
    this.#sql.exec('DELETE FROM history WHERE id <= ?', id - Math.max(1, keep));
    return frame;
  }

  /** The kept frames after `afterId` (all when undefined), oldest first, and whether older ones were already dropped. */
  since(afterId: number | undefined): { frames: string[]; missed: boolean } {
    const from = afterId ?? 0;
    const frames = this.#sql.exec<{ frame: string }>('SELECT frame FROM history WHERE id > ? ORDER BY id', from).toArray().map((row) => row.frame);
    const oldest = this.#sql.exec<{ id: number | null }>('SELECT min(id) AS id FROM history').one().id;
    return { frames, missed: afterId !== undefined && oldest !== null && oldest > afterId + 1 };
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
}
