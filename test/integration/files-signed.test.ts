import { describe, expect, it } from 'vitest';
import { getConfig } from '../../src/config.ts';
import { signGrant, urlKeys } from '../../src/lib/file-signing.ts';
import { FILE_LIMITS } from '../../src/lib/limits.ts';
import { api, createOrg, createUser, json, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { bytesOf, fileRows, pathOf, PNG_HEAD, randomPng, send, sha256Hex, storedKeys, uploadFile } from '../helpers/files.ts';
import { env, request } from '../helpers/worker.ts';
import { and, eq } from 'drizzle-orm';
import { auditLogs, files } from '../../src/db/schema/index.ts';

/**
 * Signed URLs: downloads honour Range, ETag and the conditional headers; a forged, expired or other-tenant
 * signature is one 403 that says nothing more; a signed upload stores exactly the declared bytes once.
 */
type Stored = { data: { id: string; sha256: string; size: number } };
type Signed = { data: { url: string; expiresAt: string } };
const GENERIC = { error: { code: 'FORBIDDEN', message: 'This link is invalid or has expired.' } };

async function tenantWithFile(bytes: Uint8Array, type = 'image/png', name = 'photo.png') {
  const owner = await createUser();
  const org = await createOrg(owner, { tier: 'pro' });
  const stored = await json<Stored>(await uploadFile(org, owner, bytes, { type, name }));
  return { owner, org, file: stored.data };
}

const signDownload = async (org: TestOrg, owner: TestUser, fileId: string, body: object = {}) =>
  pathOf((await json<Signed>(await api(`/api/v1/orgs/${org.id}/files/${fileId}/download-url`, { auth: owner, body }))).data.url);

describe('signed downloads', () => {
  it('round trip: the bytes come back with their hash; ranges, 416, ETag and conditional requests', async () => {
    const bytes = bytesOf(100_000, PNG_HEAD, 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = i < PNG_HEAD.length ? (PNG_HEAD[i] ?? 0) : i % 251;
    const { owner, org, file } = await tenantWithFile(bytes);
    const path = await signDownload(org, owner, file.id);

    const full = await send(path);
    expect(full.status).toBe(200);
    expect(await sha256Hex(new Uint8Array(await full.arrayBuffer()))).toBe(file.sha256);
    const etag = full.headers.get('etag') ?? '';
    const lastModified = full.headers.get('last-modified') ?? '';
    expect(etag).toBe(`"${file.sha256}"`);
    expect(Object.fromEntries(['content-type', 'content-length', 'accept-ranges', 'x-content-type-options'].map((name) => [name, full.headers.get(name)]))).toEqual({
      'content-type': 'image/png',
      'content-length': String(bytes.length),
      'accept-ranges': 'bytes',
      'x-content-type-options': 'nosniff',
    });
    expect(full.headers.get('content-security-policy')).toContain('sandbox');

    const part = await send(path, { headers: { range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${bytes.length}`);
    expect([...new Uint8Array(await part.arrayBuffer())]).toEqual([...bytes.slice(10, 20)]);
    const suffix = await send(path, { headers: { range: 'bytes=-5' } });
    expect([...new Uint8Array(await suffix.arrayBuffer())]).toEqual([...bytes.slice(-5)]);
    const open = await send(path, { headers: { range: `bytes=${bytes.length - 3}-` } });
    expect(open.headers.get('content-range')).toBe(`bytes ${bytes.length - 3}-${bytes.length - 1}/${bytes.length}`);
    const past = await send(path, { headers: { range: `bytes=${bytes.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    expect(await past.json()).toMatchObject({ error: { code: 'RANGE_NOT_SATISFIABLE' } });
    // Several ranges: the whole file (RFC 9110 allows ignoring them).
    expect((await send(path, { headers: { range: 'bytes=0-1,5-6' } })).status).toBe(200);

    const cached = await send(path, { headers: { 'if-none-match': etag } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
    expect((await send(path, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
    expect((await send(path, { headers: { 'if-modified-since': lastModified } })).status).toBe(304);
    expect((await send(path, { headers: { 'if-modified-since': new Date(Date.parse(lastModified) - 60_000).toUTCString() } })).status).toBe(200);
    // If-Range: the range only while the validator still matches.
    expect((await send(path, { headers: { range: 'bytes=0-0', 'if-range': etag } })).status).toBe(206);
    expect((await send(path, { headers: { range: 'bytes=0-0', 'if-range': '"stale"' } })).status).toBe(200);
  });

  it('integrity of random bytes past several 512 KiB chunks: simple and signed upload, signed download; one hash in the answer, in R2 and downloaded', async () => {
    const owner = await createUser();
    const org = await createOrg(owner, { tier: 'pro' });
    const hashOf = async (response: Response) => sha256Hex(new Uint8Array(await response.arrayBuffer()));
    const storedHash = async (fileId: string) => {
      const object = await env.FILES.get(`orgs/${org.id}/files/${fileId}`);
      return object ? sha256Hex(new Uint8Array(await object.arrayBuffer())) : undefined;
    };

    const simpleBytes = randomPng(3 * 2 ** 20 + 123);
    const simple = await uploadFile(org, owner, simpleBytes, { type: 'image/png', name: 'random.png' });
    expect(simple.status).toBe(201);
    const stored = (await json<Stored>(simple)).data;
    const expected = await sha256Hex(simpleBytes);
    expect(stored).toMatchObject({ sha256: expected, size: simpleBytes.length });
    expect(await storedHash(stored.id)).toBe(expected);
    const download = await send(await signDownload(org, owner, stored.id));
    expect(download.status).toBe(200);
    expect(await hashOf(download)).toBe(expected);

    const signedBytes = randomPng(3 * 2 ** 20 + 123);
    const signing = await api(`/api/v1/orgs/${org.id}/files/upload-url`, { auth: owner, body: { name: 'random.png', contentType: 'image/png', size: signedBytes.length } });
    const { data } = await json<{ data: { file: { id: string }; upload: { url: string } } }>(signing);
    const put = await send(pathOf(data.upload.url), { method: 'PUT', headers: { 'content-type': 'image/png' }, body: signedBytes });
    expect(put.status).toBe(200);
    const signedExpected = await sha256Hex(signedBytes);
    expect(await put.json()).toMatchObject({ data: { id: data.file.id, sha256: signedExpected, size: signedBytes.length } });
    expect(await storedHash(data.file.id)).toBe(signedExpected);
    expect(await hashOf(await send(await signDownload(org, owner, data.file.id)))).toBe(signedExpected);
  });

  it('Content-Disposition carries any name safely (RFC 6266 / 8187)', async () => {
    const { owner, org, file } = await tenantWithFile(new TextEncoder().encode('a,b\n1,2\n'), 'text/csv', 'Q1 "report"; ü.csv');
    const response = await send(await signDownload(org, owner, file.id, { disposition: 'attachment' }));
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="Q1 _report__ _.csv"; filename*=UTF-8''Q1%20%22report%22%3B%20%C3%BC.csv`);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
  });

  it('forged, expired, other-file and other-tenant signatures: one 403 with one message', async () => {
    const { owner, org, file } = await tenantWithFile(bytesOf(100, PNG_HEAD));
    const other = await tenantWithFile(bytesOf(100, PNG_HEAD));
    const path = await signDownload(org, owner, file.id);
    const url = new URL(`http://localhost${path}`);
    const sig = url.searchParams.get('sig') ?? '';
    const variant = (change: (u: URL) => void) => {
      const copy = new URL(url);
      change(copy);
      return copy.pathname + copy.search;
    };
    const keys = urlKeys(undefined, getConfig(env).TOKEN_SECRET);
    const expired = await signGrant(keys, { purpose: 'download', fileId: file.id, orgId: org.id, expires: Math.floor(Date.now() / 1000) - 1 });
    const attempts = [
      variant((u) => u.searchParams.set('sig', `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`)),
      variant((u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600))),
      variant((u) => u.searchParams.set('disposition', 'attachment')),
      variant((u) => u.searchParams.set('kid', 'k9')),
      // Another tenant's file id, or the same signature presented for the other org.
      variant((u) => (u.pathname = `/api/v1/files/${other.file.id}/content`)),
      variant((u) => u.searchParams.set('org', other.org.id)),
      `/api/v1/files/${file.id}/content?${expired.toString()}`,
      // An upload signature does not open a download.
      `/api/v1/files/${file.id}/content?${(await signGrant(keys, { purpose: 'upload', fileId: file.id, orgId: org.id, expires: Math.floor(Date.now() / 1000) + 60 })).toString()}`,
    ];
    for (const attempt of attempts) {
      const response = await send(attempt);
      expect({ attempt, status: response.status }).toEqual({ attempt, status: 403 });
      expect(await response.json()).toMatchObject(GENERIC);
    }
    expect((await send(path)).status).toBe(200);
  });

  it('keys rotate: after FILE_URL_KEYS lists a new key first, URLs of the old key still verify until it is dropped', async () => {
    const { owner, org, file } = await tenantWithFile(bytesOf(100, PNG_HEAD));
    const oldPath = await signDownload(org, owner, file.id);
    const secret = getConfig(env).TOKEN_SECRET;
    const rotated = { ...env, FILE_URL_KEYS: `k2:${'n'.repeat(40)},t0:${secret}` };
    const headers = { 'cf-connecting-ip': '198.51.100.7' };
    expect((await request(oldPath, { headers }, { bindings: rotated })).status).toBe(200);
    const grant = { purpose: 'download' as const, fileId: file.id, orgId: org.id, expires: Math.floor(Date.now() / 1000) + 60 };
    const newPath = `/api/v1/files/${file.id}/content?${(await signGrant(urlKeys(rotated.FILE_URL_KEYS, secret), grant)).toString()}`;
    expect(newPath).toContain('kid=k2');
    expect((await request(newPath, { headers }, { bindings: rotated })).status).toBe(200);
    const dropped = { ...env, FILE_URL_KEYS: `k2:${'n'.repeat(40)}` };
    expect((await request(oldPath, { headers }, { bindings: dropped })).status).toBe(403);
    // The new key's URL means nothing where that key is not configured.
    expect((await send(newPath)).status).toBe(403);
  });

  it('a download URL is signed only for a member with files:read of a stored file in that org', async () => {
    const { owner, org, file } = await tenantWithFile(bytesOf(100, PNG_HEAD));
    const stranger = await createUser();
    expect((await api(`/api/v1/orgs/${org.id}/files/${file.id}/download-url`, { auth: stranger, body: {} })).status).toBe(404);
    const mine = await createOrg(owner);
    expect((await api(`/api/v1/orgs/${mine.id}/files/${file.id}/download-url`, { auth: owner, body: {} })).status).toBe(404);
  });
});

describe('signed uploads', () => {
  async function signUpload(org: TestOrg, owner: TestUser, body: Record<string, unknown>) {
    const response = await api(`/api/v1/orgs/${org.id}/files/upload-url`, { auth: owner, body: { name: 'scan.pdf', contentType: 'application/pdf', ...body } });
    return { response, body: (await response.json()) as { data: { file: { id: string; status: string }; upload: { url: string; method: string } } } };
  }
  const pdf = (size: number) => bytesOf(size, [...new TextEncoder().encode('%PDF-1.7\n')]);

  it('reserves the size, takes exactly the declared bytes once without credentials, and audits as the signer', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const bytes = pdf(50_000);
    const { response, body } = await signUpload(org, owner, { size: bytes.length });
    expect(response.status).toBe(201);
    expect(body.data.file.status).toBe('pending');
    const usage = await json<{ data: { storage: { usedBytes: number } } }>(await api(`/api/v1/orgs/${org.id}/usage`, { auth: owner }));
    expect(usage.data.storage.usedBytes).toBe(bytes.length);

    const path = pathOf(body.data.upload.url);
    const put = await send(path, { method: 'PUT', headers: { 'content-type': 'application/pdf' }, body: bytes });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ data: { id: body.data.file.id, status: 'ready', sha256: await sha256Hex(bytes), size: bytes.length } });
    expect(await storedKeys(org)).toEqual([`orgs/${org.id}/files/${body.data.file.id}`]);
    const again = await send(path, { method: 'PUT', headers: { 'content-type': 'application/pdf' }, body: bytes });
    expect(again.status).toBe(409);
    const [row] = await fileRows(org);
    expect(row).toMatchObject({ status: 'ready', size: bytes.length });
    const entries = await ownerDb.http.select().from(auditLogs).where(and(eq(auditLogs.orgId, org.id), eq(auditLogs.targetId, body.data.file.id))).orderBy(auditLogs.seq);
    expect(entries.map((entry) => [entry.action, entry.actorType, entry.actorId])).toEqual([
      ['file.created', 'user', owner.id],
      ['file.updated', 'user', owner.id],
    ]);
  });

  it('concurrent PUTs of one URL (a client retrying on a timeout): one stores, the others are 409 and write nothing; the object matches the row', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const bytes = pdf(300_000);
    const { body } = await signUpload(org, owner, { size: bytes.length });
    const path = pathOf(body.data.upload.url);
    const answers = await Promise.all(Array.from({ length: 4 }, () => send(path, { method: 'PUT', headers: { 'content-type': 'application/pdf' }, body: bytes })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409, 409, 409]);
    const [row] = await fileRows(org);
    expect(row).toMatchObject({ status: 'ready', size: bytes.length, sha256: await sha256Hex(bytes), uploadId: null });
    const object = await env.FILES.get(`orgs/${org.id}/files/${body.data.file.id}`);
    expect(object && (await sha256Hex(new Uint8Array(await object.arrayBuffer())))).toBe(row?.sha256);
  });

  it('wrong size or spoofed type: nothing left behind, the reservation released; too large or beyond the quota: no URL', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const sized = await signUpload(org, owner, { size: 1000 });
    const tooShort = await send(pathOf(sized.body.data.upload.url), { method: 'PUT', body: pdf(999) });
    expect(tooShort.status).toBe(400);
    const spoof = await signUpload(org, owner, { size: 1000 });
    const exe = await send(pathOf(spoof.body.data.upload.url), { method: 'PUT', headers: { 'content-type': 'application/pdf' }, body: bytesOf(1000, [0x4d, 0x5a]) });
    expect(exe.status).toBe(415);
    expect(await storedKeys(org)).toEqual([]);
    expect(await fileRows(org)).toEqual([]);
    // Beyond the quota at signing time: refused before any URL exists.
    const huge = await signUpload(org, owner, { size: FILE_LIMITS.free.maxUploadBytes + 1 });
    expect(huge.response.status).toBe(413);
    await ownerDb.http.insert(files).values({ orgId: org.id, name: 'filler', size: FILE_LIMITS.free.storageBytes - 10, contentType: 'text/plain', sha256: '0'.repeat(64), status: 'ready', uploaderType: 'user', uploaderId: owner.id });
    expect((await signUpload(org, owner, { size: 11 })).response.status).toBe(403);
  });

  it('expired and other-org upload signatures: the same 403 with nothing more, nothing stored, both reservations intact', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const outsider = await createUser();
    const otherOrg = await createOrg(outsider);
    const mine = await signUpload(org, owner, { size: 100 });
    const theirs = await signUpload(otherOrg, outsider, { size: 100 });
    const fileId = mine.body.data.file.id;
    const url = new URL(mine.body.data.upload.url);
    const theirUrl = new URL(theirs.body.data.upload.url);
    const keys = urlKeys(undefined, getConfig(env).TOKEN_SECRET);
    const expired = await signGrant(keys, { purpose: 'upload', fileId, orgId: org.id, expires: Math.floor(Date.now() / 1000) - 1 });
    const withOrg = (source: URL, orgId: string) => {
      const copy = new URL(source);
      copy.searchParams.set('org', orgId);
      return copy.search;
    };
    const attempts = [
      `/api/v1/files/${fileId}/content?${expired.toString()}`,
      // This URL presented for the other org, and the other org's URL (its own valid signature) for this file.
      `${url.pathname}${withOrg(url, otherOrg.id)}`,
      `${url.pathname}${theirUrl.search}`,
      `${theirUrl.pathname}${url.search}`,
      `${theirUrl.pathname}${withOrg(theirUrl, org.id)}`,
    ];
    for (const attempt of attempts) {
      const response = await send(attempt, { method: 'PUT', headers: { 'content-type': 'application/pdf' }, body: pdf(100) });
      expect({ attempt, status: response.status }).toEqual({ attempt, status: 403 });
      expect(await response.json()).toEqual({ error: { ...GENERIC.error, requestId: expect.any(String) as unknown } });
    }
    expect(await storedKeys(org)).toEqual([]);
    expect(await storedKeys(otherOrg)).toEqual([]);
    for (const tenantOrg of [org, otherOrg]) expect((await fileRows(tenantOrg)).map((row) => [row.status, row.uploadId])).toEqual([['pending', null]]);
    // Both URLs still do what they were signed for.
    expect((await send(pathOf(mine.body.data.upload.url), { method: 'PUT', headers: { 'content-type': 'application/pdf' }, body: pdf(100) })).status).toBe(200);
    expect((await send(pathOf(theirs.body.data.upload.url), { method: 'PUT', headers: { 'content-type': 'application/pdf' }, body: pdf(100) })).status).toBe(200);
  });

  it('a forged or expired upload signature is the same 403, and stores nothing', async () => {
    const owner = await createUser();
    const org = await createOrg(owner);
    const { body } = await signUpload(org, owner, { size: 100 });
    const url = new URL(body.data.upload.url);
    url.searchParams.set('expires', String(Math.floor(Date.now() / 1000) + 99_999));
    const forged = await send(url.pathname + url.search, { method: 'PUT', body: pdf(100) });
    expect(forged.status).toBe(403);
    expect(await forged.json()).toMatchObject(GENERIC);
    expect(await storedKeys(org)).toEqual([]);
  });
});
