/**
 * THE event catalogue of outbound webhooks: audit action (`<entity>.<verb>`, written by the audit trigger,
 * src/db/sql/audit.sql) → event type. Every event is derived from an audit entry committed with its change,
 * so none is lost or invented; audit actions not listed here (e.g. `file.url_signed`, written by
 * app_audit_event) are not events: the fan-out skips them and its cursor moves past. README "Webhooks" lists it too.
 */
export const WEBHOOK_EVENT_CATALOGUE = {
  'organization.updated': { action: 'organization.updated', description: "The org's name or slug changed." },
  'organization.deleted': { action: 'organization.deleted', description: 'The org was deleted (its last event).' },
  'project.created': { action: 'project.created', description: 'A project was created.' },
  'project.updated': { action: 'project.updated', description: "A project's fields changed." },
  'project.deleted': { action: 'project.deleted', description: 'A project was deleted.' },
  'member.added': { action: 'membership.created', description: 'A user joined the org (`data.id` is the user).' },
  'member.role_changed': { action: 'membership.updated', description: "A member's org role changed." },
  'member.removed': { action: 'membership.deleted', description: 'A member left or was removed.' },
  'project_member.added': { action: 'project_member.created', description: 'A member got a role on a project.' },
  'project_member.role_changed': { action: 'project_member.updated', description: "A member's project role changed." },
  'project_member.removed': { action: 'project_member.deleted', description: "A member's project role was removed." },
  'invitation.created': { action: 'invitation.created', description: 'Someone was invited (email masked).' },
  'invitation.accepted': { action: 'invitation.accepted', description: 'An invitation was accepted.' },
  'invitation.revoked': { action: 'invitation.revoked', description: 'An invitation was revoked.' },
  'api_key.created': { action: 'api_key.created', description: 'An API key was created (never its secret).' },
  'api_key.rotated': { action: 'api_key.rotated', description: "An API key's secret was rotated." },
  'api_key.revoked': { action: 'api_key.revoked', description: 'An API key was revoked.' },
  'webhook_endpoint.created': { action: 'webhook_endpoint.created', description: 'A webhook endpoint was created (URL and secret redacted).' },
  'webhook_endpoint.updated': { action: 'webhook_endpoint.updated', description: 'A webhook endpoint changed, was rotated or was disabled.' },
  'webhook_endpoint.deleted': { action: 'webhook_endpoint.deleted', description: 'A webhook endpoint was deleted.' },
  // A file row is created pending (multipart, signed upload URL) or ready (a simple upload), and becomes ready
  // later, so these two are the entries whose `changes` say so (`match`, see WEBHOOK_EVENT_RULES).
  'file.stored': {
    action: 'file.created',
    match: { status: 'ready' },
    description: 'A file was stored: its bytes are in R2 and passed every check (`changes` hold its name, size, type and SHA-256).',
  },
  'file.deleted': {
    action: 'file.deleted',
    match: { deleted_at: { from: null } },
    description: 'A stored file was deleted (its bytes are removed after the retention period); aborted uploads are not events.',
  },
} as const;

export type WebhookEventType = keyof typeof WEBHOOK_EVENT_CATALOGUE;
export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_EVENT_CATALOGUE) as [WebhookEventType, ...WebhookEventType[]];

/** Sent only by "send test event"; not derived from the audit log, and sent whatever the endpoint subscribes to. */
export const TEST_EVENT_TYPE = 'webhook.test';

/**
 * The fan-out's rules: an audit entry of `action` whose `changes` contain `match` (jsonb `@>`; `{}` always) is an
 * event of `event_type`. A file stored after it was created pending is its `file.updated` entry that made it ready.
 */
export const WEBHOOK_EVENT_RULES: ReadonlyArray<{ action: string; event_type: WebhookEventType; match: object }> = [
  ...Object.entries(WEBHOOK_EVENT_CATALOGUE).map(([type, entry]) => ({ action: entry.action, event_type: type as WebhookEventType, match: 'match' in entry ? entry.match : {} })),
  { action: 'file.updated', event_type: 'file.stored', match: { status: { to: 'ready' } } },
];

/**
 * Svix's retry schedule: the delay before each attempt after the first (which is immediate): 5 s, 5 min,
 * 30 min, 2 h, 5 h, 10 h, 10 h — eight attempts over about 27.6 hours, then the message is dead-lettered.
 */
export const WEBHOOK_RETRY_DELAYS_SECONDS = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000] as const;
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_DELAYS_SECONDS.length + 1;

/** An endpoint failing without a single success for this long is disabled, and the org's admins emailed. */
export const WEBHOOK_DISABLE_AFTER_MS = 5 * 86_400_000;

/** How much of a receiver's response body the delivery log keeps. */
export const WEBHOOK_RESPONSE_KEPT_BYTES = 1_024;
