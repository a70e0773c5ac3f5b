import { z } from 'zod';
import type { BackoffPolicy } from './failure-backoff.ts';
import type { LimitRule } from './sliding-log.ts';

// The one table of what an org may do, by subscription tier: request rates per route class and quotas on
// what it may create. Platform admins override single figures per org (organizations.limit_overrides).

export const TIERS = ['free', 'pro', 'enterprise'] as const;
export type Tier = (typeof TIERS)[number];

/**
 * Every route declares one class (published as `x-rate-limit-class`): `read` and `write` for data,
 * `auth` for the anonymous sign-in flows (limited per client IP), `upload` for streamed bodies, `admin`
 * for org administration and the platform's own routes, `download` for signed file downloads (anonymous:
 * limited per client IP).
 */
export const ROUTE_CLASSES = ['read', 'write', 'auth', 'upload', 'admin', 'download'] as const;
export type RouteClass = (typeof ROUTE_CLASSES)[number];

/** The classes of routes inside an org, limited per org by its tier (`auth` routes are anonymous: limited per IP). */
export const ORG_ROUTE_CLASSES = ['read', 'write', 'upload', 'admin'] as const satisfies readonly RouteClass[];
export type OrgRouteClass = (typeof ORG_ROUTE_CLASSES)[number];

/** Every limit counts requests in a sliding window of this length. */
export const RATE_WINDOW_SECONDS = 60;

/**
 * The largest per-minute figure of one limit (one class of an org, or of a caller): ≈ 833/s, within what one
 * Durable Object serialises (~1,000 requests/s). Per class, not per object: an org's authority counts its four
 * classes and its callers' own entries in one object, so all of them at the cap could ask more of it.
 */
export const MAX_RATE_LIMIT = 50_000;

/** Requests per minute per org and route class, by tier (the product's reference figures in the `pro` row). */
export const RATE_LIMITS: Readonly<Record<Tier, Readonly<Record<OrgRouteClass, number>>>> = {
  free: { read: 300, write: 100, upload: 30, admin: 60 },
  pro: { read: 1_000, write: 500, upload: 120, admin: 300 },
  enterprise: { read: 5_000, write: 2_500, upload: 600, admin: 1_000 },
};

/**
 * Requests per minute of one caller (a user, whatever the session; an API key) on an org's routes, beside the org's
 * own limit (RATE_LIMITS), so one caller cannot spend a large org's whole budget. Platform admins override them per
 * org (`callerRateLimits`), as the org's own figures.
 */
export const ORG_CALLER_RATE_LIMITS: Readonly<Record<OrgRouteClass, number>> = { read: 1_000, write: 500, upload: 120, admin: 300 };

/**
 * Requests per minute for callers outside any org: a signed-in user (or API key) on routes of no org (the same
 * figures as inside one), an anonymous client IP. A class without a figure is not limited for that caller:
 * anonymous reads (liveness, readiness, which is cached, JWKS, the OpenAPI document) are cheap, and probes must
 * never be throttled.
 */
export const CALLER_RATE_LIMITS: Readonly<Record<'user' | 'ip', Readonly<Partial<Record<RouteClass, number>>>>> = {
  user: { ...ORG_CALLER_RATE_LIMITS, auth: 60 },
  ip: { write: 120, auth: 30, upload: 30, admin: 60, download: 600 },
};

const DAY_MS = 86_400_000;

/**
 * Log-in throttles: after `freeFailures` consecutive failures, each next attempt waits 1 s, 2 s, 4 s … up to
 * 15 min. Per account (a success starts it again) and per client IP, which allows more failures because
 * many people may share one address (an office, a carrier's NAT).
 */
export const LOGIN_BACKOFF: Readonly<Record<'account' | 'ip', BackoffPolicy>> = {
  account: { freeFailures: 5, baseDelayMs: 1_000, maxDelayMs: 900_000, forgetAfterMs: DAY_MS },
  ip: { freeFailures: 20, baseDelayMs: 1_000, maxDelayMs: 900_000, forgetAfterMs: DAY_MS },
};

/** Emails one address may be sent by one flow (password reset, verification resend): 1 a minute and 5 an hour. */
export const EMAIL_SEND_LIMITS: readonly LimitRule[] = [
  { key: 'minute', limit: 1, windowMs: 60_000 },
  { key: 'hour', limit: 5, windowMs: 3_600_000 },
];

/**
 * Org-route requests per minute that one caller (a session or an API key) may send whose grant the org's edge
 * authority does not hold, each of which costs a Postgres round trip: cycling through made-up org or project
 * ids stops here. Warm requests do not count.
 */
export const COLD_ADMISSIONS_PER_MINUTE = 1_000;

export const QUOTA_RESOURCES = ['projects', 'members', 'apiKeys'] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];

/** How many of each resource an org may hold, by tier (members count pending invitations too). */
export const QUOTAS: Readonly<Record<Tier, Readonly<Record<QuotaResource, number>>>> = {
  free: { projects: 10, members: 10, apiKeys: 10 },
  pro: { projects: 100, members: 100, apiKeys: 100 },
  enterprise: { projects: 10_000, members: 10_000, apiKeys: 1_000 },
};

/** Files (src/routes/files): the largest single file and the bytes an org may store, by tier. */
export type FileLimits = { maxUploadBytes: number; storageBytes: number };
export const FILE_LIMITS: Readonly<Record<Tier, FileLimits>> = {
  free: { maxUploadBytes: 25 * 2 ** 20, storageBytes: 2 ** 30 },
  pro: { maxUploadBytes: 2 ** 30, storageBytes: 100 * 2 ** 30 },
  enterprise: { maxUploadBytes: 5 * 2 ** 30, storageBytes: 2 ** 40 },
};

/** Multipart uploads: R2's smallest part (all but the last), its largest, and how many parts one file may have. */
export const MULTIPART = { minPartBytes: 5 * 2 ** 20, maxPartBytes: 100 * 2 ** 20, maxParts: 10_000 } as const;

/**
 * The largest file any configuration can take (52,428,800,000 bytes, about 48.8 GiB), the bound of a `maxUploadBytes` override: a file is at
 * most MULTIPART.maxParts parts, and a part no larger than one request may carry, which MAX_REQUEST_BODY_BYTES
 * may set as low as MULTIPART.minPartBytes (src/config.ts).
 */
export const MAX_FILE_BYTES = MULTIPART.maxParts * MULTIPART.minPartBytes;

/**
 * An optional figure per key, any other key refused. A strict object rather than `z.partialRecord`, so the
 * OpenAPI document says so too (`additionalProperties: false`).
 */
function figures<K extends string>(keys: readonly K[], figure: z.ZodInt) {
  return z.strictObject(Object.fromEntries(keys.map((key) => [key, figure.optional()])) as Record<K, z.ZodOptional<z.ZodInt>>);
}

/**
 * The file figures (FILE_LIMITS) an override may set: the largest single file is bounded by what the platform can
 * carry (MAX_FILE_BYTES), the storage by what a JavaScript number holds exactly (z.int() is a safe integer).
 */
const fileOverridesSchema = z.strictObject({
  maxUploadBytes: z.int().min(1).max(MAX_FILE_BYTES).optional(),
  storageBytes: z.int().min(1).optional(),
});

/** Per-org overrides of single figures, set by platform admins at runtime; stored as organizations.limit_overrides. */
export const limitOverridesSchema = z
  .object({
    rateLimits: figures(ORG_ROUTE_CLASSES, z.int().min(0).max(MAX_RATE_LIMIT)).optional(),
    callerRateLimits: figures(ORG_ROUTE_CLASSES, z.int().min(0).max(MAX_RATE_LIMIT)).optional(),
    quotas: figures(QUOTA_RESOURCES, z.int().min(0).max(1_000_000)).optional(),
    files: fileOverridesSchema.optional(),
  })
  .strict();
export type LimitOverrides = z.infer<typeof limitOverridesSchema>;

/**
 * An org's effective limits: its tier's row with its overrides applied. app_check_storage and
 * app_orgs_near_storage_quota (src/db/sql/) apply `files.storageBytes` the same way.
 */
export function effectiveLimits(tier: Tier, overrides: LimitOverrides = {}) {
  return {
    rateLimits: { ...RATE_LIMITS[tier], ...overrides.rateLimits } as Record<OrgRouteClass, number>,
    callerRateLimits: { ...ORG_CALLER_RATE_LIMITS, ...overrides.callerRateLimits } as Record<OrgRouteClass, number>,
    quotas: { ...QUOTAS[tier], ...overrides.quotas } as Record<QuotaResource, number>,
    files: { ...FILE_LIMITS[tier], ...overrides.files } as FileLimits,
  };
}

/**
 * Realtime rooms (durable-objects/room): what one room and one connection may do. A violation closes the
 * socket with the close code the README lists (1009 too big, 1008 too fast, 1013 room full).
 */
export const ROOM_LIMITS = {
  /** Open sockets per room; the next one is accepted and closed at once with 1013 (try again later). */
  connectionsPerRoom: 2_000,
  /** Largest text frame a client may send, in UTF-8 bytes (also bounds a server event's data, as JSON: `publish` refuses more). */
  messageBytes: 16_384,
  /** Frames a connection may send per second; one more closes it with 1008. Counted across hibernation. */
  messagesPerSecond: 20,
  /** Broadcasts and server events kept in the room's storage and replayed on hello. */
  historyMessages: 100,
  /**
   * The largest hello, in UTF-8 bytes: its history is cut, oldest first, to fit (100 broadcasts of 16 KiB would make
   * 1.6 MB). 1 MiB was Cloudflare's documented limit on a WebSocket message a Worker receives (32 MiB today) and is a
   * common default of WebSocket clients and proxies; every other frame the room sends is far smaller.
   */
  helloBytes: 1_048_576,
  /** A room nobody is in forgets its history this long after its last message or member (a deleted org's rooms too). */
  historyIdleMs: 30 * 24 * 60 * 60 * 1000,
  /** How long a connect ticket is valid, and it is valid once. */
  ticketTtlMs: 30_000,
  /** Frames the whole room may deliver per second (a broadcast to N sockets costs N); past it a client frame gets `ROOM_BUSY`. */
  roomDeliveriesPerSecond: 50_000,
  /** Protocol v2: up to this many sockets, presence changes are sent at once; above, coalesced into one frame per flush. */
  presenceImmediateMax: 50,
  /** Protocol v2: how often coalesced presence changes are flushed (a storage alarm, which does not prevent hibernation). */
  presenceFlushMs: 1_000,
  /** Protocol v2: members per presence page (hello, `members` answers) and per list in a presence change. */
  presencePage: 100,
} as const;

/** How long an unfinished upload (multipart, signed URL) holds its reservation, and a deleted file its object. */
export const FILE_RETENTION = { pendingSeconds: 86_400, deletedSeconds: 7 * 86_400 } as const;

/** Signed URLs live 1 s – 7 days (default 15 min). */
export const SIGNED_URL_SECONDS = { default: 900, max: 7 * 86_400 } as const;
/** Webhook endpoints one org may hold, whatever its tier (src/db/sql/webhooks.sql refuses more with QUOTA_EXCEEDED). */
export const WEBHOOK_ENDPOINTS_PER_ORG = 20;
/**
 * The largest request body Cloudflare lets through to a Worker on the Free and Pro plans ("100 MB", read as the
 * smaller decimal figure; Business 200 MB, Enterprise 500 MB): the default of MAX_REQUEST_BODY_BYTES. One upload
 * request (a simple upload, a signed upload URL, a part) carries at most this; a larger file goes multipart.
 */
export const REQUEST_BODY_MAX_BYTES = 100_000_000;
/** Text files are checked as UTF-8 byte by byte in JavaScript (binary types only by their first bytes), so they are capped lower, whatever the tier. */
export const TEXT_FILE_MAX_BYTES = 32 * 2 ** 20;

/**
 * Usage analytics (README, "Usage analytics"). API usage is buffered per isolate and sent to the queue after
 * `flushMs` or at `bufferEvents` events, whichever comes first: the most an isolate that dies can lose. A product
 * events request takes 1–`eventsPerRequest` events, each a `name` and up to `propertiesPerEvent` properties.
 */
export const USAGE_LIMITS = {
  /** The fewest full months of raw events kept: USAGE_RETENTION_MONTHS' minimum, and app_usage_drop_partitions' floor. */
  retentionMinMonths: 3,
  flushMs: 1_000,
  bufferEvents: 500,
  eventsPerRequest: 100,
  propertiesPerEvent: 20,
  propertyValueChars: 256,
  /** A series (`GET /orgs/{orgId}/usage?from=&to=`) covers at most this many days. */
  seriesDays: 366,
  /** Bytes of events per queue message, and per `sendBatch` (Queues: 128 KB a message, 256 KB a batch). */
  messageBytes: 100_000,
  batchBytes: 200_000,
} as const;
