import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { files } from '../../src/db/schema/index.ts';
import { FILE_RETENTION, MULTIPART } from '../../src/lib/limits.ts';
import { cleanupFiles } from '../../workers/tasks/files-cleanup.ts';
import { api, createOrg, createUser, json, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { bearer, bytesOf, fileRows, send, sha256Hex, storedKeys } from '../helpers/files.ts';
import { env, testDb } from '../helpers/worker.ts';

/**
 * Multipart uploads on the real local R2: parts stream in, a client resumes by asking which parts arrived, the
 * completed file is checked whole (type, hash), and abort or abandonment leaves nothing (R2's 5 MiB minimum
 * part applies to every part but the last, so these files are a little over 5 MiB).
 */
type Upload = { data: { file: { id: string; status: string; size: number; sha256: string | null }; parts: Array<{ partNumber: number; size: number }> } };

async function tenant(): Promise<{ owner: TestUser; org: TestOrg }> {
  const owner = await createUser();
  return { owner, org: await createOrg(owner, { tier: 'pro' }) };
}

const start = (org: TestOrg, owner: TestUser, size: number, contentType = 'text/plain') =>
  api(`/api/v1/orgs/${org.id}/files/multipart`, { auth: owner, body: { name: 'big.txt', contentType, size } });
const putPart = (org: TestOrg, owner: TestUser, fileId: string, partNumber: number, bytes: Uint8Array) =>
  send(`/api/v1/orgs/${org.id}/files/${fileId}/parts/${partNumber}`, { method: 'PUT', headers: { ...bearer(owner), 'content-type': 'application/octet-stream' }, body: bytes });
const complete = (org: TestOrg, owner: TestUser, fileId: string) => api(`/api/v1/orgs/${org.id}/files/${fileId}/complete`, { auth: owner, method: 'POST' });

describe('multipart uploads', () => {
  it('resume after a dropped part: list what arrived, send the rest, complete; the hash covers the whole file', async () => {
    const { owner, org } = await tenant();
    const bytes = bytesOf(MULTIPART.minPartBytes + 1000, [], 0x62);
    bytes[MULTIPART.minPartBytes + 10] = 0x0a;
    const started = await start(org, owner, bytes.length);
    expect(started.status).toBe(201);
    const { data } = await json<Upload>(started);
    expect(data.file.status).toBe('pending');
    const id = data.file.id;

    expect((await putPart(org, owner, id, 1, bytes.slice(0, MULTIPART.minPartBytes))).status).toBe(200);
    // The connection drops part way through the second part: what arrived is never recorded as a part.
    const dropping = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(MULTIPART.minPartBytes, MULTIPART.minPartBytes + 100));
        controller.error(new Error('connection dropped'));
      },
    });
    const dropped = await send(`/api/v1/orgs/${org.id}/files/${id}/parts/2`, {
      method: 'PUT',
      headers: { ...bearer(owner), 'content-length': '1000' },
      body: dropping,
    }).catch((error: unknown) => error);
    expect(dropped instanceof Response ? dropped.status : 'dropped').not.toBe(200);
    const lost = await json<Upload>(await api(`/api/v1/orgs/${org.id}/files/${id}/parts`, { auth: owner }));
    expect(lost.data.parts.map((part) => [part.partNumber, part.size])).toEqual([[1, MULTIPART.minPartBytes]]);
    const early = await complete(org, owner, id);
    expect(early.status).toBe(400);
    expect(await early.json()).toMatchObject({ error: { details: { reason: 'size_mismatch' } } });

    expect((await putPart(org, owner, id, 2, bytes.slice(MULTIPART.minPartBytes))).status).toBe(200);
    const done = await complete(org, owner, id);
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ data: { id, status: 'ready', size: bytes.length, sha256: await sha256Hex(bytes) } });
    const object = await env.FILES.get(`orgs/${org.id}/files/${id}`);
    expect(await sha256Hex(new Uint8Array(await (object as R2ObjectBody).arrayBuffer()))).toBe(await sha256Hex(bytes));
    expect((await api(`/api/v1/orgs/${org.id}/files/${id}/parts`, { auth: owner })).status).toBe(404);
  });

  it('two concurrent completes (a retry): one stores the file, the other is 409 and removes nothing', async () => {
    const { owner, org } = await tenant();
    const bytes = bytesOf(MULTIPART.minPartBytes + 10, [], 0x63);
    const { data } = await json<Upload>(await start(org, owner, bytes.length));
    expect((await putPart(org, owner, data.file.id, 1, bytes.slice(0, MULTIPART.minPartBytes))).status).toBe(200);
    expect((await putPart(org, owner, data.file.id, 2, bytes.slice(MULTIPART.minPartBytes))).status).toBe(200);
    const answers = await Promise.all([complete(org, owner, data.file.id), complete(org, owner, data.file.id)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    const [row] = await fileRows(org);
    expect(row).toMatchObject({ status: 'ready', size: bytes.length, sha256: await sha256Hex(bytes), uploadId: null });
    const object = await env.FILES.get(`orgs/${org.id}/files/${data.file.id}`);
    expect(await sha256Hex(new Uint8Array(await (object as R2ObjectBody).arrayBuffer()))).toBe(await sha256Hex(bytes));
  });

  it('a completed file whose bytes are not its type is removed with its row (executable declared as text)', async () => {
    const { owner, org } = await tenant();
    const bytes = bytesOf(MULTIPART.minPartBytes + 10, [0x4d, 0x5a]);
    const { data } = await json<Upload>(await start(org, owner, bytes.length));
    expect((await putPart(org, owner, data.file.id, 1, bytes.slice(0, MULTIPART.minPartBytes))).status).toBe(200);
    expect((await putPart(org, owner, data.file.id, 2, bytes.slice(MULTIPART.minPartBytes))).status).toBe(200);
    const done = await complete(org, owner, data.file.id);
    expect(done.status).toBe(415);
    expect(await storedKeys(org)).toEqual([]);
    expect(await fileRows(org)).toEqual([]);
  });

  it('parts beyond the declared size are 413, part numbers beyond what it allows 400; a small part that is not the last is refused at completion', async () => {
    const { owner, org } = await tenant();
    // Every part but the last holds at least minPartBytes: this size has at most two parts.
    const { data } = await json<Upload>(await start(org, owner, MULTIPART.minPartBytes + 2000));
    expect((await putPart(org, owner, data.file.id, 1, bytesOf(MULTIPART.minPartBytes + 2001))).status).toBe(413);
    const third = await putPart(org, owner, data.file.id, 3, bytesOf(10));
    expect(third.status).toBe(400);
    expect(await third.json()).toMatchObject({ error: { details: { reason: 'too_many_parts', maxParts: 2 } } });
    expect((await putPart(org, owner, data.file.id, 1, bytesOf(1000))).status).toBe(200);
    expect((await putPart(org, owner, data.file.id, 2, bytesOf(1000))).status).toBe(200);
    const done = await complete(org, owner, data.file.id);
    expect(await done.json()).toMatchObject({ error: { details: { reason: 'part_too_small', partNumber: 1 } } });
  });

  it('parts of unequal size (R2 wants every part but the last the same, the last no larger) are 400 before R2 is asked; the upload stays resumable', async () => {
    const { owner, org } = await tenant();
    const part = MULTIPART.minPartBytes;
    const bytes = bytesOf(2 * part + 10, [], 0x64);
    bytes[part + 7] = 0x0a;
    const { data } = await json<Upload>(await start(org, owner, bytes.length));
    const id = data.file.id;
    expect((await putPart(org, owner, id, 1, bytes.slice(0, part))).status).toBe(200);
    expect((await putPart(org, owner, id, 2, bytes.slice(part))).status).toBe(200);
    const unequal = await complete(org, owner, id);
    expect(unequal.status).toBe(400);
    expect(await unequal.json()).toMatchObject({ error: { details: { reason: 'unequal_parts', partNumber: 2, partBytes: part } } });
    const listed = await api(`/api/v1/orgs/${org.id}/files/${id}/parts`, { auth: owner });
    expect(listed.status).toBe(200);
    expect((await json<Upload>(listed)).data.parts.map((p) => p.size)).toEqual([part, part + 10]);

    // Resent at equal size (the second part first, so each fits the declared size): stored, whole.
    const half = part + 5;
    expect((await putPart(org, owner, id, 2, bytes.slice(half))).status).toBe(200);
    expect((await putPart(org, owner, id, 1, bytes.slice(0, half))).status).toBe(200);
    const done = await complete(org, owner, id);
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ data: { id, status: 'ready', size: bytes.length, sha256: await sha256Hex(bytes) } });
    const object = await env.FILES.get(`orgs/${org.id}/files/${id}`);
    expect(await sha256Hex(new Uint8Array(await (object as R2ObjectBody).arrayBuffer()))).toBe(await sha256Hex(bytes));
  });

  it('R2 refusing to join the parts releases the claim (503): the row and the R2 upload stay, a resent part completes', async () => {
    const { owner, org } = await tenant();
    const bytes = bytesOf(5000, [], 0x65);
    const { data } = await json<Upload>(await start(org, owner, bytes.length));
    const id = data.file.id;
    expect((await putPart(org, owner, id, 1, bytes)).status).toBe(200);
    // A part R2 does not know (as if its record were stale): R2's complete fails.
    await ownerDb.http.update(files).set({ parts: { '1': { etag: 'not-an-etag', size: bytes.length } } }).where(eq(files.id, id));
    const failed = await complete(org, owner, id);
    expect(failed.status).toBe(503);
    const [row] = await fileRows(org);
    expect(row).toMatchObject({ status: 'pending', uploadId: expect.not.stringMatching(/^completing:/) as unknown });
    expect(row?.uploadId).toBeTruthy();
    expect((await api(`/api/v1/orgs/${org.id}/files/${id}/parts`, { auth: owner })).status).toBe(200);

    expect((await putPart(org, owner, id, 1, bytes)).status).toBe(200);
    const done = await complete(org, owner, id);
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ data: { id, status: 'ready', sha256: await sha256Hex(bytes) } });
  });

  it('abort (DELETE of a pending upload) removes the reservation and the parts', async () => {
    const { owner, org } = await tenant();
    const { data } = await json<Upload>(await start(org, owner, 5000));
    expect((await putPart(org, owner, data.file.id, 1, bytesOf(5000))).status).toBe(200);
    expect((await api(`/api/v1/orgs/${org.id}/files/${data.file.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect(await fileRows(org)).toEqual([]);
    expect((await putPart(org, owner, data.file.id, 2, bytesOf(10))).status).toBe(404);
    expect(await storedKeys(org)).toEqual([]);
  });

  it('an abandoned upload is aborted and its reservation released by the cleanup task once it expires', async () => {
    const { owner, org } = await tenant();
    const { data } = await json<Upload>(await start(org, owner, 5000));
    expect((await putPart(org, owner, data.file.id, 1, bytesOf(5000))).status).toBe(200);
    await cleanupFiles({ env, db: testDb(), scheduledTime: Date.now() });
    expect(await fileRows(org)).toHaveLength(1);
    await cleanupFiles({ env, db: testDb(), scheduledTime: Date.now() + (FILE_RETENTION.pendingSeconds + 60) * 1000 });
    expect(await fileRows(org)).toEqual([]);
    expect(await storedKeys(org)).toEqual([]);
  });

  it('start refuses a size beyond the quota and a type outside the allowlist, creating nothing', async () => {
    const { owner, org } = await tenant();
    expect((await start(org, owner, 200 * 2 ** 40)).status).toBe(400);
    expect((await start(org, owner, 2 ** 31)).status).toBe(413);
    expect((await start(org, owner, 100, 'application/x-msdownload')).status).toBe(400);
    expect(await fileRows(org)).toEqual([]);
  });
});
