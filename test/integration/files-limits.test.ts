import { and, asc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { rateLimiterFor } from '../../durable-objects/rate-limiter/index.ts';
import { files, webhookMessages } from '../../src/db/schema/index.ts';
import { CALLER_RATE_LIMITS, FILE_LIMITS, FILE_RETENTION, MULTIPART, REQUEST_BODY_MAX_BYTES, TEXT_FILE_MAX_BYTES } from '../../src/lib/limits.ts';
import { fanOut } from '../../src/services/webhook-fanout.ts';
import { ORPHAN_AGE_MS, cleanupFiles, sweepOrphans } from '../../workers/tasks/files-cleanup.ts';
import { api, createOrg, createPlatformAdmin, createUser, json, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { bearer, bytesOf, fileRows, pathOf, PNG_HEAD, send, sha256Hex, storedKeys, uploadFile } from '../helpers/files.ts';
import { openApiDocument } from '../helpers/route-matrix.ts';
import { receiverUrl, recordingQueue } from '../helpers/webhooks.ts';
import { env, testDb } from '../helpers/worker.ts';

/**
 * The limits around files: one request's body (the Cloudflare plan's cap), text files' own cap, a platform admin's
 * overrides of the tier's file figures, the per-IP limit of signed downloads; what the cleanup task removes besides
 * due rows (orphan objects, deleted orgs' files); the file events of the webhook catalogue.
 */
type FileBody = { data: { id: string } };

async function tenant(tier: 'free' | 'pro' | 'enterprise' = 'enterprise'): Promise<{ owner: TestUser; org: TestOrg }> {
  const owner = await createUser();
  return { owner, org: await createOrg(owner, { tier }) };
}

const uploadUrl = (org: TestOrg, owner: TestUser, body: Record<string, unknown>) => api(`/api/v1/orgs/${org.id}/files/upload-url`, { auth: owner, body });

describe('request body and type caps', () => {
  it('a body past what one request may carry is 413 use_multipart before a byte is read; such a file goes multipart', async () => {
    const { owner, org } = await tenant();
    const size = REQUEST_BODY_MAX_BYTES + 1;
    // The stream announces more than it holds: the answer comes from Content-Length alone.
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array(PNG_HEAD));
        controller.close();
      },
    });
    const direct = await send(`/api/v1/orgs/${org.id}/files?name=big.png`, {
      method: 'POST',
      headers: { ...bearer(owner), 'content-type': 'image/png', 'content-length': String(size) },
      body,
    });
    expect(direct.status).toBe(413);
    expect(await direct.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', details: { reason: 'use_multipart', maxBytes: REQUEST_BODY_MAX_BYTES } } });

    const signed = await uploadUrl(org, owner, { name: 'big.png', contentType: 'image/png', size });
    expect(signed.status).toBe(413);
    expect(await signed.json()).toMatchObject({ error: { details: { reason: 'use_multipart', maxBytes: REQUEST_BODY_MAX_BYTES } } });

    const multipart = await api(`/api/v1/orgs/${org.id}/files/multipart`, { auth: owner, body: { name: 'big.png', contentType: 'image/png', size } });
    expect(multipart.status).toBe(201);
    const started = await json<{ data: { maxPartBytes: number } }>(multipart);
    expect(started.data.maxPartBytes).toBe(Math.min(MULTIPART.maxPartBytes, REQUEST_BODY_MAX_BYTES));
    expect((await fileRows(org)).map((row) => row.status)).toEqual(['pending']);
    expect(await storedKeys(org)).toEqual([]);

    const operation = openApiDocument.paths?.['/api/v1/orgs/{orgId}/files']?.post;
    expect(JSON.stringify(operation?.responses?.['413'])).toContain('use_multipart');
  });

  it('text types are capped lower than the tier (their UTF-8 check reads every byte); binary types are not', async () => {
    const { owner, org } = await tenant('pro');
    const text = await uploadUrl(org, owner, { name: 'log.txt', contentType: 'text/plain', size: TEXT_FILE_MAX_BYTES + 1 });
    expect(text.status).toBe(413);
    expect(await text.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE', details: { maxBytes: TEXT_FILE_MAX_BYTES } } });
    const multipart = await api(`/api/v1/orgs/${org.id}/files/multipart`, { auth: owner, body: { name: 'log.csv', contentType: 'text/csv', size: TEXT_FILE_MAX_BYTES + 1 } });
    expect(multipart.status).toBe(413);
    expect((await uploadUrl(org, owner, { name: 'big.png', contentType: 'image/png', size: TEXT_FILE_MAX_BYTES + 1 })).status).toBe(201);
    expect((await uploadUrl(org, owner, { name: 'log.txt', contentType: 'text/plain', size: TEXT_FILE_MAX_BYTES })).status).toBe(201);
  });
});

describe('file figures a platform admin overrides', () => {
  type Storage = { usedBytes: number; limitBytes: number; maxUploadBytes: number };
  const overrideFiles = (org: TestOrg, admin: TestUser, files?: Record<string, number>) =>
    api(`/api/v1/admin/orgs/${org.id}`, { method: 'PATCH', auth: admin, body: { limitOverrides: files ? { files } : {} } });
  const storage = async (org: TestOrg, owner: TestUser) => (await json<{ data: { storage: Storage } }>(await api(`/api/v1/orgs/${org.id}/usage`, { auth: owner }))).data.storage;
  const filler = (org: TestOrg, owner: TestUser, size: number) =>
    ownerDb.http.insert(files).values({ orgId: org.id, name: 'filler', size, contentType: 'text/plain', sha256: '0'.repeat(64), status: 'ready', uploaderType: 'user', uploaderId: owner.id });
  const png = (size: number) => bytesOf(size, PNG_HEAD, 5);

  it('a storage override above the tier’s admits, from the next request, what the tier refuses (simple and signed uploads), and nothing past it', async () => {
    const admin = await createPlatformAdmin();
    const { owner, org } = await tenant('free');
    const tierLimit = FILE_LIMITS.free.storageBytes;
    await filler(org, owner, tierLimit - 1_000);
    const refused = await uploadFile(org, owner, png(2_000), { type: 'image/png', name: 'a.png' });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: 'QUOTA_EXCEEDED', details: { resource: 'storageBytes', limit: tierLimit } } });

    const raised = tierLimit + 100_000;
    expect((await overrideFiles(org, admin, { storageBytes: raised })).status).toBe(200);
    expect((await uploadFile(org, owner, png(2_000), { type: 'image/png', name: 'a.png' })).status).toBe(201);
    // The signed upload is checked twice in SQL (app_check_storage): when signed and when its bytes arrive.
    const bytes = png(3_000);
    const signed = await uploadUrl(org, owner, { name: 'b.png', contentType: 'image/png', size: bytes.length });
    expect(signed.status).toBe(201);
    const { data } = await json<{ data: { upload: { url: string } } }>(signed);
    const put = await send(pathOf(data.upload.url), { method: 'PUT', headers: { 'content-type': 'image/png' }, body: bytes });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ data: { status: 'ready', sha256: await sha256Hex(bytes) } });
    const used = tierLimit - 1_000 + 2_000 + 3_000;
    expect(await storage(org, owner)).toEqual({ usedBytes: used, limitBytes: raised, maxUploadBytes: FILE_LIMITS.free.maxUploadBytes });

    const past = await uploadFile(org, owner, png(raised - used + 1), { type: 'image/png', name: 'c.png' });
    expect(past.status).toBe(403);
    expect(await past.json()).toMatchObject({ error: { code: 'QUOTA_EXCEEDED', details: { resource: 'storageBytes', limit: raised, used } } });
    expect(await storedKeys(org)).toHaveLength(2);
  });

  it('a signed upload whose override is cleared before its bytes arrive is refused at the finish (the quota read under the org lock), nothing left', async () => {
    const admin = await createPlatformAdmin();
    const { owner, org } = await tenant('free');
    await filler(org, owner, FILE_LIMITS.free.storageBytes - 1_000);
    await overrideFiles(org, admin, { storageBytes: FILE_LIMITS.free.storageBytes + 100_000 });
    const bytes = png(3_000);
    const { data } = await json<{ data: { upload: { url: string } } }>(await uploadUrl(org, owner, { name: 'b.png', contentType: 'image/png', size: bytes.length }));
    expect((await overrideFiles(org, admin)).status).toBe(200);
    const put = await send(pathOf(data.upload.url), { method: 'PUT', headers: { 'content-type': 'image/png' }, body: bytes });
    expect(put.status).toBe(403);
    expect(await put.json()).toMatchObject({ error: { code: 'QUOTA_EXCEEDED', details: { resource: 'storageBytes', limit: FILE_LIMITS.free.storageBytes } } });
    expect(await storedKeys(org)).toEqual([]);
    expect((await fileRows(org)).map((row) => row.name)).toEqual(['filler']);
  });

  it('a multipart upload whose storage override is lowered between start and complete is refused at completion (403), no object, no row', async () => {
    const admin = await createPlatformAdmin();
    const { owner, org } = await tenant('free');
    await filler(org, owner, FILE_LIMITS.free.storageBytes - 1_000);
    await overrideFiles(org, admin, { storageBytes: FILE_LIMITS.free.storageBytes + 100_000 });
    const bytes = png(3_000);
    const started = await api(`/api/v1/orgs/${org.id}/files/multipart`, { auth: owner, body: { name: 'm.png', contentType: 'image/png', size: bytes.length } });
    expect(started.status).toBe(201);
    const { data } = await json<{ data: { file: { id: string } } }>(started);
    const part = await send(`/api/v1/orgs/${org.id}/files/${data.file.id}/parts/1`, { method: 'PUT', headers: bearer(owner), body: bytes });
    expect(part.status).toBe(200);
    expect((await overrideFiles(org, admin, { storageBytes: FILE_LIMITS.free.storageBytes })).status).toBe(200);
    const done = await api(`/api/v1/orgs/${org.id}/files/${data.file.id}/complete`, { auth: owner, method: 'POST' });
    expect(done.status).toBe(403);
    expect(await done.json()).toMatchObject({ error: { code: 'QUOTA_EXCEEDED', details: { resource: 'storageBytes', limit: FILE_LIMITS.free.storageBytes } } });
    expect(await storedKeys(org)).toEqual([]);
    expect((await fileRows(org)).map((row) => row.name)).toEqual(['filler']);
  });

  it('a lower largest file refuses, with 413 and nothing left, what the tier accepts (simple, signed and multipart); {} restores the tier’s', async () => {
    const admin = await createPlatformAdmin();
    const { owner, org } = await tenant('pro');
    const changed = await overrideFiles(org, admin, { maxUploadBytes: 1_000 });
    expect(changed.status).toBe(200);
    const tooLarge = { error: { code: 'PAYLOAD_TOO_LARGE', details: { maxBytes: 1_000 } } };
    const simple = await uploadFile(org, owner, png(1_001), { type: 'image/png', name: 'a.png' });
    expect(simple.status).toBe(413);
    expect(await simple.json()).toMatchObject(tooLarge);
    const signed = await uploadUrl(org, owner, { name: 'a.png', contentType: 'image/png', size: 1_001 });
    expect(signed.status).toBe(413);
    expect(await signed.json()).toMatchObject(tooLarge);
    const multipart = await api(`/api/v1/orgs/${org.id}/files/multipart`, { auth: owner, body: { name: 'a.png', contentType: 'image/png', size: 1_001 } });
    expect(multipart.status).toBe(413);
    expect(await multipart.json()).toMatchObject(tooLarge);
    expect(await storedKeys(org)).toEqual([]);
    expect(await fileRows(org)).toEqual([]);
    expect(await storage(org, owner)).toEqual({ usedBytes: 0, limitBytes: FILE_LIMITS.pro.storageBytes, maxUploadBytes: 1_000 });
    expect((await uploadFile(org, owner, png(1_000), { type: 'image/png', name: 'a.png' })).status).toBe(201);

    expect((await overrideFiles(org, admin)).status).toBe(200);
    expect((await uploadFile(org, owner, png(1_001), { type: 'image/png', name: 'b.png' })).status).toBe(201);
    expect(await storage(org, owner)).toEqual({ usedBytes: 2_001, limitBytes: FILE_LIMITS.pro.storageBytes, maxUploadBytes: FILE_LIMITS.pro.maxUploadBytes });
  });
});

describe('signed downloads are limited per client IP', () => {
  it('past the per-IP limit a signed download is 429 (declared in OpenAPI); another address still downloads', async () => {
    const { owner, org } = await tenant();
    const { data } = await json<FileBody>(await uploadFile(org, owner, bytesOf(100)));
    const signed = await json<{ data: { url: string } }>(await api(`/api/v1/orgs/${org.id}/files/${data.id}/download-url`, { auth: owner, body: {} }));
    const limit = CALLER_RATE_LIMITS.ip.download ?? 0;
    expect(limit).toBeGreaterThan(0);
    const address = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
    const download = (from: string) => send(pathOf(signed.data.url), { headers: { 'cf-connecting-ip': from } });
    expect((await download(address)).status).toBe(200);
    // The rest of the minute's allowance spent at once, as `limit - 1` downloads would.
    await rateLimiterFor(env, `ip:${address}`).limit([{ key: 'download', limit, windowMs: 60_000 }], limit - 1);
    const refused = await download(address);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ error: { code: 'RATE_LIMITED', details: { policy: { name: 'download', limit } } } });
    expect((await download('198.51.100.0')).status).toBe(200);
    const operation = openApiDocument.paths?.['/api/v1/files/{fileId}/content']?.get as { responses?: Record<string, unknown>; 'x-rate-limit-class'?: string } | undefined;
    expect(operation?.['x-rate-limit-class']).toBe('download');
    expect(operation?.responses?.['429']).toBeDefined();
  });
});

describe('cleanup beyond due rows', () => {
  it('an object with no row (the Worker died between the put and the insert) is deleted once it is an hour old; files with rows stay', async () => {
    const { owner, org } = await tenant();
    const { data } = await json<FileBody>(await uploadFile(org, owner, bytesOf(10)));
    const orphan = `orgs/${org.id}/files/${crypto.randomUUID()}`;
    const other = `orgs/${org.id}/exports/report.csv`;
    await env.FILES.put(orphan, 'left behind');
    await env.FILES.put(other, 'not a file object');
    const db = testDb();
    await sweepOrphans({ env, db, scheduledTime: Date.now() });
    expect((await storedKeys(org)).sort()).toEqual([orphan, `orgs/${org.id}/files/${data.id}`, other].sort());
    await sweepOrphans({ env, db, scheduledTime: Date.now() + ORPHAN_AGE_MS + 60_000 });
    expect((await storedKeys(org)).sort()).toEqual([`orgs/${org.id}/files/${data.id}`, other].sort());
    expect(await fileRows(org)).toHaveLength(1);
  });

  it("a deleted org's files (stored and pending) are removed, objects and rows, after the retention period", async () => {
    const { owner, org } = await tenant();
    await uploadFile(org, owner, bytesOf(10));
    const started = await api(`/api/v1/orgs/${org.id}/files/multipart`, { auth: owner, body: { name: 'v.zip', contentType: 'application/zip', size: MULTIPART.minPartBytes + 1 } });
    expect(started.status).toBe(201);
    const fileId = (await json<{ data: { file: { id: string } } }>(started)).data.file.id;
    const [pending] = (await fileRows(org)).filter((row) => row.id === fileId);
    const upload = env.FILES.resumeMultipartUpload(`orgs/${org.id}/files/${fileId}`, pending?.uploadId ?? '');
    expect((await api(`/api/v1/orgs/${org.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    const db = testDb();
    await cleanupFiles({ env, db, scheduledTime: Date.now() });
    expect(await fileRows(org)).toHaveLength(2);
    expect(await storedKeys(org)).toHaveLength(1);
    // Within the retention period R2's multipart upload is still open.
    expect((await upload.uploadPart(1, bytesOf(10))).partNumber).toBe(1);
    await cleanupFiles({ env, db, scheduledTime: Date.now() + (FILE_RETENTION.deletedSeconds + 60) * 1000 });
    expect(await fileRows(org)).toEqual([]);
    expect(await storedKeys(org)).toEqual([]);
    await expect(upload.uploadPart(2, bytesOf(10))).rejects.toThrow();
  });
});

describe('file events in the webhook catalogue', () => {
  it('file.stored for a simple and a signed upload, file.deleted for a soft delete; pending rows, aborts and purges are no events', async () => {
    const { owner, org } = await tenant();
    const endpoint = await api(`/api/v1/orgs/${org.id}/webhooks`, { auth: owner, body: { url: receiverUrl(), eventTypes: ['file.stored', 'file.deleted'] } });
    expect(endpoint.status).toBe(201);
    const endpointId = (await json<{ data: { id: string } }>(endpoint)).data.id;

    const simple = (await json<FileBody>(await uploadFile(org, owner, bytesOf(10)))).data.id;
    const signed = await json<{ data: { file: { id: string }; upload: { url: string } } }>(await uploadUrl(org, owner, { name: 'a.txt', contentType: 'text/plain', size: 5 }));
    const put = await send(pathOf(signed.data.upload.url), { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: bytesOf(5) });
    expect(put.status).toBe(200);
    const aborted = await json<{ data: { file: { id: string } } }>(
      await api(`/api/v1/orgs/${org.id}/files/multipart`, { auth: owner, body: { name: 'v.zip', contentType: 'application/zip', size: 100 } }),
    );
    expect((await api(`/api/v1/orgs/${org.id}/files/${aborted.data.file.id}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    expect((await api(`/api/v1/orgs/${org.id}/files/${simple}`, { method: 'DELETE', auth: owner })).status).toBe(204);
    await cleanupFiles({ env, db: testDb(), scheduledTime: Date.now() + (FILE_RETENTION.deletedSeconds + 60) * 1000 });

    await fanOut(testDb(), recordingQueue().queue, org.id, new Date());
    const messages = await ownerDb.http
      .select()
      .from(webhookMessages)
      .where(and(eq(webhookMessages.orgId, org.id), eq(webhookMessages.endpointId, endpointId)))
      .orderBy(asc(webhookMessages.auditSeq));
    const events = messages.map((message) => [message.eventType, (message.payload as { data: { id: string } }).data.id]);
    expect(events).toEqual([
      ['file.stored', simple],
      ['file.stored', signed.data.file.id],
      ['file.deleted', simple],
    ]);
    const published = Object.keys(openApiDocument.webhooks ?? {});
    expect(published).toEqual(expect.arrayContaining(['file.stored', 'file.deleted']));
  });
});
