import fc from 'fast-check';
import { badDate, badFormat, hostileChars, outOfRange, resolveSchema, validValue, wrongType, type JsonSchema, type SchemaDocument } from './schema-arbitraries.ts';

/**
 * What the contract says about a generated input: `valid` (the server must not refuse its shape),
 * `invalid` (the server must refuse it with a 4xx), `any` (it may go either way, but never a 5xx).
 * Bodies first get `classify`, then the document's schema decides (see fuzz.test.ts).
 */
export type Verdict = 'valid' | 'invalid' | 'any';
type BodyVerdict = Verdict | 'classify';

export interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: JsonSchema;
}

export type Body =
  | { kind: 'json'; value: unknown; verdict: BodyVerdict; useFixture: boolean }
  | { kind: 'raw'; text: string; bytes?: readonly number[]; contentType: string; verdict: Verdict };

export interface FuzzCase {
  auth: 'session' | 'apiKey';
  /** Path parameter → a value, or null for the fixture's own id. */
  path: Record<string, { value: string | null; verdict: Verdict }>;
  query: Array<{ name: string; value: string; verdict: Verdict }>;
  /** Declared header parameters (`Idempotency-Key`) sent, by name. */
  headers: Array<{ name: string; value: string; verdict: Verdict }>;
  body: Body | undefined;
}

/** The verdict of a whole request: one refused part makes it invalid; an uncertain part makes it uncertain. */
export function combine(verdicts: Verdict[]): Verdict {
  if (verdicts.includes('invalid')) return 'invalid';
  return verdicts.includes('any') ? 'any' : 'valid';
}

const FORGED_JSON = fc.jsonValue({ maxDepth: 2 }).map((value) => btoa(JSON.stringify(value) ?? 'null').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
/** Marks a cursor to be replaced by a real `meta.nextCursor` of the same list. */
export const REAL_CURSOR = '\u0000real-cursor';
/** Marks a cursor forged from a real one: `FORGE` + JSON of [position, value] to put into its decoded key. */
export const FORGE = '\u0000forge:';
const FORGED_VALUES = fc.constantFrom<unknown>('0000-01-01T00:00:00.000000Z', '0000-01-01', '10000-01-01T00:00:00Z', '2025-02-30T00:00:00Z', 'not-a-uuid', 'a\u0000b', 1e308, -1, null, [], {}, 'x'.repeat(2000), '', 'createdAt');

const pathValue: fc.Arbitrary<{ value: string | null; verdict: Verdict }> = fc.oneof(
  { arbitrary: fc.constant({ value: null, verdict: 'valid' as const }), weight: 6 },
  { arbitrary: fc.uuid({ version: 4 }).map((value) => ({ value, verdict: 'valid' as const })), weight: 1 },
  { arbitrary: fc.oneof(badFormat, fc.string({ maxLength: 40 }), fc.constant('x'.repeat(5000))).map((value) => ({ value, verdict: 'invalid' as const })), weight: 2 },
);

/** Marks a required query parameter the case leaves out. */
export const OMITTED = '\u0000omitted';

/** A path parameter that is not an id (e.g. a part number): its own schema says what is valid. */
function patternedPathValue(schema: JsonSchema, doc: SchemaDocument): fc.Arbitrary<{ value: string | null; verdict: Verdict }> {
  const pattern = new RegExp(resolveSchema(schema, doc).pattern ?? '^$');
  const judged = (value: string) => ({ value, verdict: pattern.test(value) ? ('valid' as const) : ('invalid' as const) });
  return fc.oneof(
    { arbitrary: fc.constant({ value: null, verdict: 'valid' as const }), weight: 6 },
    { arbitrary: validValue(schema, doc).map((value) => judged(String(value))), weight: 1 },
    { arbitrary: fc.oneof(badFormat, fc.string({ maxLength: 40 }), fc.uuid({ version: 4 }), fc.constant('x'.repeat(5000))).map(judged), weight: 2 },
  );
}

const badInteger = fc.constantFrom('0x10', '1e1', ' 5', '+5', '5.0', '', '-1', '0', '101', 'abc', '١٢', '9'.repeat(400), '5 ', '0b11', 'Infinity');

function badQueryValue(schema: JsonSchema, doc: SchemaDocument): fc.Arbitrary<string> {
  const resolved = resolveSchema(schema, doc);
  if (resolved.type === 'integer') return badInteger;
  if (resolved.enum) return fc.constantFrom('bogus', '', `${String(resolved.enum[0])} `, String(resolved.enum[0]).toUpperCase() + 'X');
  if (resolved.anyOf) return fc.oneof(badDate, badFormat);
  const max = resolved.maxLength ?? 1000;
  return fc.constantFrom(...(resolved.minLength ? [''] : []), 'x'.repeat(max + 1), 'a\u0000b', 'x'.repeat(10_000));
}

function queryArb(parameters: Parameter[], doc: SchemaDocument): fc.Arbitrary<FuzzCase['query']> {
  const known = parameters.filter((parameter) => parameter.in === 'query');
  const perParameter = known.map((parameter) => {
    const schema = parameter.schema ?? {};
    const valid = validValue(schema, doc).map((value) => ({ name: parameter.name, value: String(value), verdict: 'valid' as const }));
    const invalid = badQueryValue(schema, doc).map((value) => ({ name: parameter.name, value, verdict: 'invalid' as const }));
    // A cursor is opaque: a well-formed one the server did not make (forged) or made for another sort is its call.
    const choices =
      parameter.name === 'cursor'
        ? [
            fc.constant({ name: 'cursor', value: REAL_CURSOR, verdict: 'any' as const }),
            FORGED_JSON.map((value) => ({ name: 'cursor', value, verdict: 'any' as const })),
            fc.tuple(fc.nat({ max: 3 }), FORGED_VALUES).map((forged) => ({ name: 'cursor', value: FORGE + JSON.stringify(forged), verdict: 'any' as const })),
            fc.constantFrom('a b', '!!!', 'x'.repeat(1025), 'ey\u0000').map((value) => ({ name: 'cursor', value, verdict: 'invalid' as const })),
          ]
        : [valid, valid, invalid];
    // A required parameter left out is refused like an invalid one (OMITTED: sent as nothing).
    if (parameter.required) return fc.oneof({ arbitrary: fc.oneof(...choices), weight: 4 }, { arbitrary: fc.constant({ name: parameter.name, value: OMITTED, verdict: 'invalid' as const }), weight: 1 });
    return fc.option(fc.oneof(...choices), { nil: undefined, freq: 2 });
  });
  const extra = fc.oneof(
    { arbitrary: fc.constant([]), weight: 8 },
    // The input policy: an unknown query parameter is refused like an unknown body key.
    { arbitrary: fc.constantFrom('nmae', 'foo', 'limitt', 'orgId', '__proto__').map((name) => [{ name, value: '1', verdict: 'invalid' as const }]), weight: 1 },
    ...(known.length > 0 ? [{ arbitrary: fc.constantFrom(...known).map((parameter) => [{ name: parameter.name, value: '1', verdict: 'any' as const }]), weight: 1 }] : []),
  );
  return fc.tuple(fc.tuple(...perParameter), extra).map(([values, extras]) => [...values.filter((value) => value !== undefined), ...extras]);
}

/**
 * Declared header parameters: often absent, mostly a fresh key (a UUID, so no two cases share one and a
 * replay or a 422 cannot pass for a verdict), sometimes a value the schema refuses.
 */
function headerArb(parameters: Parameter[]): fc.Arbitrary<FuzzCase['headers']> {
  const perParameter = parameters
    .filter((parameter) => parameter.in === 'header')
    .map((parameter) => {
      const valid = fc.uuid({ version: 4 }).map((value) => ({ name: parameter.name, value, verdict: 'valid' as const }));
      const refused = ['', 'x'.repeat((parameter.schema?.maxLength ?? 255) + 1), 'tab\tinside', 'é'];
      const invalid = fc.constantFrom(...refused).map((value) => ({ name: parameter.name, value, verdict: 'invalid' as const }));
      return fc.option(fc.oneof({ arbitrary: valid, weight: 3 }, { arbitrary: invalid, weight: 1 }), { nil: undefined, freq: 2 });
    });
  return fc.tuple(...perParameter).map((values) => values.filter((value) => value !== undefined));
}

const UNKNOWN_KEYS = ['nmae', 'extra', '__proto__', 'constructor', 'id', 'orgId', 'isAdmin', 'deletedAt'];

/** A valid body, changed in one way a client might get wrong or an attacker might try. */
function mutatedBody(schema: JsonSchema, doc: SchemaDocument): fc.Arbitrary<Body> {
  const resolved = resolveSchema(schema, doc);
  const properties = Object.entries(resolved.properties ?? {}).map(([key, property]) => [key, resolveSchema(property, doc)] as const);
  const strings = properties.filter(([, property]) => JSON.stringify(property).includes('"string"') && !property.enum);
  const json = (value: unknown, verdict: BodyVerdict): Body => ({ kind: 'json', value, verdict, useFixture: false });
  const base = validValue(schema, doc).map((value) => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}));
  const withKey = (body: Record<string, unknown>, key: string, value: unknown) => Object.fromEntries([...Object.entries(body), [key, value]]);
  const mutations: Array<fc.Arbitrary<Body>> = [
    fc.tuple(base, fc.constantFrom(...UNKNOWN_KEYS.filter((key) => !(key in (resolved.properties ?? {})))), fc.jsonValue({ maxDepth: 1 })).map(([body, key, value]) => json(withKey(body, key, value), 'classify')),
    wrongType.map((value) => json(value, 'classify')),
  ];
  if (properties.length > 0) {
    const property = fc.constantFrom(...properties);
    mutations.push(
      fc.tuple(base, property, wrongType).map(([body, [key], value]) => json(withKey(body, key, value), 'classify')),
      fc.tuple(base, property).map(([body, [key]]) => json(Object.fromEntries(Object.entries(body).filter(([name]) => name !== key)), 'classify')),
      fc.tuple(base, property, badFormat).map(([body, [key, schemaOf], value]) => {
        // Dates are bounded to years 0001–9999 even where a schema only says `format: date-time`.
        const outOfEra = value.startsWith('0000') && (schemaOf.format ?? '').startsWith('date');
        return json(withKey(body, key, value), value.includes('\u0000') || outOfEra ? 'invalid' : 'classify');
      }),
      fc.tuple(base, property).chain(([body, [key, schemaOf]]) => outOfRange(schemaOf).map((value) => json(withKey(body, key, value), 'classify'))),
    );
  }
  if (strings.length > 0) {
    const stringProperty = fc.constantFrom(...strings);
    mutations.push(
      // NUL is refused (Postgres text cannot hold it); other control characters and lone surrogates may be stored or refused.
      fc.tuple(base, stringProperty, fc.string({ maxLength: 8 })).map(([body, [key], text]) => json(withKey(body, key, `${text}\u0000${text}`), 'invalid')),
      fc.tuple(base, stringProperty, fc.oneof(hostileChars.control, hostileChars.loneSurrogate)).map(([body, [key], char]) => json(withKey(body, key, `a${char}b`), 'any')),
      fc.tuple(base, stringProperty, fc.integer({ min: 1, max: 100_000 })).map(([body, [key, schemaOf], extra]) => json(withKey(body, key, 'x'.repeat((schemaOf.maxLength ?? 10_000) + extra)), 'classify')),
      fc.tuple(base, stringProperty, fc.constantFrom([0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80])).map(([body, [key], bytes]) => {
        // Malformed UTF-8 inside a string: a 400, never stored as U+FFFD.
        const text = JSON.stringify(withKey(body, key, 'BAD_BYTES_HERE'));
        return { kind: 'raw', text, bytes, contentType: 'application/json', verdict: 'invalid' } satisfies Body;
      }),
    );
  }
  return fc.oneof(...mutations);
}

const malformedJson = fc
  .constantFrom('{', '{"name":', '{"name":"x",}', "{'name':'x'}", 'NaN', '{"a":1}{"b":2}', '', '\u0000', '{"name":"x"', `{"name":${'['.repeat(5000)}${']'.repeat(5000)}}`)
  .map((text): Body => ({ kind: 'raw', text, contentType: 'application/json', verdict: 'invalid' }));

function bodyArb(schema: JsonSchema | undefined, doc: SchemaDocument, method: string): fc.Arbitrary<Body | undefined> {
  if (method === 'GET') return fc.constant(undefined);
  if (!schema) return fc.oneof({ arbitrary: fc.constant(undefined), weight: 9 }, { arbitrary: fc.constant<Body>({ kind: 'json', value: {}, verdict: 'any', useFixture: false }), weight: 1 });
  const valid = fc.tuple(validValue(schema, doc), fc.boolean()).map(([value, useFixture]): Body => ({ kind: 'json', value, verdict: 'classify', useFixture }));
  const wrongMedia = validValue(schema, doc).chain((value) =>
    fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x').map((contentType): Body => ({ kind: 'raw', text: JSON.stringify(value), contentType, verdict: 'invalid' })),
  );
  const tooLarge = fc.constant<Body>({ kind: 'raw', text: JSON.stringify({ name: 'x'.repeat(1_100_000) }), contentType: 'application/json', verdict: 'invalid' });
  return fc.oneof(
    { arbitrary: valid, weight: 8 },
    { arbitrary: mutatedBody(schema, doc), weight: 8 },
    { arbitrary: malformedJson, weight: 2 },
    { arbitrary: wrongMedia, weight: 1 },
    { arbitrary: tooLarge, weight: 1 },
  );
}

/** Every request the fuzzer may send to one operation. */
export function caseArb(
  operation: { method: string; parameters?: Parameter[]; bodySchema?: JsonSchema; pathParams: string[]; orgScoped: boolean },
  doc: SchemaDocument,
): fc.Arbitrary<FuzzCase> {
  const schemaOf = (name: string) => operation.parameters?.find((parameter) => parameter.in === 'path' && parameter.name === name)?.schema;
  const patterned = (name: string) => {
    const schema = schemaOf(name);
    return schema && resolveSchema(schema, doc).pattern && resolveSchema(schema, doc).format !== 'uuid' ? patternedPathValue(schema, doc) : undefined;
  };
  const path = fc.record(Object.fromEntries(operation.pathParams.map((name) => [name, patterned(name) ?? pathValue])));
  return fc.record({
    auth: operation.orgScoped ? fc.constantFrom<'session' | 'apiKey'>('session', 'apiKey') : fc.constant<'session' | 'apiKey'>('session'),
    path,
    query: queryArb(operation.parameters ?? [], doc),
    headers: headerArb(operation.parameters ?? []),
    body: bodyArb(operation.bodySchema, doc, operation.method),
  });
}
