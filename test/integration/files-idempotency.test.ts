import { describe, expect, it } from 'vitest';
import { createOrg, createUser, json, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { bearer, bytesOf, fileRows, send, storedKeys } from '../helpers/files.ts';
import { openApiDocument } from '../helpers/route-matrix.ts';

// `Idempotency-Key` on the streamed upload (POST /orgs/{orgId}/files): a client that retries an upload after a
// timeout gets the first file back, not a second one. The fingerprint is the method, path, query, content type
// and the bytes' SHA-256 (middleware/idempotency.ts, `uploadIdempotency`).

const newKey = () => `upload-${crypto.randomUUID()}`;

function keyedUpload(org: TestOrg, user: TestUser, bytes: Uint8Array, key: string, options: { type?: string; name?: string } = {}) {
  const query = new URLSearchParams({ name: options.name ?? 'notes.txt' });
  const headers = { ...bearer(user), 'content-type': options.type ?? 'text/plain', 'idempotency-key': key };
  return send(`/api/v1/orgs/${org.id}/files?${query}`, { method: 'POST', headers, body: bytes });
}

/** Everything a client can compare of two answers: status, the headers that matter, the exact bytes. */
async function snapshot(response: Response) {
  return { status: response.status, location: response.headers.get('location'), contentType: response.headers.get('content-type'), body: await response.text() };
}

async function setup() {
  const owner = await createUser();
  const org = await createOrg(owner);
  return { owner, org };
}

describe('Idempotency-Key on a streamed upload', () => {
  it('5 concurrent uploads with one key store one file and one object; every other answer is its replay or a 409', async () => {
    const { owner, org } = await setup();
    const key = newKey();
    const bytes = bytesOf(2_048);
    const responses = await Promise.all(Array.from({ length: 5 }, () => keyedUpload(org, owner, bytes, key)));
    const answers = await Promise.all(responses.map(snapshot));
    expect(answers.every((answer) => answer.status === 201 || answer.status === 409), JSON.stringify(answers.map((answer) => answer.status))).toBe(true);
    expect(responses.filter((response) => response.status === 201 && response.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    const created = answers.filter((answer) => answer.status === 201);
    expect(new Set(created.map((answer) => answer.body)).size).toBe(1);
    const rows = await fileRows(org);
    expect(rows).toHaveLength(1);
    // The losers' objects were removed when their insert rolled back: only the winner's bytes remain.
    expect(await storedKeys(org)).toEqual([`orgs/${org.id}/files/${rows[0]?.id}`]);
    expect(await snapshot(await keyedUpload(org, owner, bytes, key))).toEqual(created[0]);
  });

  it('a retry replays the first answer byte for byte (status, Location, body), marked Idempotent-Replayed, and stores nothing more', async () => {
    const { owner, org } = await setup();
    const key = newKey();
    const bytes = bytesOf(300);
    const first = await keyedUpload(org, owner, bytes, key);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const original = await snapshot(first);
    expect(original.status).toBe(201);
    const again = await keyedUpload(org, owner, bytes, key);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await snapshot(again)).toEqual(original);
    const { data } = JSON.parse(original.body) as { data: { id: string } };
    expect((await fileRows(org)).map((row) => row.id)).toEqual([data.id]);
    expect(await storedKeys(org)).toEqual([`orgs/${org.id}/files/${data.id}`]);
  });

  it('the same key with other bytes, another content type or another name is a 422 IDEMPOTENCY_KEY_REUSED, and stores nothing', async () => {
    const { owner, org } = await setup();
    const key = newKey();
    expect((await keyedUpload(org, owner, bytesOf(300), key)).status).toBe(201);
    for (const reused of [
      await keyedUpload(org, owner, bytesOf(300, [], 0x62), key),
      await keyedUpload(org, owner, bytesOf(300), key, { type: 'text/csv' }),
      await keyedUpload(org, owner, bytesOf(300), key, { name: 'other.txt' }),
    ]) {
      expect(reused.status).toBe(422);
      expect((await json<{ error: { code: string } }>(reused)).error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    }
    expect(await fileRows(org)).toHaveLength(1);
    expect(await storedKeys(org)).toHaveLength(1);
    // Without the key, the other bytes are simply another file.
    const unkeyed = await send(`/api/v1/orgs/${org.id}/files?name=notes.txt`, { method: 'POST', headers: { ...bearer(owner), 'content-type': 'text/plain' }, body: bytesOf(300, [], 0x62) });
    expect(unkeyed.status).toBe(201);
  });

  it('an invalid key is a 400 naming the header before a byte is stored', async () => {
    const { owner, org } = await setup();
    const response = await keyedUpload(org, owner, bytesOf(300), 'x'.repeat(256));
    expect(response.status).toBe(400);
    expect((await json<{ error: { details: { issues: Array<{ path: string }> } } }>(response)).error.details.issues[0]?.path).toBe('header.Idempotency-Key');
    expect(await storedKeys(org)).toEqual([]);
    expect(await fileRows(org)).toEqual([]);
  });

  it('the OpenAPI operation declares the header and its 409 and 422, as JSON writes do; the part upload (PUT) does not', () => {
    type Operation = { parameters?: Array<{ name: string; in: string }>; responses: Record<string, { description?: string }> };
    const paths = openApiDocument.paths as Record<string, Record<string, Operation>>;
    const upload = paths['/api/v1/orgs/{orgId}/files']?.post;
    expect(upload?.parameters?.some((parameter) => parameter.in === 'header' && parameter.name === 'Idempotency-Key')).toBe(true);
    expect(upload?.responses['409']?.description).toContain('IDEMPOTENCY_KEY_IN_USE');
    expect(upload?.responses['422']?.description).toContain('IDEMPOTENCY_KEY_REUSED');
    const part = Object.entries(paths).find(([path, item]) => path.includes('/parts/') && item.put)?.[1].put;
    expect(part).toBeDefined();
    expect(part?.parameters?.some((parameter) => parameter.name === 'Idempotency-Key')).toBe(false);
  });
});
