// Range and conditional requests on a stored file (RFC 9110 §13–14): one byte range at most, strong ETags.

export interface Representation {
  /** Quoted strong ETag, e.g. `"9f86d08…"`. */
  etag: string;
  lastModified: Date;
  size: number;
}

export type RangeDecision = { kind: 'full' } | { kind: 'partial'; offset: number; length: number } | { kind: 'unsatisfiable' };

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

function httpDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : Math.floor(time / 1000);
}

const etagList = (header: string) => header.split(',').map((tag) => tag.trim().replace(/^W\//, ''));

/** `If-None-Match` (weak comparison), else `If-Modified-Since`: whether to answer 304. */
export function notModified(headers: Headers, file: Representation): boolean {
  const noneMatch = headers.get('if-none-match');
  if (noneMatch !== null) return etagList(noneMatch).some((tag) => tag === '*' || tag === file.etag);
  const since = httpDate(headers.get('if-modified-since') ?? undefined);
  return since !== undefined && seconds(file.lastModified) <= since;
}

/** `If-Range`: a Range applies only while the validator still names this representation (strong comparison). */
function rangeStillValid(ifRange: string | null, file: Representation): boolean {
  if (ifRange === null) return true;
  if (ifRange.startsWith('"')) return ifRange === file.etag;
  const date = httpDate(ifRange);
  return date !== undefined && date === seconds(file.lastModified);
}

/**
 * What `Range` asks of `file`: a single `bytes=` range (`a-b`, `a-`, `-n`); several ranges, another unit or a
 * malformed header are ignored (the whole file, as RFC 9110 allows); a range that starts past the end is unsatisfiable.
 */
export function decideRange(headers: Headers, file: Representation): RangeDecision {
  const range = headers.get('range');
  if (range === null || !rangeStillValid(headers.get('if-range'), file)) return { kind: 'full' };
  const match = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(range.trim());
  if (!match || (match[1] === '' && match[2] === '')) return { kind: 'full' };
  const [, first = '', last = ''] = match;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || file.size === 0) return { kind: 'unsatisfiable' };
    const length = Math.min(suffix, file.size);
    return { kind: 'partial', offset: file.size - length, length };
  }
  const offset = Number(first);
  const end = last === '' ? file.size - 1 : Math.min(Number(last), file.size - 1);
  if (last !== '' && Number(last) < offset) return { kind: 'full' };
  if (offset >= file.size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', offset, length: end - offset + 1 };
}

/**
 * `Content-Disposition` with the name in both forms (RFC 6266): an ASCII fallback with anything unsafe replaced,
 * and the exact name percent-encoded as UTF-8 (RFC 8187).
 */
export function contentDisposition(type: 'inline' | 'attachment', name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
