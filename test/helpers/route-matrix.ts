import { expect } from 'vitest';
import { createApp } from '../../src/app.ts';
import type { Permission } from '../../src/lib/permissions.ts';
import { api } from './factories.ts';
import { sampleFor, type OpenApiDocument } from './openapi-sample.ts';

/**
 * The route table as the OpenAPI document publishes it, for the generated matrices: every operation with
 * its kind (`x-route-kind`, set by src/routes/route-kinds.ts) and, for org routes, its `x-permission`.
 * Tests read routes from here, never from a hand-kept list, so a route added tomorrow is covered today.
 */
export type RouteKind = 'org' | 'socket' | 'upload' | 'user' | 'caller' | 'platform-admin' | 'public';

/** The kinds gated inside an org (they carry `x-permission`): the org matrix covers them all. */
export const ORG_KINDS: readonly RouteKind[] = ['org', 'socket', 'upload'];

type Operation = {
  'x-route-kind'?: RouteKind;
  'x-permission'?: Permission;
  'x-rate-limit-class'?: string;
  security?: Array<Record<string, string[]>>;
  requestBody?: { content?: Record<string, { schema?: never }> };
};

export interface DocumentedOperation {
  /** The path template, e.g. `/api/v1/users/{id}`. */
  path: string;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  kind: RouteKind | undefined;
  permission: Permission | undefined;
  operation: Operation;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export const openApiDocument = createApp().getOpenAPI31Document({ openapi: '3.1.0', info: { title: 'matrix', version: '1' } });

export const documentedOperations: DocumentedOperation[] = Object.entries(openApiDocument.paths ?? {}).flatMap(([path, item]) =>
  METHODS.flatMap((method) => {
    const operation = (item as Record<string, Operation | undefined>)[method];
    return operation ? [{ path, method, kind: operation['x-route-kind'], permission: operation['x-permission'], operation }] : [];
  }),
);

/** The operations of one kind, named `METHOD /path` for `it.each`. */
export function operationsOfKind(...kinds: RouteKind[]): Array<readonly [string, DocumentedOperation]> {
  return documentedOperations.filter((op) => op.kind !== undefined && kinds.includes(op.kind)).map((op) => [describeOperation(op), op] as const);
}

export const describeOperation = (op: DocumentedOperation) => `${op.method.toUpperCase()} ${op.path}`;

/** The names of the path template's parameters (`{orgId}` → `orgId`). */
export const pathParams = (path: string): string[] => [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1] ?? '');

/**
 * Calls `op` with its path parameters filled from `params` (a random UUID for any other) and a body that
 * passes validation (test/helpers/openapi-sample.ts), so a refusal comes from authentication or
 * authorization, never from the request's shape.
 */
export function callOperation(op: DocumentedOperation, params: Record<string, string>, headers: Record<string, string>, query = ''): Promise<Response> {
  const path = fillPath(op.path, params);
  const schema = op.operation.requestBody?.content?.['application/json']?.schema;
  const body = schema ? sampleFor(schema, openApiDocument as OpenApiDocument) : undefined;
  // A socket route is asked for the upgrade itself, so a refusal is shown to come before it.
  const upgrade: Record<string, string> = op.kind === 'socket' && op.method === 'get' ? { upgrade: 'websocket' } : {};
  return api(path + query, { method: op.method.toUpperCase(), body, headers: { ...upgrade, ...headers } });
}

/** The path template with its parameters filled from `params` (a random UUID for any other). */
export const fillPath = (template: string, params: Record<string, string>) => template.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? crypto.randomUUID());

const CODES: Record<number, string> = { 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND' };

/**
 * Asserts a refusal: the expected status, the envelope with its stable code, `Cache-Control: no-store`,
 * and none of `secrets` (the victim's names, emails, slugs) anywhere in the body.
 */
export async function expectRefused(response: Response, expected: { who: string; status: number; secrets: string[] }): Promise<void> {
  const { who, status, secrets } = expected;
  const text = await response.text();
  expect({ who, status: response.status, upgraded: response.webSocket !== null }).toEqual({ who, status, upgraded: false });
  expect({ who, body: JSON.parse(text) as unknown }).toMatchObject({ who, body: { error: { code: CODES[status] ?? expect.any(String), requestId: expect.any(String) } } });
  expect({ who, cacheControl: response.headers.get('cache-control') }).toEqual({ who, cacheControl: 'no-store' });
  for (const secret of secrets) expect(text, `${who} saw "${secret}"`).not.toContain(secret);
}
