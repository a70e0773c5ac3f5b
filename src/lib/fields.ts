import { z } from '@hono/zod-openapi';
import { normaliseEmail } from './passwords.ts';

/**
 * The shared field and parameter schemas of the API: one rule per kind of input, written once, and
 * published in the OpenAPI document as the server applies it (a `pattern` where JSON Schema can say it).
 *
 * Patterns run without the `u` flag, so they see UTF-16 code units: `[\uD800-\uDBFF][\uDC00-\uDFFF]` is a
 * surrogate pair (one astral character) and a lone surrogate matches nothing. Postgres text holds
 * neither NUL nor lone surrogates, so refusing them here keeps such input a 400 instead of a database error.
 */

/** One line of text: no C0/C1 control character (NUL included), no lone surrogate, at least one non-space. */
export const LINE_PATTERN = /^(?=[\s\S]*\S)(?:[^\u0000-\u001F\u007F-\u009F\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;

/** Free text: like a line, but tab, line feed and carriage return are allowed, and it may be blank. */
export const TEXT_PATTERN = /^(?:[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;

/**
 * A one-line label (a name, a search term): at most `max` characters as sent, no control characters,
 * not blank; stored trimmed. The length is checked before trimming so the published `maxLength` is exact.
 */
export function lineField(max: number) {
  return z.string().max(max).regex(LINE_PATTERN, 'must be one line of visible text: not blank, no control characters').trim();
}

/** Multi-line free text (a description): at most `max` characters, no control characters but tab and line breaks. */
export function textField(max: number) {
  return z.string().max(max).regex(TEXT_PATTERN, 'must not contain control characters other than tab and line breaks');
}

/**
 * The email rule the server applies, published as the field's `pattern` (no `format: email`: that
 * format admits addresses such as `0@com`, which this rule refuses). It is zod's email rule, plus the
 * surrounding white space that is trimmed away: a dot-atom local part and a domain of LDH labels (letters,
 * digits and inner hyphens, 1–63 characters) ending in a top-level domain of 2–63 letters — so every address
 * it takes is also a valid `format: email`, which the responses publish.
 */
export const EMAIL_PATTERN = /^\s*(?!\.)(?!.*\.\.)[\w'+.-]*[\w+-]@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\s*$/;

/** An email address as typed; compared and stored normalised (trimmed, NFC, lower-case). */
export const emailField = z
  .string()
  .max(254)
  .regex(EMAIL_PATTERN, 'must be an email address such as ada@example.com')
  .transform(normaliseEmail)
  .openapi({ description: 'An email address; `pattern` is the exact rule. Compared case-insensitively.', example: 'ada@example.com' });

const EARLIEST = Date.parse('0001-01-01T00:00:00Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');
const YEAR_RANGE = 'must fall in the years 0001–9999 (UTC)';
const inRange = (text: string) => {
  const time = Date.parse(text);
  // An unparsable value already failed the format check: one issue is enough.
  return Number.isNaN(time) || (time >= EARLIEST && time <= LATEST);
};

/**
 * An ISO format bounded to the years 0001–9999 (UTC), the range both JavaScript and Postgres hold (year
 * 0000 is valid ISO 8601 and a 500 in Postgres). The published `pattern` is zod's own for the format
 * (upper-case `T` and `Z`, no leap second) with year 0000 excluded, so a client generating values from
 * the document produces only values the server takes; an offset that moves the instant out of range
 * is the one case only the description states.
 */
function bounded<T extends z.ZodStringFormat>(schema: T) {
  const pattern = schema._zod.def.pattern?.source.replace(/^\^/, '^(?!0000-)');
  return schema.refine(inRange, YEAR_RANGE).openapi({ pattern });
}

/** A date-time with `Z` or an offset (`2025-01-31T12:00:00+01:00`), years 0001–9999. */
export const dateTimeField = bounded(z.iso.datetime({ offset: true }));

/** A filter bound: an ISO date (`2025-01-31`, midnight UTC) or a date-time with `Z` or an offset. */
export const instantField = z.union([dateTimeField, bounded(z.iso.date())]);

/** A calendar day (`2025-01-31`, UTC), years 0001–9999. */
export const dayField = bounded(z.iso.date());

/** A timestamp inside a cursor: exact UTC text with microseconds, as `exactTimestamp` selects it. */
export const cursorTimestamp = bounded(z.iso.datetime({ precision: 6 }));

const uuid = z.uuid();

/**
 * An id in a request. zod accepts only RFC 9562 uuids (version 1–8, variant 10xx, or nil/max) while
 * `format: uuid` alone admits any 8-4-4-4-12 hex, so its exact pattern is published with it.
 */
export const idField = uuid.openapi({ pattern: uuid._zod.def.pattern?.source });

/** A uuid path parameter named `name`. */
export function pathId(name: string) {
  return idField.openapi({ param: { name, in: 'path' } });
}

/** `{orgId}`: the path parameters of every org-scoped route. */
export const orgParams = z.object({ orgId: pathId('orgId') });

/** A rotated secret's grace (API keys, webhook signing secrets): a day unless asked, at most a week. */
export const DEFAULT_GRACE_SECONDS = 86_400;

/** `gracePeriodSeconds` of a rotation body; `what` says what the previous secret keeps doing meanwhile. */
export function gracePeriodField(what: string) {
  return z
    .int()
    .min(0)
    .max(604_800)
    .optional()
    .openapi({ description: `How long ${what}. Default ${DEFAULT_GRACE_SECONDS} (a day); at most a week.` });
}
