import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs, files } from '../../src/db/schema/index.ts';
import { FILE_LIMITS, FILE_RETENTION } from '../../src/lib/limits.ts';
import { cleanupFiles } from '../../workers/tasks/files-cleanup.ts';
import { api, createMember, createOrg, createProject, createUser, json, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { bearer, bytesOf, fileRows, pathOf, PNG_HEAD, send, sha256Hex, storedKeys, uploadFile } from '../helpers/files.ts';
import { env, testDb } from '../helpers/worker.ts';

/**
 * Files on the real local R2: a streamed upload stores exactly the bytes (hash round trip), checked against their
 * declared type; a refused or failed upload leaves no object and no row; the storage quota holds under a race;
 * list, metadata, soft delete and the cleanup task.
 */
type FileBody = { data: { id: string; size: number; sha256: string; status: string; contentType: string; projectId: string | null } };

async function tenant(tier: 'free' | 'pro' | 'enterprise' = 'pro'): Promise<{ owner: TestUser; org: TestOrg }> {
  const owner = await createUser();
  return { owner, org: await createOrg(owner, { tier }) };
}

/** Makes the org hold `bytes` already (a stored file row, as the schema owner). */
async function fillStorage(org: TestOrg, owner: TestUser, bytes: number) {
  await ownerDb.http.insert(files).values({ orgId: org.id, name: 'filler', size: bytes, contentType: 'text/plain', sha256: '0'.repeat(64), status: 'ready', uploaderType: 'user', uploaderId: owner.id });
}

async function expectNothingStored(org: TestOrg) {
  expect(await storedKeys(org)).toEqual([]);
  expect((await fileRows(org)).filter((row) => row.name !== 'filler')).toEqual([]);
}

describe('streamed upload', () => {
  it('stores the bytes under the org prefix with their SHA-256; metadata, list and usage agree', async () => {
    const { owner, org } = await tenant();
    const project = await createProject(org);
    const bytes = bytesOf(300_000, PNG_HEAD, 7);
    const response = await uploadFile(org, owner, bytes, { type: 'image/png', name: 'photo.png', projectId: project.id });
    expect(response.status).toBe(201);
    const { data } = await json<FileBody>(response);
    expect(data).toMatchObject({ size: bytes.length, sha256: await sha256Hex(bytes), status: 'ready', contentType: 'image/png', projectId: project.id });
    expect(response.headers.get('location')).toBe(`/api/v1/orgs/${org.id}/files/${data.id}`);
    expect(await storedKeys(org)).toEqual([`orgs/${org.id}/files/${data.id}`]);
    const object = await env.FILES.get(`orgs/${org.id}/files/${data.id}`);
    expect(await sha256Hex(new Uint8Array(await (object as R2ObjectBody).arrayBuffer()))).toBe(data.sha256);

    expect(await json(await api(`/api/v1/orgs/${org.id}/files/${data.id}`, { auth: owner }))).toMatchObject({ data: { id: data.id, name: 'photo.png' } });
    const other = await json<FileBody>(await uploadFile(org, owner, bytesOf(10)));
    const listed = await json<{ data: Array<{ id: string }> }>(await api(`/api/v1/orgs/${org.id}/files?projectId=${project.id}`, { auth: owner }));
    expect(listed.data.map((file) => file.id)).toEqual([data.id]);
    const page1 = await json<{ data: Array<{ id: string }>; meta: { nextCursor: string } }>(await api(`/api/v1/orgs/${org.id}/files?limit=1`, { auth: owner }));
    expect(page1.data.map((file) => file.id)).toEqual([other.data.id]);
    const page2 = await json<{ data: Array<{ id: string }>; meta: { nextCursor: string | null } }>(await api(`/api/v1/orgs/${org.id}/files?limit=1&cursor=${page1.meta.nextCursor}`, { auth: owner }));
    expect(page2).toMatchObject({ data: [{ id: data.id }], meta: { nextCursor: null } });

    const usage = await json<{ data: { storage: { usedBytes: number; limitBytes: number; maxUploadBytes: number } } }>(await api(`/api/v1/orgs/${org.id}/usage`, { auth: owner }));
    expect(usage.data.storage).toEqual({ usedBytes: bytes.length + 10, limitBytes: FILE_LIMITS.pro.storageBytes, maxUploadBytes: FILE_LIMITS.pro.maxUploadBytes });
    const [entry] = await ownerDb.http.select().from(auditLogs).where(and(eq(auditLogs.orgId, org.id), eq(auditLogs.targetId, data.id)));
    expect(entry).toMatchObject({ action: 'file.created', actorType: 'user', actorId: owner.id });
  });

  it('type spoofing: a .png name with image/png and executable (MZ) bytes is refused, nothing stored', async () => {
    const { owner, org } = await tenant();
    const response = await uploadFile(org, owner, bytesOf(4096, [0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0]), { type: 'image/png', name: 'cat.png' });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', details: { reason: 'type_mismatch' } } });
    // ELF declared as text, and a PNG declared as a PDF, too.
    expect((await uploadFile(org, owner, bytesOf(64, [0x7f, 0x45, 0x4c, 0x46]), { type: 'text/plain' })).status).toBe(415);
    expect((await uploadFile(org, owner, bytesOf(64, PNG_HEAD), { type: 'application/pdf' })).status).toBe(415);
    // A type outside the allowlist, whatever the bytes.
    const html = await uploadFile(org, owner, new TextEncoder().encode('<script>alert(1)</script>'), { type: 'text/html', name: 'x.html' });
    expect(await html.json()).toMatchObject({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', details: { reason: 'type_not_allowed' } } });
    await expectNothingStored(org);
  });

  it('a text file with a NUL deep inside (found after R2 began) is refused and its object deleted', async () => {
    const { owner, org } = await tenant();
    const bytes = bytesOf(3 * 2 ** 20);
    bytes[2 ** 21] = 0;
    const response = await uploadFile(org, owner, bytes, { type: 'text/csv' });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ error: { details: { reason: 'not_text' } } });
    const invalidUtf8 = bytesOf(100);
    invalidUtf8[99] = 0xc3;
    expect((await uploadFile(org, owner, invalidUtf8, { type: 'application/json' })).status).toBe(415);
    await expectNothingStored(org);
  });

  it('larger than the tier allows: 413 from Content-Length before any byte is stored', async () => {
    const { owner, org } = await tenant('free');
    const response = await uploadFile(org, owner, bytesOf(FILE_LIMITS.free.maxUploadBytes + 1));
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', details: { maxBytes: FILE_LIMITS.free.maxUploadBytes } } });
    await expectNothingStored(org);
  });

  it('beyond the storage quota: 403 QUOTA_EXCEEDED, nothing stored; of two racing uploads that fit only once, exactly one is kept', async () => {
    const { owner, org } = await tenant('free');
    const limit = FILE_LIMITS.free.storageBytes;
    await fillStorage(org, owner, limit - 150_000);
    const over = await uploadFile(org, owner, bytesOf(150_001));
    expect(over.status).toBe(403);
    expect(await over.json()).toMatchObject({ error: { code: 'QUOTA_EXCEEDED', details: { resource: 'storageBytes', limit, used: limit - 150_000 } } });
    await expectNothingStored(org);

    const racing = await Promise.all([uploadFile(org, owner, bytesOf(100_000)), uploadFile(org, owner, bytesOf(100_000))]);
    expect(racing.map((response) => response.status).sort()).toEqual([201, 403]);
    const kept = await json<FileBody>(racing.find((response) => response.status === 201) as Response);
    expect(await storedKeys(org)).toEqual([`orgs/${org.id}/files/${kept.data.id}`]);
    expect((await fileRows(org)).map((row) => row.id).sort()).toHaveLength(2);
  });

  it('refuses a body without Content-Length, an unknown project, and a viewer (no files:write)', async () => {
    const { owner, org } = await tenant();
    const chunked = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('hello'));
        controller.close();
      },
    });
    const noLength = await send(`/api/v1/orgs/${org.id}/files?name=a.txt`, { method: 'POST', headers: { ...bearer(owner), 'content-type': 'text/plain' }, body: chunked });
    expect(noLength.status).toBe(400);
    expect((await uploadFile(org, owner, bytesOf(5), { projectId: crypto.randomUUID() })).status).toBe(404);
    const foreign = await createProject(await createOrg(owner));
    expect((await uploadFile(org, owner, bytesOf(5), { projectId: foreign.id })).status).toBe(404);
    const viewer = await createMember(org, 'viewer');
    expect((await uploadFile(org, viewer, bytesOf(5))).status).toBe(403);
    await expectNothingStored(org);
  });
});

describe('delete and cleanup', () => {
  it('soft delete hides the file at once; the cleanup task removes object and row after the retention period', async () => {
    const { owner, org } = await tenant();
    const { data } = await json<FileBody>(await uploadFile(org, owner, bytesOf(1000)));
    const url = await json<{ data: { url: string } }>(await api(`/api/v1/orgs/${org.id}/files/${data.id}/download-url`, { auth: owner, body: {} }));
    expect((await api(`/api/v1/orgs/${org.id}/files/${data.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect((await api(`/api/v1/orgs/${org.id}/files/${data.id}`, { auth: owner })).status).toBe(404);
    expect((await send(pathOf(url.data.url))).status).toBe(404);
    expect((await api(`/api/v1/orgs/${org.id}/files/${data.id}`, { method: 'DELETE', auth: owner })).status).toBe(404);
    const usage = await json<{ data: { storage: { usedBytes: number } } }>(await api(`/api/v1/orgs/${org.id}/usage`, { auth: owner }));
    expect(usage.data.storage.usedBytes).toBe(0);

    // Within the retention period the bytes stay (a restore remains possible); after it they go, then the row.
    await cleanupFiles({ env, db: testDb(), scheduledTime: Date.now() });
    expect(await storedKeys(org)).toHaveLength(1);
    await cleanupFiles({ env, db: testDb(), scheduledTime: Date.now() + (FILE_RETENTION.deletedSeconds + 60) * 1000 });
    expect(await storedKeys(org)).toEqual([]);
    expect(await fileRows(org)).toEqual([]);
    const entries = await ownerDb.http.select().from(auditLogs).where(and(eq(auditLogs.orgId, org.id), eq(auditLogs.targetId, data.id))).orderBy(auditLogs.seq);
    const actions = entries.map((entry) => entry.action);
    expect(actions).toEqual(['file.created', 'file.url_signed', 'file.deleted', 'file.deleted']);
  });

  it('only managers delete (files:delete); a member gets 403 and the file stays', async () => {
    const { owner, org } = await tenant();
    const { data } = await json<FileBody>(await uploadFile(org, owner, bytesOf(10)));
    const member = await createMember(org, 'member');
    expect((await api(`/api/v1/orgs/${org.id}/files/${data.id}`, { method: 'DELETE', auth: member })).status).toBe(403);
    expect((await api(`/api/v1/orgs/${org.id}/files/${data.id}`, { auth: member })).status).toBe(200);
  });
});
