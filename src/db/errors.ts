import { z } from 'zod';
import { ApiError, quotaExceeded } from '../errors.ts';

/** SQLSTATEs raised by our own SQL (src/db/sql/) and Postgres errors a client can cause. */
const mapped: Record<string, (error: unknown) => ApiError> = {
  AP401: () => new ApiError('UNAUTHORIZED', 'Your credentials are no longer valid.'),
  AP403: () => new ApiError('FORBIDDEN', 'You do not have permission to do this.'),
  AP404: () => new ApiError('NOT_FOUND', 'Not found.'),
  AP409: () => new ApiError('CONFLICT', 'This conflicts with the current state.'),
  AP410: () => new ApiError('GONE', 'This has expired.'),
  // app_check_quota (src/db/sql/platform-orgs.sql) puts { resource, limit, used } in DETAIL.
  APQUO: (error) => quotaExceeded(quotaDetails(error)),
  // app_idempotency_claim (src/db/sql/idempotency.sql). APIDR (a stored answer) is replayed by middleware/idempotency.ts.
  APIDM: () => new ApiError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with another method, path or body.'),
  APIDU: () => new ApiError('IDEMPOTENCY_KEY_IN_USE', 'The first request with this Idempotency-Key has not answered yet.', undefined, { 'Retry-After': '1' }),
  APIDR: () => new ApiError('IDEMPOTENCY_KEY_IN_USE', 'The first request with this Idempotency-Key has answered.'),
  '23505': () => new ApiError('CONFLICT', 'A resource with these values already exists.'),
};

/**
 * SQLSTATEs that say "try again shortly", not "this request is wrong": the server went away or is
 * starting (57P01–57P03), it has no connection to spare (53300), a statement or lock timed out
 * (57014, 55P03), or the transaction lost a race and was rolled back whole (40001, 40P01).
 * The whole of class 08 (connection exception) is transient too.
 */
const transientStates = new Set(['57P01', '57P02', '57P03', '53300', '57014', '55P03', '40001', '40P01']);

/**
 * What the Neon driver says when no answer came back: `fetch` threw (connection refused, reset or lost;
 * a timeout) or Neon's edge answered 5xx / 429 without a Postgres error. The WebSocket driver (pg)
 * reports a dropped or refused connection in words, so those are matched by message.
 */
const transientMessages = [
  /^Error connecting to database/,
  /^Server error \(HTTP status (5\d\d|429)\)/,
  /Connection terminated/i,
  // pg refuses further queries on a client whose connection failed earlier (e.g. between two statements).
  /^Client has encountered a connection error/,
  /connection (refused|reset|lost|closed|timeout)/i,
  /timed? ?out/i,
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|fetch failed|Network connection lost/i,
  /WebSocket/i,
];

/** Walks an error and its causes (drizzle wraps the driver's error in `cause`). */
function* chain(error: unknown): Generator<Error> {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth++) yield current;
}

/**
 * The Postgres SQLSTATE behind an error, looking through drizzle's wrapper. Node's errno codes (`EPIPE`,
 * `EPERM`) have the same shape; no SQLSTATE class starts with `E`, so those are not taken for one.
 */
export function sqlState(error: unknown): string | undefined {
  for (const current of chain(error)) {
    if ('code' in current && typeof current.code === 'string' && /^[0-9A-Z]{5}$/.test(current.code) && !/^E[A-Z]{4}$/.test(current.code)) return current.code;
  }
  return undefined;
}

/** Whether `error` is a unique violation of `constraint` (looking through drizzle's wrapper). */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  if (sqlState(error) !== '23505') return false;
  for (const current of chain(error)) {
    if ('constraint' in current && current.constraint === constraint) return true;
  }
  return false;
}

/** The HINT our SQL attaches to tell apart errors that share a SQLSTATE (e.g. `already_member`). */
export function sqlHint(error: unknown): string | undefined {
  for (const current of chain(error)) {
    if ('hint' in current && typeof current.hint === 'string') return current.hint;
  }
  return undefined;
}

/** The DETAIL our SQL attaches, e.g. app_check_quota's JSON. */
export function sqlDetail(error: unknown): string | undefined {
  for (const current of chain(error)) {
    if ('detail' in current && typeof current.detail === 'string') return current.detail;
  }
  return undefined;
}

const quotaDetailSchema = z.object({ resource: z.string(), limit: z.int(), used: z.int() });

/** `{ resource, limit, used }` of a QUOTA_EXCEEDED; undefined if the DETAIL is not that (a bug, but not worth a 500). */
function quotaDetails(error: unknown) {
  try {
    return quotaDetailSchema.parse(JSON.parse(sqlDetail(error) ?? ''));
  } catch {
    return undefined;
  }
}

/**
 * Whether an error is a passing fault of the database or the way to it (worth retrying later), as
 * opposed to a bug in our SQL or a constraint we do not map, which stays a 500. An error that carries
 * a SQLSTATE is judged by it alone: Postgres answered, so the connection was fine.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  const state = sqlState(error);
  if (state) return state.startsWith('08') || transientStates.has(state);
  for (const current of chain(error)) {
    if (transientMessages.some((pattern) => pattern.test(current.message))) return true;
  }
  return false;
}

/** Seconds a client should wait before retrying after a transient database failure. */
export const RETRY_AFTER_SECONDS = 1;

/** The gate's refusal (what it raises as AP401, AP403, AP404), for an edge authority that answers for the gate. */
export function gateRefusal(status: 401 | 403 | 404): ApiError {
  return (mapped[`AP${status}`] as (error: unknown) => ApiError)(undefined);
}

/** Whether `error` is the gate refusing the caller's session (ended, or its user deactivated): AP401. */
export const isSessionRefusal = (error: unknown): boolean => sqlState(error) === 'AP401';

/** The client error a database error stands for, or undefined if it is a server fault. */
export function apiErrorFromDatabase(error: unknown): ApiError | undefined {
  if (isTransientDatabaseError(error)) {
    return new ApiError('SERVICE_UNAVAILABLE', 'The database is briefly unavailable. Retry shortly.', undefined, {
      'Retry-After': String(RETRY_AFTER_SECONDS),
    });
  }
  const state = sqlState(error);
  return state ? mapped[state]?.(error) : undefined;
}
