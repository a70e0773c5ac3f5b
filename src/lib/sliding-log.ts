/**
 * The exact rate limiter: a sliding-window LOG over a Durable Object's SQLite storage.
 *
 * For a rule {key, limit, windowMs} a request is admitted iff fewer than `limit` units were admitted under
 * `key` in the last `windowMs`, so at most `limit` are admitted in ANY window of that length (not just in
 * aligned ones, as a fixed window would; not approximately, as a sliding-window counter would).
 * The log holds one entry per admitted unit: the moment it leaves the window. Only the newest `limit`
 * entries can ever decide anything, so a key's log never holds more (memory and storage stay bounded).
 *
 * `consume` is synchronous from check to record (the storage API is synchronous), so requests an object
 * serves concurrently cannot interleave inside it: that, not a lock, is what makes the count exact.
 * The in-memory mirror only saves reads; every admitted unit is written to storage before `consume`
 * returns, so an evicted or restarted object reloads its logs and keeps counting.
 * @module
 */
import type { SqlStore } from './sql-store.ts';

/** One limit: at most `limit` units per `windowMs` under `key` (a name within the object, e.g. `read`). */
export interface LimitRule {
  key: string;
  limit: number;
  windowMs: number;
}

/** The answer to one `consume`, shaped for the RateLimit headers and Retry-After. */
export interface LimitDecision {
  allowed: boolean;
  /** The limit of the tightest rule (the one with the fewest remaining). */
  limit: number;
  /** Units that rule has left after this request. */
  remaining: number;
  /** Ms until that rule regains a unit (its oldest entry leaves the window); its window when it holds none. */
  resetMs: number;
  /** 0 when allowed; else ms until every refusing rule has room for the request's cost. */
  retryAfterMs: number;
  /** On a refusal, each rule that refused: its key, its limit and the wait until it has room. */
  refusedBy?: Array<{ key: string; limit: number; retryAfterMs: number }>;
}

const PRUNE_EVERY_MS = 1_000;

/** A queue of expiry times, oldest first; removing from the front is O(1) (Array#shift is not, at 50,000). */
class ExpiryQueue {
  private items: number[];
  private head = 0;
  /** When expired entries were last deleted from storage. */
  prunedAt = 0;

  constructor(items: number[]) {
    this.items = items;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  /** The i-th oldest entry (0 = oldest). */
  at(index: number): number {
    return this.items[this.head + index] ?? Number.POSITIVE_INFINITY;
  }

  /** Drops entries that have left the window by `now`; returns how many. */
  expire(now: number): number {
    const start = this.head;
    while (this.head < this.items.length && this.at(0) <= now) this.head += 1;
    this.compact();
    return this.head === start ? 0 : this.head - start;
  }

  /** Keeps only the newest `count` entries; returns how many were dropped. */
  keepNewest(count: number): number {
    const dropped = Math.max(0, this.size - count);
    this.head += dropped;
    this.compact();
    return dropped;
  }

  push(until: number, count: number): void {
    for (let i = 0; i < count; i += 1) this.items.push(until);
  }

  private compact(): void {
    if (this.head > 1_024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

interface RuleState {
  rule: LimitRule;
  log: ExpiryQueue;
}

const isCount = (value: number, min: number) => Number.isSafeInteger(value) && value >= min;

/** Throws on rules no limit can mean: callers validate at their boundary; this guards the algorithm itself. */
function assertValid(rules: readonly LimitRule[], cost: number): void {
  if (!Array.isArray(rules) || rules.length === 0) throw new RangeError('at least one rule is required');
  if (!isCount(cost, 1)) throw new RangeError('cost must be a positive integer');
  const keys = new Set<string>();
  for (const rule of rules) {
    if (typeof rule.key !== 'string' || rule.key === '') throw new RangeError('a rule key must be a non-empty string');
    if (!isCount(rule.limit, 0) || !isCount(rule.windowMs, 1)) throw new RangeError(`invalid rule ${rule.key}`);
    if (keys.has(rule.key)) throw new RangeError(`rule key ${rule.key} appears twice`);
    keys.add(rule.key);
  }
}

/** The sliding logs of one Durable Object (see the module comment). Create one per object, in its constructor. */
export class SlidingLog {
  private readonly sql: SqlStore;
  private readonly logs = new Map<string, ExpiryQueue>();

  constructor(sql: SqlStore) {
    this.sql = sql;
    sql.exec('CREATE TABLE IF NOT EXISTS sliding_log (key TEXT NOT NULL, until INTEGER NOT NULL)');
    sql.exec('CREATE INDEX IF NOT EXISTS sliding_log_key_until ON sliding_log (key, until)');
    // For the sweep, which deletes by time across keys.
    sql.exec('CREATE INDEX IF NOT EXISTS sliding_log_until ON sliding_log (until)');
  }

  /**
   * Admits `cost` units under every rule, or under none (all or nothing): a request refused by one rule
   * spends nothing of the others. `limit: 0` always refuses. `now` is the caller's clock in ms.
   */
  consume(rules: readonly LimitRule[], now: number, cost = 1): LimitDecision {
    assertValid(rules, cost);
    const states: RuleState[] = rules.map((rule) => ({ rule, log: this.logFor(rule, now) }));
    const refused = states.filter(({ rule, log }) => log.size + cost > rule.limit);
    if (refused.length === 0) for (const state of states) this.record(state, now, cost);

    const waits = refused.map(({ rule, log }) => ({ key: rule.key, limit: rule.limit, retryAfterMs: roomInMs(rule, log, now, cost) }));
    const retryAfterMs = Math.max(0, ...waits.map((wait) => wait.retryAfterMs));
    const tightest = states
      .map(({ rule, log }) => ({
        limit: rule.limit,
        remaining: Math.max(0, rule.limit - log.size),
        resetMs: log.size > 0 ? log.at(0) - now : rule.windowMs,
      }))
      .reduce((a, b) => (b.remaining < a.remaining || (b.remaining === a.remaining && b.resetMs > a.resetMs) ? b : a));
    if (refused.length === 0) return { allowed: true, ...tightest, retryAfterMs };
    return { allowed: false, ...tightest, retryAfterMs, refusedBy: waits };
  }

  /**
   * Deletes every entry that has left its window, in memory and in storage (for an alarm: keys nobody
   * asks about again are otherwise never pruned). Returns when the last remaining entry leaves, if any.
   */
  sweep(now: number): number | undefined {
    this.sql.exec('DELETE FROM sliding_log WHERE until <= ?', now);
    for (const [key, log] of this.logs) {
      log.expire(now);
      if (log.size === 0) this.logs.delete(key);
    }
    const { last } = this.sql.exec<{ last: number | null }>('SELECT max(until) AS last FROM sliding_log').one();
    return last ?? undefined;
  }

  /** The key's live log: from memory, else loaded from storage (after an eviction or restart). */
  private logFor(rule: LimitRule, now: number): ExpiryQueue {
    let log = this.logs.get(rule.key);
    if (!log) {
      const rows = this.sql
        .exec<{ until: number }>('SELECT until FROM sliding_log WHERE key = ? AND until > ? ORDER BY until DESC LIMIT ?', rule.key, now, rule.limit)
        .toArray();
      log = new ExpiryQueue(rows.map((row) => row.until).reverse());
      this.logs.set(rule.key, log);
    } else if (log.expire(now) > 0 && now >= log.prunedAt + PRUNE_EVERY_MS) {
      // Storage is pruned at most once a second per key (reads skip expired rows anyway): one write per
      // admitted request, not two, on a busy key.
      this.sql.exec('DELETE FROM sliding_log WHERE key = ? AND until <= ?', rule.key, now);
      log.prunedAt = now;
    }
    // A lowered limit: the newest `limit` entries decide alone, so older ones are dropped, not kept forever.
    const dropped = log.keepNewest(rule.limit);
    if (dropped > 0) {
      // By row, oldest first: entries admitted in one instant share their `until`, so a time bound cannot tell them apart.
      this.sql.exec('DELETE FROM sliding_log WHERE rowid IN (SELECT rowid FROM sliding_log WHERE key = ? ORDER BY until, rowid LIMIT ?)', rule.key, dropped);
    }
    return log;
  }

  private record({ rule, log }: RuleState, now: number, cost: number): void {
    const until = now + rule.windowMs;
    log.push(until, cost);
    for (let i = 0; i < cost; i += 1) this.sql.exec('INSERT INTO sliding_log (key, until) VALUES (?, ?)', rule.key, until);
  }
}

/** Ms until `log` has room for `cost` more units under `rule`: until enough of its oldest entries leave. */
function roomInMs(rule: LimitRule, log: ExpiryQueue, now: number, cost: number): number {
  // A request costing more than the limit never fits: answer a whole window rather than "never".
  if (cost > rule.limit) return rule.windowMs;
  return Math.max(1, log.at(log.size - rule.limit + cost - 1) - now);
}

/** The part of a Durable Object's `ctx.storage` a self-sweeping log uses (by shape, as `SqlStore`). */
export interface LogStorage {
  sql: SqlStore;
  setAlarm(time: number): Promise<void>;
}

/**
 * The sliding logs of an edge authority, which clean up after themselves: made on first use (an authority that
 * never counts writes nothing to storage), with an alarm that deletes the entries that have left their window, so
 * callers gone quiet leave nothing behind. The object's `alarm()` calls `sweep`.
 */
export class SweptSlidingLog {
  private readonly storage: LogStorage;
  private log: SlidingLog | undefined;
  /** When the sweep alarm is set to fire, as far as this instance knows (unknown after a restart). */
  private sweepAt: number | undefined;

  constructor(storage: LogStorage) {
    this.storage = storage;
  }

  /** As `SlidingLog.consume`; an admitted request makes sure an alarm will sweep its entries. */
  consume(rules: readonly LimitRule[], now: number): LimitDecision {
    const decision = this.opened().consume(rules, now);
    if (decision.allowed) this.sweepBy(now + Math.max(...rules.map((rule) => rule.windowMs)));
    return decision;
  }

  /** Deletes the entries that have left their window; comes back for the rest. */
  sweep(now: number): void {
    this.sweepAt = undefined;
    const next = this.opened().sweep(now);
    if (next !== undefined && next > now) this.sweepBy(next);
  }

  private opened(): SlidingLog {
    this.log ??= new SlidingLog(this.storage.sql);
    return this.log;
  }

  /** A set alarm re-arms itself for what remains, so only an instance that knows of none sets one; a failed set leaves none, and the next count tries again. */
  private sweepBy(time: number): void {
    if (this.sweepAt !== undefined) return;
    this.sweepAt = time;
    this.storage.setAlarm(time).catch(() => {
      this.sweepAt = undefined;
    });
  }
}
