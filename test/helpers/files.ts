import { SELF } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { files } from '../../src/db/schema/index.ts';
import { clientAddress, ownerDb, type TestOrg, type TestUser } from './factories.ts';
import { env } from './worker.ts';

/** Bytes of `size` made of `fill`, optionally starting with `head`. */
export function bytesOf(size: number, head: readonly number[] = [], fill = 0x61): Uint8Array {
  const bytes = new Uint8Array(size).fill(fill);
  bytes.set(head.slice(0, size));
  return bytes;
}

export const PNG_HEAD = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d];

/**
 * `size` random bytes after a PNG signature: unlike a fill, a chunk lost, repeated, reordered or read from a
 * reused buffer changes the hash.
 */
export function randomPng(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  // getRandomValues fills at most 65,536 bytes a call.
  for (let offset = 0; offset < size; offset += 65_536) crypto.getRandomValues(bytes.subarray(offset, Math.min(offset + 65_536, size)));
  bytes.set(PNG_HEAD.slice(0, size));
  return bytes;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Sends `init` to the Worker as a client would (own client address). */
export function send(path: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
  return SELF.fetch(`http://localhost${path}`, { ...init, headers: { 'cf-connecting-ip': clientAddress(), ...init.headers } });
}

export const bearer = (user: TestUser) => ({ authorization: `Bearer ${user.accessToken}` });

/** POST /orgs/{orgId}/files with `bytes` as the body. */
export function uploadFile(org: TestOrg, user: TestUser, bytes: Uint8Array, options: { type?: string; name?: string; projectId?: string } = {}) {
  const query = new URLSearchParams({ name: options.name ?? 'notes.txt' });
  if (options.projectId) query.set('projectId', options.projectId);
  return send(`/api/v1/orgs/${org.id}/files?${query}`, { method: 'POST', headers: { ...bearer(user), 'content-type': options.type ?? 'text/plain' }, body: bytes });
}

/** The R2 keys stored under the org's prefix. */
export async function storedKeys(org: TestOrg): Promise<string[]> {
  return (await env.FILES.list({ prefix: `orgs/${org.id}/` })).objects.map((object) => object.key);
}

/** The org's file rows, deleted ones included (as the schema owner, past RLS). */
export function fileRows(org: TestOrg) {
  return ownerDb.http.select().from(files).where(eq(files.orgId, org.id));
}

/** The path and query of an absolute URL the API returned. */
export const pathOf = (url: string) => {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
};
