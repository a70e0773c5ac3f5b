import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from '@hono/zod-openapi';

/** Every error code the API can return, with its HTTP status. Codes are stable; messages may change. */
export const errorStatus = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  /** The org holds as many of a resource as its tier (or override) allows; nothing was created. */
  QUOTA_EXCEEDED: 403,
  /** A cookie-mode auth request without `X-CSRF: 1` or from an origin outside `CORS_ORIGINS` (routes/auth/token-delivery.ts). */
  CSRF_REJECTED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  /** An `Idempotency-Key` whose first request has not answered yet; retry after `Retry-After`. */
  IDEMPOTENCY_KEY_IN_USE: 409,
  GONE: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** A `Range` that starts past the end of a file. */
  RANGE_NOT_SATISFIABLE: 416,
  /** An `Idempotency-Key` sent again with another method, path or body. */
  IDEMPOTENCY_KEY_REUSED: 422,
  /** A notification category that cannot be turned off (security) set to `none`. */
  NOTIFICATION_REQUIRED: 422,
  /** A WebSocket route called without `Upgrade: websocket`. */
  UPGRADE_REQUIRED: 426,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof errorStatus;

/** The one exception type of the app: thrown anywhere, rendered by the app's onError into the envelope. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ErrorCode;
  readonly status: ContentfulStatusCode;
  readonly details: unknown;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message: string, details?: unknown, headers?: Record<string, string>) {
    super(message);
    this.code = code;
    this.status = errorStatus[code];
    this.details = details;
    this.headers = headers;
  }
}

/** The 403 of a create beyond one of the org's quotas, however it was found (Postgres's APQUO or a check before any byte). */
export const quotaExceeded = (details?: { resource: string; limit: number; used: number }) =>
  new ApiError('QUOTA_EXCEEDED', 'The organization holds as many of these as its plan allows.', details);

export const errorEnvelopeSchema = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      details: z.unknown().optional(),
      requestId: z.string(),
    }),
  })
  .openapi('Error');

export type ErrorEnvelope = z.infer<typeof errorEnvelopeSchema>;

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: errorEnvelopeSchema } },
});

/** Responses every route may produce; spread into each route's `responses`. */
export const commonErrorResponses = {
  400: errorResponse('The request is malformed or fails validation.'),
  429: {
    ...errorResponse(
      'Too many requests (`RATE_LIMITED`): `details` names the policy (`name`, `limit`, `windowSeconds`; on org routes also `scope`: `org`, the org’s limit, which holds every caller back, or `caller`, the caller’s own within the org) and `retryAfterSeconds`.',
    ),
    headers: {
      'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 1 } },
      'RateLimit-Policy': { description: 'The limit that refused the request (IETF draft-ietf-httpapi-ratelimit-headers).', schema: { type: 'string' } },
      RateLimit: { description: 'What is left of it and when it frees (IETF draft-ietf-httpapi-ratelimit-headers).', schema: { type: 'string' } },
    },
  },
  500: errorResponse('Unexpected server error.'),
  503: {
    ...errorResponse('The database is briefly unavailable (`SERVICE_UNAVAILABLE`); retry after `Retry-After` seconds.'),
    headers: { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 1 } } },
  },
} as const;

/** Responses of every authenticated route. */
export const authErrorResponses = {
  401: errorResponse('Missing, invalid or expired credentials.'),
  403: errorResponse('The caller lacks the permission (or the API key lacks the scope).'),
  404: errorResponse('Not found — including resources of organizations the caller does not belong to.'),
} as const;

/** The 403 of routes that create what an org's quota counts (projects, API keys, invitations). */
export const quotaErrorResponses = {
  403: errorResponse(
    'The caller lacks the permission (or the API key lacks the scope), or the organization already holds its quota of this resource ' +
      '(`QUOTA_EXCEEDED`, with `details: { resource, limit, used }`; nothing was created).',
  ),
} as const;

/** Responses of the writes that accept `Idempotency-Key` (middleware/idempotency.ts). */
export const idempotencyErrorResponses = {
  409: {
    ...errorResponse('A conflict with the current state, or (`IDEMPOTENCY_KEY_IN_USE`) the first request with this `Idempotency-Key` has not answered yet.'),
    headers: { 'Retry-After': { description: 'Seconds to wait before retrying (`IDEMPOTENCY_KEY_IN_USE`).', schema: { type: 'integer', minimum: 1 } } },
  },
  422: errorResponse('`IDEMPOTENCY_KEY_REUSED`: this `Idempotency-Key` was used with another method, path or body.'),
} as const;

/** Extra responses for routes that read a JSON body. */
export const bodyErrorResponses = {
  413: errorResponse('The body is larger than the configured limit.'),
  415: errorResponse('The body is not JSON.'),
} as const;

export { errorResponse };
