/**
 * Growing delays after consecutive failures (log-in throttling), over a Durable Object's SQLite storage.
 *
 * After `freeFailures` consecutive failures under a key, each next attempt must wait `baseDelayMs`, then
 * twice that, and so on up to `maxDelayMs`, counted from the latest failure. A key untouched for
 * `forgetAfterMs` starts again from zero.
 *
 * An attempt is counted as a failure when it is ADMITTED, before the password is even checked, and taken
 * back (`forgive`) or wiped (`reset`) when it succeeds. Counting afterwards would let a thousand concurrent
 * guesses all pass the check before the first failure was recorded; counting first, in one synchronous
 * step, makes the throttle hold under any concurrency.
 * @module
 */
import type { SqlStore, SqlValue } from './sql-store.ts';

/** How a throttle grows: its figures live with the other limits (src/lib/limits.ts). */
export interface BackoffPolicy {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  forgetAfterMs: number;
}

export interface BackoffDecision {
  allowed: boolean;
  /** Consecutive failures counted, this attempt included when it was admitted. */
  failures: number;
  /** 0 when allowed; else ms until the next attempt may be made. */
  retryAfterMs: number;
}

interface FailureRow extends Record<string, SqlValue> {
  failures: number;
  last_at: number;
  forget_at: number;
}

/** The delay owed after `failures` consecutive failures under `policy`. */
export function backoffDelayMs(policy: BackoffPolicy, failures: number): number {
  if (failures < policy.freeFailures) return 0;
  // 2 ** 40 already exceeds any cap: bounding the exponent keeps the arithmetic finite.
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(failures - policy.freeFailures, 40));
}

/** The failure counters of one Durable Object. Create one per object, in its constructor. */
export class FailureBackoff {
  private readonly sql: SqlStore;

  constructor(sql: SqlStore) {
    this.sql = sql;
    sql.exec('CREATE TABLE IF NOT EXISTS failure_backoff (key TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_at INTEGER NOT NULL, forget_at INTEGER NOT NULL)');
  }

  /** Admits an attempt (and counts it as a failure until forgiven) or refuses it, recording nothing. */
  attempt(key: string, policy: BackoffPolicy, now: number): BackoffDecision {
    const row = this.live(key, now);
    const failures = row?.failures ?? 0;
    const waitMs = row ? row.last_at + backoffDelayMs(policy, failures) - now : 0;
    if (waitMs > 0) return { allowed: false, failures, retryAfterMs: waitMs };
    this.sql.exec(
      `INSERT INTO failure_backoff (key, failures, last_at, forget_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at, forget_at = excluded.forget_at`,
      key,
      failures + 1,
      now,
      now + policy.forgetAfterMs,
    );
    return { allowed: true, failures: failures + 1, retryAfterMs: 0 };
  }

  /** Takes back one admitted attempt that succeeded (a shared address keeps only its real failures). */
  forgive(key: string): void {
    this.sql.exec('UPDATE failure_backoff SET failures = max(0, failures - 1) WHERE key = ?', key);
  }

  /** Clears the key: a success starts the account's count again. */
  reset(key: string): void {
    this.sql.exec('DELETE FROM failure_backoff WHERE key = ?', key);
  }

  /** Consecutive failures counted under the key now (0 once forgotten). */
  failures(key: string, now: number): number {
    return this.live(key, now)?.failures ?? 0;
  }

  /** Deletes forgotten counters; returns when the next remaining one is forgotten, if any (for an alarm). */
  sweep(now: number): number | undefined {
    this.sql.exec('DELETE FROM failure_backoff WHERE forget_at <= ?', now);
    const { last } = this.sql.exec<{ last: number | null }>('SELECT max(forget_at) AS last FROM failure_backoff').one();
    return last ?? undefined;
  }

  /** The key's counter unless it has been forgotten. */
  private live(key: string, now: number): FailureRow | undefined {
    return this.sql.exec<FailureRow>('SELECT failures, last_at, forget_at FROM failure_backoff WHERE key = ? AND forget_at > ?', key, now).toArray()[0];
  }
}
