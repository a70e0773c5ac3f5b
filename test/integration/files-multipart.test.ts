import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, files } from '../../src/db/schema/index.ts';
import { FILE_LIMITS, FILE_RETENTION, MULTIPART } from '../../src/lib/limits.ts';
import { CLAIM_MARGIN_SECONDS, claimCompletion, markReady } from '../../src/services/files.ts';
import { cleanupFiles } from '../../workers/tasks/files-cleanup.ts';
import { api, createApiKey, createOrg, createUser, json, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
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

/** R2's multipart upload id the row of `fileId` keeps. */
async function r2UploadId(fileId: string): Promise<string> {
  const [row] = await ownerDb.http.select({ uploadId: files.uploadId }).from(files).where(eq(files.id, fileId));
  if (!row?.uploadId) throw new Error('no upload id');
  return row.uploadId;
}

/** Whether R2 still takes parts for the upload (an aborted one rejects them). */
async function r2TakesParts(org: TestOrg, fileId: string, uploadId: string): Promise<boolean> {
  const upload = env.FILES.resumeMultipartUpload(`orgs/${org.id}/files/${fileId}`, uploadId);
  return upload.uploadPart(2, bytesOf(10)).then(
    () => true,
    () => false,
  );
}

const auditOf = (org: TestOrg, fileId: string) =>
  ownerDb.http.select().from(auditLogs).where(and(eq(auditLogs.orgId, org.id), eq(auditLogs.targetId, fileId))).orderBy(auditLogs.seq);

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

  it('two concurrent completes (a retry): one stores the file, the other is 409 (or 404 once it is stored) and removes nothing', async () => {
    const { owner, org } = await tenant();
    const bytes = bytesOf(MULTIPART.minPartBytes + 10, [], 0x63);
    const { data } = await json<Upload>(await start(org, owner, bytes.length));
    expect((await putPart(org, owner, data.file.id, 1, bytes.slice(0, MULTIPART.minPartBytes))).status).toBe(200);
    expect((await putPart(org, owner, data.file.id, 2, bytes.slice(MULTIPART.minPartBytes))).status).toBe(200);
    const answers = await Promise.all([complete(org, owner, data.file.id), complete(org, owner, data.file.id)]);
    // The loser is 409 while the winner is completing; a loser slow enough to look after the winner stored the file
    // finds no upload in progress: 404, as documented for a completed upload. Either way it removes nothing.
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses[0]).toBe(200);
    expect([404, 409]).toContain(statuses[1]);
    const loser = answers.find((answer) => answer.status !== 200);
    expect((await json<{ error: { code: string } }>(loser as Response)).error.code).toBe(statuses[1] === 409 ? 'CONFLICT' : 'NOT_FOUND');
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

  it('R2 joined the parts but its answer was lost: the retried complete finds the object and stores the file (200, its hash)', async () => {
    const { owner, org } = await tenant();
    const bytes = bytesOf(5000, [], 0x68);
    const id = (await json<Upload>(await start(org, owner, bytes.length))).data.file.id;
    const part = await json<{ data: { etag: string } }>(await putPart(org, owner, id, 1, bytes));
    // The first complete's R2 call succeeded, then its reply never came back (the claim was released).
    await env.FILES.resumeMultipartUpload(`orgs/${org.id}/files/${id}`, await r2UploadId(id)).complete([{ partNumber: 1, etag: part.data.etag }]);
    const done = await complete(org, owner, id);
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ data: { id, status: 'ready', size: bytes.length, sha256: await sha256Hex(bytes) } });
    const [row] = await fileRows(org);
    expect(row).toMatchObject({ status: 'ready', uploadId: null, expiresAt: null });
  });

  it(`an upload expired or within ${CLAIM_MARGIN_SECONDS} s of expiring cannot be completed (404): nothing is stored, the cleanup task removes it`, async () => {
    const { owner, org } = await tenant();
    const bytes = bytesOf(5000, [], 0x69);
    const id = (await json<Upload>(await start(org, owner, bytes.length))).data.file.id;
    expect((await putPart(org, owner, id, 1, bytes)).status).toBe(200);
    const expiresIn = async (seconds: number) => ownerDb.http.update(files).set({ expiresAt: sql`now() + make_interval(secs => ${seconds})` }).where(eq(files.id, id));

    // Too late to finish before the cleanup task may take it.
    await expiresIn(CLAIM_MARGIN_SECONDS - 60);
    const late = await complete(org, owner, id);
    expect(late.status).toBe(404);
    expect(await storedKeys(org)).toEqual([]);
    expect(await fileRows(org)).toMatchObject([{ status: 'pending', uploadId: expect.not.stringMatching(/^completing:/) as unknown }]);

    await expiresIn(-1);
    expect((await complete(org, owner, id)).status).toBe(404);
    expect(await storedKeys(org)).toEqual([]);
    await cleanupFiles({ env, db: testDb(), scheduledTime: Date.now() });
    expect(await fileRows(org)).toEqual([]);
    expect(await storedKeys(org)).toEqual([]);
  });

  it('a completion racing the cleanup task: once the task emptied the expired upload, marking it ready takes no row; nothing is left', async () => {
    const { owner, org } = await tenant();
    const bytes = bytesOf(5000, [], 0x6a);
    const id = (await json<Upload>(await start(org, owner, bytes.length))).data.file.id;
    const part = await json<{ data: { etag: string } }>(await putPart(org, owner, id, 1, bytes));
    const uploadId = await r2UploadId(id);
    const key = `orgs/${org.id}/files/${id}`;
    const sha256 = await sha256Hex(bytes);
    // The handler's steps, driven one by one so the task can run between them. Without the claim: nothing.
    expect(await markReady(ownerDb.http, id, uploadId, bytes.length, sha256)).toEqual([]);
    expect(await claimCompletion(ownerDb.http, id, uploadId)).toHaveLength(1);
    await env.FILES.resumeMultipartUpload(key, uploadId).complete([{ partNumber: 1, etag: part.data.etag }]);
    expect(await env.FILES.head(key)).not.toBeNull();
    // Reading the file back took the upload past its expiry; the task found it due and deleted the object…
    await ownerDb.http.update(files).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(files.id, id));
    await env.FILES.delete(key);
    // …before the completion's markReady, which must not store a file without bytes.
    expect(await markReady(ownerDb.http, id, uploadId, bytes.length, sha256)).toEqual([]);
    await cleanupFiles({ env, db: testDb(), scheduledTime: Date.now() });
    expect(await fileRows(org)).toEqual([]);
    expect(await storedKeys(org)).toEqual([]);
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

  it('abort, expiry and a completion left half-way all abort the R2 upload itself: it takes no more parts', async () => {
    const { owner, org } = await tenant();
    const aborted = (await json<Upload>(await start(org, owner, 5000))).data.file.id;
    const abortedUpload = await r2UploadId(aborted);
    expect(await r2TakesParts(org, aborted, abortedUpload)).toBe(true);
    expect((await api(`/api/v1/orgs/${org.id}/files/${aborted}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect(await r2TakesParts(org, aborted, abortedUpload)).toBe(false);

    const expired = (await json<Upload>(await start(org, owner, 5000))).data.file.id;
    const expiredUpload = await r2UploadId(expired);
    // A Worker that died between its completion claim and R2's complete leaves the claim in upload_id.
    const stuck = (await json<Upload>(await start(org, owner, 5000))).data.file.id;
    const stuckUpload = await r2UploadId(stuck);
    await ownerDb.http.update(files).set({ uploadId: `completing:${stuckUpload}` }).where(eq(files.id, stuck));
    await cleanupFiles({ env, db: testDb(), scheduledTime: Date.now() + (FILE_RETENTION.pendingSeconds + 60) * 1000 });
    expect(await fileRows(org)).toEqual([]);
    expect(await r2TakesParts(org, expired, expiredUpload)).toBe(false);
    expect(await r2TakesParts(org, stuck, stuckUpload)).toBe(false);
  });

  it('audit: start and completion as the API key that made them (its uploader columns too), abort as the member who aborted', async () => {
    const { owner, org } = await tenant();
    const key = await createApiKey(org, { scopes: ['files:read', 'files:write'] });
    const bytes = bytesOf(5000, [], 0x66);
    const started = await api(`/api/v1/orgs/${org.id}/files/multipart`, { auth: { apiKey: key.key }, body: { name: 'k.txt', contentType: 'text/plain', size: bytes.length } });
    expect(started.status).toBe(201);
    const stored = (await json<Upload>(started)).data.file.id;
    const part = await send(`/api/v1/orgs/${org.id}/files/${stored}/parts/1`, { method: 'PUT', headers: { authorization: `Bearer ${key.key}` }, body: bytes });
    expect(part.status).toBe(200);
    expect((await api(`/api/v1/orgs/${org.id}/files/${stored}/complete`, { auth: { apiKey: key.key }, method: 'POST' })).status).toBe(200);
    const abortedId = (await json<Upload>(await start(org, owner, 5000))).data.file.id;
    expect((await api(`/api/v1/orgs/${org.id}/files/${abortedId}`, { method: 'DELETE', auth: owner })).status).toBe(204);

    const [row] = await fileRows(org);
    expect(row).toMatchObject({ id: stored, status: 'ready', uploaderType: 'api_key', uploaderId: key.id });
    // Parts and the completion claim are bookkeeping (upload_id, parts): no entries of their own.
    const storedEntries = await auditOf(org, stored);
    expect(storedEntries.map((entry) => [entry.action, entry.actorType, entry.actorId])).toEqual([
      ['file.created', 'api_key', key.id],
      ['file.updated', 'api_key', key.id],
    ]);
    expect(storedEntries[0]?.changes).toMatchObject({ status: 'pending', size: bytes.length, uploader_type: 'api_key', uploader_id: key.id });
    expect(storedEntries[1]?.changes).toMatchObject({ status: { from: 'pending', to: 'ready' }, sha256: { from: null, to: await sha256Hex(bytes) } });
    const abortEntries = await auditOf(org, abortedId);
    expect(abortEntries.map((entry) => [entry.action, entry.actorType, entry.actorId])).toEqual([
      ['file.created', 'user', owner.id],
      ['file.deleted', 'user', owner.id],
    ]);
  });

  it("an outsider naming their own org and a victim's file id: 404 on metadata, delete, parts, a part and complete; the victim's upload is untouched", async () => {
    const { owner, org } = await tenant();
    const outsider = await tenant();
    const bytes = bytesOf(5000, [], 0x67);
    const id = (await json<Upload>(await start(org, owner, bytes.length))).data.file.id;
    expect((await putPart(org, owner, id, 1, bytes)).status).toBe(200);
    const base = `/api/v1/orgs/${outsider.org.id}/files/${id}`;
    const attempts = [
      await api(base, { auth: outsider.owner }),
      await api(base, { method: 'DELETE', auth: outsider.owner }),
      await api(`${base}/parts`, { auth: outsider.owner }),
      await putPart(outsider.org, outsider.owner, id, 1, bytesOf(5000, [], 0x78)),
      await complete(outsider.org, outsider.owner, id),
    ];
    expect(attempts.map((response) => response.status)).toEqual([404, 404, 404, 404, 404]);
    expect(await storedKeys(outsider.org)).toEqual([]);
    expect(await fileRows(outsider.org)).toEqual([]);
    const done = await complete(org, owner, id);
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ data: { id, sha256: await sha256Hex(bytes) } });
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

  it('storage full: start is 403 and creates nothing', async () => {
    const { owner, org } = await tenant();
    await ownerDb.http.insert(files).values({ orgId: org.id, name: 'filler', size: FILE_LIMITS.pro.storageBytes - 1000, contentType: 'text/plain', sha256: '0'.repeat(64), status: 'ready', uploaderType: 'user', uploaderId: owner.id });
    const refused = await start(org, owner, 1001);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: 'QUOTA_EXCEEDED', details: { resource: 'storageBytes' } } });
    expect((await fileRows(org)).map((row) => row.name)).toEqual(['filler']);
    expect(await storedKeys(org)).toEqual([]);
    expect((await start(org, owner, 1000)).status).toBe(201);
  });

  it('start refuses a size beyond the quota and a type outside the allowlist, creating nothing', async () => {
    const { owner, org } = await tenant();
    expect((await start(org, owner, 200 * 2 ** 40)).status).toBe(400);
    expect((await start(org, owner, 2 ** 31)).status).toBe(413);
    expect((await start(org, owner, 100, 'application/x-msdownload')).status).toBe(400);
    expect(await fileRows(org)).toEqual([]);
  });
});
