import { SELF } from 'cloudflare:test';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { errorEnvelopeSchema, errorStatus } from '../../src/errors.ts';
import { caseArb, combine, FORGE, OMITTED, REAL_CURSOR, type Body, type FuzzCase, type Parameter, type Verdict } from '../helpers/fuzz-cases.ts';
import { createFuzzFixtures, prepareRequest, type FuzzFixtures, type Prepared } from '../helpers/fuzz-fixtures.ts';
import { createOpenApiValidator } from '../helpers/openapi-validator.ts';
import type { JsonSchema, SchemaDocument } from '../helpers/schema-arbitraries.ts';

/**
 * The fuzz test, generated from the OpenAPI document: every operation gets valid and invalid path
 * parameters, query strings and bodies (fast-check arbitraries from the JSON Schemas), sent with
 * credentials that reach its handler. Every response must hold to the contract: never a 5xx, only
 * documented statuses, every error in the one envelope with the status its code names, every 2xx
 * valid against its documented schema; what the contract refuses is refused, what it accepts is not
 * refused for its shape. Seeded and bounded; a failure prints the seed and each failing request.
 * Replay: the seed is fixed (FUZZ_SEED below); a case is named by operation and index.
 */
const FUZZ_SEED = 20_260_601;
const RUNS = 64;
const CONCURRENCY = 4;
// Operations whose every success costs a password hash: fewer runs keep the file fast.
const RUNS_FOR: Record<string, number> = { 'POST /api/v1/auth/signup': 16, 'POST /api/v1/auth/login': 16, 'POST /api/v1/auth/reset-password': 24 };

interface Operation {
  parameters?: Parameter[];
  security?: Array<Record<string, string[]>>;
  'x-route-kind'?: string;
  'x-permission'?: string;
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  responses: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const document = createApp().getOpenAPI31Document({ openapi: '3.1.0', info: { title: 'fuzz', version: '1' } });
const doc = document as SchemaDocument;
const operations = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
  METHODS.flatMap((method) => {
    const operation = (item as Record<string, Operation | undefined>)[method];
    if (!operation) return [];
    const id = `${method.toUpperCase()} ${path}`;
    // The route kind (src/routes/route-kinds.ts) decides the credentials; an operation without one is a failure.
    // A socket route is an org route whose handler upgrades: same credentials; without `Upgrade` it answers 426.
    const declared = operation['x-route-kind'] === 'socket' ? 'org' : operation['x-route-kind'];
    const kind = (['public', 'user', 'caller', 'org', 'upload', 'platform-admin'] as const).find((known) => known === declared);
    if (!kind) throw new Error(`${id} has no x-route-kind`);
    const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1] ?? '');
    const bodySchema = operation.requestBody?.content?.['application/json']?.schema;
    return [{ id, method: method.toUpperCase(), path, operation, kind, pathParams, bodySchema }];
  }),
);
type Op = (typeof operations)[number];

const validator = createOpenApiValidator(doc);
// Zod issue codes that judge a value's shape; a `custom` issue is a business rule (e.g. a password equal to the email).
const SHAPE_ISSUES = new Set(['invalid_type', 'invalid_format', 'invalid_value', 'too_big', 'too_small', 'unrecognized_keys', 'invalid_union', 'not_multiple_of', 'invalid_key', 'invalid_element']);

let fixtures: FuzzFixtures;
beforeAll(async () => {
  fixtures = await createFuzzFixtures();
});

/** A stable per-operation seed, so adding an operation does not change the cases of the others. */
function seedFor(op: Op): number {
  let hash = FUZZ_SEED;
  for (const char of op.id) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) | 0;
  return hash;
}

function encodeBody(body: Body | undefined, prepared: Prepared): { init: RequestInit; verdict: Verdict | 'classify'; json?: unknown } {
  if (!body) return { init: {}, verdict: 'valid' };
  if (body.kind === 'json') {
    const value = body.useFixture && prepared.body ? prepared.body : body.value;
    return { init: { body: JSON.stringify(value), headers: { 'content-type': 'application/json' } }, verdict: body.verdict, json: value };
  }
  if (!body.bytes) return { init: { body: body.text, headers: { 'content-type': body.contentType } }, verdict: body.verdict };
  const [before = '', after = ''] = body.text.split('BAD_BYTES_HERE');
  const encoder = new TextEncoder();
  const bytes = new Uint8Array([...encoder.encode(before), ...body.bytes, ...encoder.encode(after)]);
  return { init: { body: bytes, headers: { 'content-type': body.contentType } }, verdict: body.verdict };
}

const realCursors = new Map<string, Promise<string | null>>();
function realCursor(op: Op, url: URL, headers: Record<string, string>): Promise<string | null> {
  const first = new URL(url);
  first.search = '';
  first.searchParams.set('limit', '1');
  const sort = url.searchParams.get('sort');
  if (sort) first.searchParams.set('sort', sort);
  const key = `${op.id} ${sort ?? ''} ${headers.authorization ?? ''}`;
  let cursor = realCursors.get(key);
  if (!cursor) {
    cursor = SELF.fetch(first, { headers })
      .then((response) => response.json<{ meta?: { nextCursor?: string | null } }>())
      .then((body) => body.meta?.nextCursor ?? null);
    realCursors.set(key, cursor);
  }
  return cursor;
}

/** A real cursor with one element of its decoded key replaced: well-formed, but not one the server made. */
function forge(cursor: string, change: string): string {
  const [position, value] = JSON.parse(change) as [number, unknown];
  const key: unknown = JSON.parse(atob(cursor.replace(/-/g, '+').replace(/_/g, '/')));
  const parts = Array.isArray(key) ? [...key] : [key];
  parts[position % parts.length] = value;
  return btoa(JSON.stringify(parts)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function buildRequest(op: Op, kase: FuzzCase) {
  const prepared = await prepareRequest(op.id, op.kind, kase.auth, fixtures);
  const verdicts: Verdict[] = [];
  const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const choice = kase.path[name];
    // Path values are drawn as if every parameter were a uuid; a parameter with a pattern of its own (a room id)
    // is judged by that pattern, as the document publishes it.
    const pattern = op.operation.parameters?.find((parameter) => parameter.in === 'path' && parameter.name === name)?.schema?.pattern;
    const published = choice?.value != null && pattern !== undefined && new RegExp(pattern).test(choice.value);
    verdicts.push(published ? 'valid' : (choice?.verdict ?? 'valid'));
    return encodeURIComponent(choice?.value ?? prepared.params[name] ?? crypto.randomUUID());
  });
  const url = new URL(`http://example.com${path}`);
  for (const { name, value, verdict } of kase.query) {
    verdicts.push(verdict);
    if (value !== OMITTED) url.searchParams.append(name, value);
  }
  const cursorChoice = url.searchParams.get('cursor');
  if (cursorChoice === REAL_CURSOR || cursorChoice?.startsWith(FORGE)) {
    const cursor = await realCursor(op, url, prepared.headers);
    url.searchParams.delete('cursor');
    if (cursor) url.searchParams.set('cursor', cursorChoice === REAL_CURSOR ? cursor : forge(cursor, cursorChoice.slice(FORGE.length)));
  }
  const body = encodeBody(kase.body, prepared);
  if (body.verdict === 'classify') {
    // The document's schema (every object strict, as the input policy says) is the oracle for JSON bodies.
    verdicts.push(op.bodySchema && validator.requestBody(op.bodySchema, body.json) === undefined ? 'valid' : 'invalid');
  } else verdicts.push(body.verdict);
  if (!op.bodySchema && kase.body) verdicts.push('any');
  const declared: Record<string, string> = {};
  for (const { name, value, verdict } of kase.headers) {
    verdicts.push(verdict);
    declared[name] = value;
  }
  const headers = { ...prepared.headers, ...declared, ...(body.init.headers as Record<string, string> | undefined) };
  return { url, init: { method: op.method, ...body.init, headers }, verdict: combine(verdicts) };
}

/** Everything wrong with one response, by the contract of `op`. */
function problemsOf(op: Op, verdict: Verdict, status: number, headers: Headers, text: string): string[] {
  const problems: string[] = [];
  if (status >= 500) problems.push(`5xx`);
  const documented = op.operation.responses[String(status)];
  if (!documented) problems.push(`undocumented status ${status}`);
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    problems.push('body is not JSON');
  }
  if (status >= 400) {
    const envelope = errorEnvelopeSchema.safeParse(body);
    if (!envelope.success) problems.push('not the error envelope');
    else {
      if (errorStatus[envelope.data.error.code] !== status) problems.push(`code ${envelope.data.error.code} under status ${status}`);
      if (envelope.data.error.requestId !== headers.get('x-request-id')) problems.push('requestId differs from X-Request-Id');
      const issues = (envelope.data.error.details as { issues?: Array<{ code?: string; path?: string }> } | undefined)?.issues ?? [];
      const shaped = issues.filter((issue) => SHAPE_ISSUES.has(issue.code ?? ''));
      if (verdict === 'valid' && envelope.data.error.code === 'VALIDATION_FAILED' && shaped.length > 0) {
        problems.push(`valid by the document, refused: ${shaped.map((issue) => `${issue.path} ${issue.code}`).join(', ')}`);
      }
    }
  } else if (status >= 200 && status < 300) {
    if (verdict === 'invalid') problems.push(`invalid by the document, accepted with ${status}`);
    const schema = documented?.content?.['application/json']?.schema;
    if (schema) {
      const errors = validator.response(schema, body);
      if (errors) problems.push(`2xx body does not match its schema: ${errors}`);
    } else if (text !== '') problems.push(`${status} has a body but documents none`);
  }
  return problems;
}

const shorten = (value: string, max = 300) => (value.length > max ? `${value.slice(0, max)}… (${value.length} chars)` : value);

describe('fuzz: every operation of the OpenAPI document', () => {
  it('covers every operation, public, user, org and platform-admin', () => {
    expect(operations.length).toBeGreaterThanOrEqual(47);
    expect(new Set(operations.map((op) => op.kind))).toEqual(new Set(['public', 'user', 'caller', 'org', 'upload', 'platform-admin']));
  });

  it.each(operations.map((op) => [op.id, op] as const))('%s', { timeout: 60_000 }, async (_, op) => {
    const seed = seedFor(op);
    const cases = fc.sample(caseArb({ method: op.method, parameters: op.operation.parameters, bodySchema: op.bodySchema, pathParams: op.pathParams, orgScoped: op.kind === 'org' || op.kind === 'upload' }, doc), {
      seed,
      numRuns: RUNS_FOR[op.id] ?? RUNS,
    });
    const failures: string[] = [];
    const run = async (kase: FuzzCase, index: number) => {
      const request = await buildRequest(op, kase);
      const response = await SELF.fetch(request.url, request.init);
      const text = await response.text();
      const problems = problemsOf(op, request.verdict, response.status, response.headers, text);
      if (problems.length > 0) {
        const sent = typeof request.init.body === 'string' ? request.init.body : request.init.body ? `<${(request.init.body as Uint8Array).length} bytes with malformed UTF-8>` : '';
        failures.push(
          [
            `#${index} [${request.verdict}] ${op.method} ${shorten(request.url.pathname + request.url.search)} ${shorten(sent)}`,
            `  → ${response.status} ${shorten(text)}`,
            `  ✗ ${problems.join('; ')}`,
          ].join('\n'),
        );
      }
    };
    // A few requests in flight at once, as clients would send them; each case has its own victims where it destroys.
    for (let start = 0; start < cases.length; start += CONCURRENCY) {
      await Promise.all(cases.slice(start, start + CONCURRENCY).map((kase, offset) => run(kase, start + offset)));
    }
    failures.sort((a, b) => Number(a.slice(1, a.indexOf(' '))) - Number(b.slice(1, b.indexOf(' '))));
    expect(failures, `FUZZ_SEED=${FUZZ_SEED} (operation seed ${seed}), ${failures.length} of ${cases.length} requests broke the contract:\n${failures.join('\n')}`).toEqual([]);
  });
});
