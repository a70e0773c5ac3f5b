import { and, asc, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditLogs } from '../../src/db/schema/index.ts';
import { sqlState } from '../../src/db/errors.ts';
import { createScopedDatabase } from '../../src/db/tenant.ts';
import { auditEvent } from '../../src/services/audit.ts';
import { api, createOrg, createUser, json, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { randomPng, uploadFile } from '../helpers/files.ts';
import { roundTrips } from '../helpers/round-trips.ts';
import { testDb } from '../helpers/worker.ts';

/**
 * Acts that change no row are audited too (app_audit_event, src/db/sql/audit.sql): signing a download URL grants
 * anyone holding it the file, so it leaves an entry in the org's chain, written in the signing's own batch.
 */
type Entry = { action: string; actorType: string; actorId: string | null; targetType: string; targetId: string | null; requestId: string | null; changes: Record<string, unknown> };
type Verdict = { data: { valid: boolean; entries: number } };

const entries = async (org: TestOrg, owner: TestUser, action: string) =>
  (await json<{ data: Entry[] }>(await api(`/api/v1/orgs/${org.id}/audit-logs?action=${action}`, { auth: owner }))).data;
const chainLength = async (org: TestOrg) => (await ownerDb.http.select().from(auditLogs).where(eq(auditLogs.orgId, org.id)).orderBy(asc(auditLogs.seq))).length;
const verified = async (org: TestOrg, owner: TestUser) => (await json<Verdict>(await api(`/api/v1/orgs/${org.id}/audit-logs/verify`, { auth: owner }))).data;
const signDownload = (org: TestOrg, owner: TestUser, fileId: string, body: object) => api(`/api/v1/orgs/${org.id}/files/${fileId}/download-url`, { auth: owner, body });

async function tenantWithFile() {
  const owner = await createUser();
  const org = await createOrg(owner, { tier: 'pro' });
  const stored = await json<{ data: { id: string } }>(await uploadFile(org, owner, randomPng(1_000), { type: 'image/png', name: 'photo.png' }));
  return { owner, org, fileId: stored.data.id };
}

const ownerTenant = (owner: TestUser, org: TestOrg) =>
  createScopedDatabase(testDb(), { type: 'user', id: owner.id, sessionId: owner.sessionId }, { requestId: 'audit-event', ip: null, userAgent: null }, {
    kind: 'org',
    orgId: org.id,
    permission: 'files:read',
  });

describe('signing a download URL', () => {
  it('appends one entry (actor, file, expiry and disposition; never the signature) in the same round trip, and the chain verifies', async () => {
    const { owner, org, fileId } = await tenantWithFile();
    const before = await chainLength(org);
    const response = await signDownload(org, owner, fileId, { expiresIn: 600, disposition: 'attachment' });
    expect(response.status).toBe(200);
    const signed = await json<{ data: { url: string; expiresAt: string } }>(response);
    expect(await chainLength(org)).toBe(before + 1);

    const [entry, ...others] = await entries(org, owner, 'file.url_signed');
    expect(others).toEqual([]);
    expect(entry).toMatchObject({ actorType: 'user', actorId: owner.id, targetType: 'file', targetId: fileId });
    expect(entry?.requestId).toBeTruthy();
    expect(entry?.changes).toEqual({ expiresAt: signed.data.expiresAt, disposition: 'attachment' });
    const signature = new URL(signed.data.url).searchParams.get('sig');
    expect(signature).toBeTruthy();
    expect(JSON.stringify(entry)).not.toContain(signature);
    expect(await verified(org, owner)).toEqual({ valid: true, entries: before + 1 });

    // No extra round trip: the entry rides in the batch that reads the file.
    expect(await roundTrips(async () => expect((await signDownload(org, owner, fileId, {})).status).toBe(200))).toBe(1);
    expect((await entries(org, owner, 'file.url_signed')).map((e) => e.changes)).toContainEqual({ disposition: null, expiresAt: expect.any(String) });
  });

  it('leaves no entry when it is refused (a pending file); a signed upload URL is audited by its pending row', async () => {
    const { owner, org, fileId } = await tenantWithFile();
    expect((await signDownload(org, owner, fileId, {})).status).toBe(200);
    const upload = await api(`/api/v1/orgs/${org.id}/files/upload-url`, { auth: owner, body: { name: 'later.png', contentType: 'image/png', size: 10 } });
    expect(upload.status).toBe(201);
    const { data } = await json<{ data: { file: { id: string }; upload: { expiresAt: string } } }>(upload);
    expect((await signDownload(org, owner, data.file.id, {})).status).toBe(404);
    expect((await entries(org, owner, 'file.url_signed')).map((e) => e.targetId)).toEqual([fileId]);
    // The upload URL's grant lives in the row it inserts: the trigger's file.created entry holds its expiry.
    const created = (await entries(org, owner, 'file.created')).find((e) => e.targetId === data.file.id);
    expect(created?.changes).toMatchObject({ status: 'pending' });
    const recorded = new Date(String(created?.changes.expiresAt)).getTime();
    expect(Math.abs(recorded - new Date(data.upload.expiresAt).getTime())).toBeLessThan(5_000);
  });
});

describe('app_audit_event', () => {
  it('appends to the entered org only, and refuses without one (no org entered) or with changes that are not an object', async () => {
    const { owner, org, fileId } = await tenantWithFile();
    const before = await chainLength(org);
    await ownerTenant(owner, org).batch((db) => [auditEvent(db, { action: 'file.url_signed', targetType: 'file', targetId: fileId, changes: { via: 'test' } })]);
    expect(await chainLength(org)).toBe(before + 1);

    const db = testDb();
    const unentered = await db.http.execute(sql`select app_audit_event('file.url_signed', 'file', ${fileId}, '{}'::jsonb)`).then(() => undefined, (caught: unknown) => caught);
    expect(sqlState(unentered)).toBe('42501');
    const notObject = await ownerTenant(owner, org)
      .batch((tx) => [tx.execute(sql`select app_audit_event('file.url_signed', 'file', ${fileId}, '[1]'::jsonb)`)])
      .then(() => undefined, (caught: unknown) => caught);
    expect(sqlState(notObject)).toBe('22023');
    expect(await chainLength(org)).toBe(before + 1);
    const mine = await ownerDb.http.select().from(auditLogs).where(and(eq(auditLogs.orgId, org.id), eq(auditLogs.action, 'file.url_signed')));
    expect(mine.map((row) => row.changes)).toEqual([{ via: 'test' }]);
    expect(await verified(org, owner)).toMatchObject({ valid: true });
  });

  it('the app role cannot call the internal append, which takes any org', async () => {
    const { owner, org } = await tenantWithFile();
    const direct = sql`select audit_append(${org.id}::uuid, 'file.url_signed', 'file', 'x', '{}'::jsonb)`;
    const error = await testDb().http.execute(direct).then(() => undefined, (caught: unknown) => caught);
    expect(sqlState(error)).toBe('42501'); // insufficient_privilege
    expect(await verified(org, owner)).toMatchObject({ valid: true });
  });
});
