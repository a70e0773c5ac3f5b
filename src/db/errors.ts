import { ApiError } from '../errors.ts';

/** SQLSTATEs raised by our own SQL (src/db/sql/) and Postgres errors a client can cause. */
const mapped: Record<string, () => ApiError> = {
  AP401: () => new ApiError('UNAUTHORIZED', 'Your credentials are no longer valid.'),
  AP403: () => new ApiError('FORBIDDEN', 'You do not have permission to do this.'),
  AP404: () => new ApiError('NOT_FOUND', 'Not found.'),
  AP409: () => new ApiError('CONFLICT', 'This conflicts with the current state.'),
  AP410: () => new ApiError('GONE', 'This has expired.'),
  '23505': () => new ApiError('CONFLICT', 'A resource with these values already exists.'),
};

/** The Postgres SQLSTATE behind an error, looking through drizzle's wrapper. */
export function sqlState(error: unknown): string | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    if ('code' in current && typeof current.code === 'string' && /^[0-9A-Z]{5}$/.test(current.code)) return current.code;
  }
  return undefined;
}

/** The HINT our SQL attaches to tell apart errors that share a SQLSTATE (e.g. `already_member`). */
export function sqlHint(error: unknown): string | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    if ('hint' in current && typeof current.hint === 'string') return current.hint;
  }
  return undefined;
}

/** The client error a database error stands for, or undefined if it is a server fault. */
export function apiErrorFromDatabase(error: unknown): ApiError | undefined {
  const state = sqlState(error);
  return state ? mapped[state]?.() : undefined;
}
