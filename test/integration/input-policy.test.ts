import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { sha256Hex } from '../../src/lib/crypto.ts';
import { EMAIL_PATTERN } from '../../src/lib/fields.ts';
import { invitations } from '../../src/db/schema/index.ts';
import { api, createApiKey, createMember, createOrg, createProject, createUser, json, ownerDb, type TestUser } from '../helpers/factories.ts';
import { sampleFor, type OpenApiDocument } from '../helpers/openapi-sample.ts';

/**
 * The one input policy, generated from the OpenAPI document so tomorrow's routes are covered: every
 * JSON body and every query refuses an unknown key with a 400 naming it, and the document publishes
 * the rules the server applies (strict bodies, digit-only `limit`, opaque cursors, the email pattern).
 */
type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  format?: string;
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: unknown;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
};
type Parameter = { name: string; in: string; schema: JsonSchema };
type Operation = { parameters?: Parameter[]; requestBody?: { content?: Record<string, { schema?: JsonSchema }> } };
type Issues = { error: { code: string; details: { issues: Array<{ path: string; code: string }> } } };

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const document = createApp().getOpenAPI31Document({ openapi: '3.1.0', info: { title: 'input policy', version: '1' } });
const doc = document as OpenApiDocument & { components: { schemas: Record<string, JsonSchema> } };
const operations = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
    METHODS.flatMap((method) => {
      const operation = (item as Record<string, Operation | undefined>)[method];
      return operation ? [{ path, method, operation, name: `${method.toUpperCase()} ${path}` }] : [];
    }),
  );
const resolve = (schema: JsonSchema): JsonSchema => (schema.$ref ? resolve(doc.components.schemas[schema.$ref.split('/').pop() ?? ''] ?? {}) : schema);
const bodySchema = (op: Operation) => op.requestBody?.content?.['application/json']?.schema;

let owner: TestUser;
let params: Record<string, string>;

beforeAll(async () => {
  owner = await createUser();
  const org = await createOrg(owner);
  const project = await createProject(org);
  const member = await createMember(org, 'member');
  const key = await createApiKey(org, { scopes: ['projects:read'] });
  const [invitation] = await ownerDb.http
    .insert(invitations)
    .values({ orgId: org.id, email: `policy-${crypto.randomUUID().slice(0, 8)}@example.com`, role: 'member', tokenHash: await sha256Hex(crypto.randomUUID()), invitedBy: owner.id, expiresAt: new Date(Date.now() + 86_400_000) })
    .returning({ id: invitations.id });
  params = { orgId: org.id, projectId: project.id, userId: member.id, keyId: key.id, invitationId: invitation?.id ?? '', id: owner.id, sessionId: owner.sessionId };
});

// This file's burst (~140 requests in a few seconds) ends with background work still in flight: usage events flushed
// 1 s after they are recorded, their queue deliveries. 5 of the 6 stalls of the Workers pool seen so far
// (cloudflare/workers-sdk#15498; scripts/test.ts catches them) came right after this file; with this pause before
// the runtime is torn down, 5 full runs under heavy load (2026-12-03) had none. A mitigation, measured, not a proof.
afterAll(() => new Promise((resolve) => setTimeout(resolve, 5_000)));

/** The operation called by the org's owner with valid params and a valid body, plus `extra`. */
function call(op: (typeof operations)[number], extra: { query?: string; body?: Record<string, unknown> } = {}) {
  const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? crypto.randomUUID());
  const schema = bodySchema(op.operation);
  const sample = schema ? (sampleFor(schema as never, doc) as Record<string, unknown>) : undefined;
  const body = sample || extra.body ? { ...sample, ...extra.body } : undefined;
  return api(`${path}${extra.query ?? ''}`, { method: op.method.toUpperCase(), body, auth: owner });
}

async function expectUnknown(response: Response, key: string) {
  expect(response.status).toBe(400);
  const { error } = await json<Issues>(response);
  expect(error.code).toBe('VALIDATION_FAILED');
  expect(error.details.issues).toContainEqual(expect.objectContaining({ path: key, code: 'unrecognized_keys' }));
}

describe('unknown keys are refused everywhere', () => {
  const withBody = operations.filter((op) => bodySchema(op.operation));

  it('finds the routes (19 bodies today)', () => {
    expect(withBody.length).toBeGreaterThanOrEqual(19);
  });

  it.each(withBody.map((op) => [op.name, op] as const))('%s: an unknown body key is a 400 naming it', async (_, op) => {
    await expectUnknown(await call(op, { body: { nmae: 'x' } }), 'nmae');
  });

  it.each(operations.map((op) => [op.name, op] as const))('%s: an unknown query parameter is a 400 naming it', async (_, op) => {
    await expectUnknown(await call(op, { query: '?limt=5' }), 'limt');
  });
});

describe('the OpenAPI document states the policy', () => {
  it('every request body object, nested ones too, is closed (additionalProperties: false)', () => {
    const open: string[] = [];
    const visit = (schema: JsonSchema, where: string) => {
      const resolved = resolve(schema);
      // A map (product event properties) is closed too when the document names the rule every key must match.
      const map = typeof resolved.additionalProperties === 'object' && typeof (resolved as { propertyNames?: { pattern?: string } }).propertyNames?.pattern === 'string';
      if (resolved.type === 'object' && resolved.additionalProperties !== false && !map) open.push(where);
      for (const [key, property] of Object.entries(resolved.properties ?? {})) visit(property, `${where}.${key}`);
      if (resolved.items) visit(resolved.items, `${where}[]`);
      for (const variant of resolved.anyOf ?? []) visit(variant, where);
    };
    for (const op of operations) {
      const schema = bodySchema(op.operation);
      if (schema) visit(schema, op.name);
    }
    expect(open).toEqual([]);
  });

  it('`limit` is digits only and `cursor` is an opaque string, on every list', () => {
    const lists = operations.filter((op) => op.operation.parameters?.some((p) => p.name === 'cursor'));
    expect(lists.length).toBeGreaterThanOrEqual(7);
    for (const op of lists) {
      const limit = op.operation.parameters?.find((p) => p.name === 'limit')?.schema;
      const cursor = op.operation.parameters?.find((p) => p.name === 'cursor')?.schema;
      expect(limit, op.name).toMatchObject({ type: 'string', pattern: '^(?:[1-9]\\d?|100)$' });
      expect(cursor, op.name).toMatchObject({ type: 'string' });
      expect(cursor?.pattern, op.name).toBeUndefined();
    }
    const limit = new RegExp('^(?:[1-9]\\d?|100)$');
    expect(['1', '20', '100'].every((value) => limit.test(value))).toBe(true);
    expect(['0', '101', '0x10', '1e1', ' 5', '05', '-1', '5.0'].some((value) => limit.test(value))).toBe(false);
  });

  it('ids publish the uuid rule the server applies, not just `format: uuid`', async () => {
    const ids = operations.flatMap((op) => (op.operation.parameters ?? []).filter((p) => p.schema.format === 'uuid').map((p) => ({ op, p })));
    expect(ids.length).toBeGreaterThan(20);
    for (const { p } of ids) expect(p.schema.pattern, p.name).toEqual(expect.any(String));
    const pattern = new RegExp(ids[0]?.p.schema.pattern ?? '');
    // Valid under `format: uuid` alone, but not an RFC 9562 uuid: the pattern says so, and the server agrees.
    const versionZero = '12345678-1234-0234-8234-123456789abc';
    expect(pattern.test(versionZero)).toBe(false);
    expect(pattern.test(crypto.randomUUID())).toBe(true);
    const response = await api(`/api/v1/orgs/${versionZero}/projects`, { auth: owner });
    expect(response.status).toBe(400);
  });

  it('publishes the server’s email rule, which refuses 0@com', () => {
    const emails: JsonSchema[] = [];
    for (const op of operations) {
      const schema = bodySchema(op.operation);
      for (const [key, property] of Object.entries(schema ? (resolve(schema).properties ?? {}) : {})) if (key === 'email') emails.push(property);
    }
    expect(emails.length).toBeGreaterThanOrEqual(4);
    for (const email of emails) {
      expect(email.pattern).toBe(EMAIL_PATTERN.source);
      expect(email.format).toBeUndefined();
    }
    expect(EMAIL_PATTERN.test('0@com')).toBe(false);
    // Domain labels are LDH: no leading or trailing hyphen, so every accepted address is a valid `format: email`.
    expect(EMAIL_PATTERN.test('ada@example-.com')).toBe(false);
    expect(EMAIL_PATTERN.test('ada@-example.com')).toBe(false);
    expect(EMAIL_PATTERN.test('ada@ex-ample.com')).toBe(true);
    expect(EMAIL_PATTERN.test(' Ada.Lovelace+x@Example.co.uk ')).toBe(true);
  });

  it('no request body documents null where the server refuses it (the member role)', () => {
    const role = resolve(resolve(doc.components.schemas.UpdateMember ?? {}).properties?.role ?? {});
    expect(role.enum).not.toContain(null);
    expect(role.type).toBe('string');
    // Nullable request fields are exactly the ones the server accepts null for.
    const nullable: string[] = [];
    for (const op of operations) {
      const schema = bodySchema(op.operation);
      for (const [key, property] of Object.entries(schema ? (resolve(schema).properties ?? {}) : {})) {
        const resolved = resolve(property);
        if ((Array.isArray(resolved.type) && resolved.type.includes('null')) || resolved.enum?.includes(null)) nullable.push(`${op.name} ${key}`);
      }
    }
    expect(nullable.sort()).toEqual([
      'PATCH /api/v1/admin/flags/{key} variants',
      'PATCH /api/v1/orgs/{orgId}/projects/{projectId} description',
      'PATCH /api/v1/orgs/{orgId}/webhooks/{endpointId} eventTypes',
      'POST /api/v1/orgs/{orgId}/projects description',
      'POST /api/v1/orgs/{orgId}/webhooks eventTypes',
      'PUT /api/v1/orgs/{orgId}/projects/{projectId} description',
    ]);
  });

  it('names refuse control characters in the published pattern as on the server', () => {
    const name = resolve(resolve(doc.components.schemas.SignupRequest ?? {}).properties?.name ?? {});
    const pattern = new RegExp(name.pattern ?? '');
    expect(['Ada', 'Ada Lovelace', 'Zoë 🚀'].every((value) => pattern.test(value))).toBe(true);
    expect(['', '   ', 'a\u0000b', 'a\u0007', 'a\nb', '\ud800x'].some((value) => pattern.test(value))).toBe(false);
  });
});
