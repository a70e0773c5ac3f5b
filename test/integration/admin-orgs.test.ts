import { and, desc, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { sqlState } from '../../src/db/errors.ts';
import { auditLogs, organizations, platformAdmins, platformAuditLog } from '../../src/db/schema/index.ts';
import { createScopedDatabase } from '../../src/db/tenant.ts';
import { FILE_LIMITS, MAX_FILE_BYTES, MAX_RATE_LIMIT, ORG_CALLER_RATE_LIMITS, QUOTAS, RATE_LIMITS } from '../../src/lib/limits.ts';
import { api, createMember, createOrg, createPlatformAdmin, createUser, json, ownerDb, type TestOrg, type TestUser } from '../helpers/factories.ts';
import { bytesOf, PNG_HEAD, uploadFile } from '../helpers/files.ts';
import { testDb } from '../helpers/worker.ts';

/**
 * Platform administration of orgs: platform admins change an org's tier and overrides at runtime, every
 * change is in the platform audit log (written in the same transaction), and tenants cannot change either,
 * neither through the API nor with raw SQL inside their own gate.
 */
type Detail = { data: { subscriptionTier: string; limitOverrides: unknown; limits: { rateLimits: Record<string, number>; callerRateLimits: Record<string, number>; quotas: Record<string, number>; files: Record<string, number> }; usage: Record<string, number> } };

const patch = (orgId: string, body: unknown, auth: TestUser) => api(`/api/v1/admin/orgs/${orgId}`, { method: 'PATCH', body, auth });

async function orgLimits(orgId: string) {
  const [row] = await ownerDb.http
    .select({ tier: organizations.subscriptionTier, overrides: organizations.limitOverrides, updatedAt: organizations.updatedAt })
    .from(organizations)
    .where(eq(organizations.id, orgId));
  return row;
}

const platformEntries = (orgId: string) =>
  ownerDb.http.select().from(platformAuditLog).where(eq(platformAuditLog.targetId, orgId)).orderBy(desc(platformAuditLog.id));

async function freeOrg(): Promise<{ owner: TestUser; org: TestOrg }> {
  const owner = await createUser();
  return { owner, org: await createOrg(owner) };
}

describe('PATCH /admin/orgs/{orgId}', () => {
  it('changes the tier and the overrides at once, audited in the platform log and the org’s own', async () => {
    const admin = await createPlatformAdmin();
    const { org } = await freeOrg();
    const overrides = { quotas: { projects: 3 }, rateLimits: { read: 42 }, callerRateLimits: { write: 7 } };
    const response = await patch(org.id, { subscriptionTier: 'pro', limitOverrides: overrides }, admin);
    expect(response.status).toBe(200);
    const body = await json<Detail>(response);
    expect(body.data).toMatchObject({
      subscriptionTier: 'pro',
      limitOverrides: overrides,
      limits: { rateLimits: { ...RATE_LIMITS.pro, read: 42 }, callerRateLimits: { ...ORG_CALLER_RATE_LIMITS, write: 7 }, quotas: { ...QUOTAS.pro, projects: 3 } },
      usage: { projects: 0, members: 1, apiKeys: 0 },
    });
    expect(await orgLimits(org.id)).toMatchObject({ tier: 'pro', overrides });

    const [entry] = await platformEntries(org.id);
    expect(entry).toMatchObject({
      actorId: admin.id,
      action: 'org.limits_changed',
      targetType: 'organization',
      requestId: response.headers.get('x-request-id'),
      changes: { subscriptionTier: { from: 'free', to: 'pro' }, limitOverrides: { from: {}, to: overrides } },
    });
    // The tenant sees who changed its plan in its own (hash-chained) audit log.
    const [own] = await ownerDb.http.select().from(auditLogs).where(and(eq(auditLogs.orgId, org.id), eq(auditLogs.action, 'organization.updated')));
    expect(own).toMatchObject({ actorId: admin.id, changes: { subscription_tier: { from: 'free', to: 'pro' } } });
  });

  it('keeps what the body leaves out, clears overrides with {}, and records only what changed', async () => {
    const admin = await createPlatformAdmin();
    const { org } = await freeOrg();
    expect((await patch(org.id, { limitOverrides: { quotas: { apiKeys: 1 } } }, admin)).status).toBe(200);
    expect((await patch(org.id, { subscriptionTier: 'enterprise' }, admin)).status).toBe(200);
    expect(await orgLimits(org.id)).toMatchObject({ tier: 'enterprise', overrides: { quotas: { apiKeys: 1 } } });
    const cleared = await json<Detail>(await patch(org.id, { limitOverrides: {} }, admin));
    expect(cleared.data.limits.quotas).toEqual(QUOTAS.enterprise);
    const entries = await platformEntries(org.id);
    expect(entries.map((entry) => Object.keys(entry.changes as object))).toEqual([['limitOverrides'], ['subscriptionTier'], ['limitOverrides']]);
  });

  it.each([
    ['an unknown field', { plan: 'pro' }],
    ['an unknown tier', { subscriptionTier: 'gold' }],
    ['a negative rate limit', { limitOverrides: { rateLimits: { read: -1 } } }],
    ['a rate limit above what one limiter serves', { limitOverrides: { rateLimits: { read: MAX_RATE_LIMIT + 1 } } }],
    ['an unknown route class', { limitOverrides: { rateLimits: { graphql: 10 } } }],
    ['a negative caller rate limit', { limitOverrides: { callerRateLimits: { write: -1 } } }],
    ['a caller rate limit above what one limiter serves', { limitOverrides: { callerRateLimits: { read: MAX_RATE_LIMIT + 1 } } }],
    ['a caller rate limit for a class of no org route', { limitOverrides: { callerRateLimits: { auth: 10 } } }],
    ['an unknown quota', { limitOverrides: { quotas: { files: 10 } } }],
    ['a fractional quota', { limitOverrides: { quotas: { projects: 1.5 } } }],
    ['an unknown overrides key', { limitOverrides: { quota: {} } }],
  ])('refuses %s with 400, changing and recording nothing', async (_, body) => {
    const admin = await createPlatformAdmin();
    const { org } = await freeOrg();
    const before = await orgLimits(org.id);
    const response = await patch(org.id, body, admin);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    expect(await orgLimits(org.id)).toEqual(before);
    expect(await platformEntries(org.id)).toEqual([]);
  });

  it('overrides the file figures: the view shows them applied, the audit entry records the change, {} restores the tier’s', async () => {
    const admin = await createPlatformAdmin();
    const { org } = await freeOrg();
    const files = { maxUploadBytes: MAX_FILE_BYTES, storageBytes: 5 * 2 ** 40 };
    const response = await patch(org.id, { limitOverrides: { files } }, admin);
    expect(response.status).toBe(200);
    expect((await json<Detail>(response)).data).toMatchObject({ limitOverrides: { files }, limits: { files } });
    const lower = await json<Detail>(await patch(org.id, { limitOverrides: { files: { storageBytes: 1_000 } } }, admin));
    expect(lower.data.limits.files).toEqual({ maxUploadBytes: FILE_LIMITS.free.maxUploadBytes, storageBytes: 1_000 });
    const view = await json<Detail>(await api(`/api/v1/admin/orgs/${org.id}`, { auth: admin }));
    expect(view.data.limits.files).toEqual({ maxUploadBytes: FILE_LIMITS.free.maxUploadBytes, storageBytes: 1_000 });
    const cleared = await json<Detail>(await patch(org.id, { limitOverrides: {} }, admin));
    expect(cleared.data.limits.files).toEqual(FILE_LIMITS.free);
    const entries = await platformEntries(org.id);
    expect(entries.map((entry) => entry.changes)).toEqual([
      { limitOverrides: { from: { files: { storageBytes: 1_000 } }, to: {} } },
      { limitOverrides: { from: { files }, to: { files: { storageBytes: 1_000 } } } },
      { limitOverrides: { from: {}, to: { files } } },
    ]);
  });

  it.each([
    ['maxUploadBytes', 0],
    ['maxUploadBytes', MAX_FILE_BYTES + 1],
    ['maxUploadBytes', 1.5],
    ['storageBytes', -1],
    ['storageBytes', Number.MAX_SAFE_INTEGER + 1],
    ['storageBytes', '1000'],
    ['storage', 1_000],
  ])('refuses a file figure %s of %j with 400 naming it, changing and recording nothing', async (field, value) => {
    const admin = await createPlatformAdmin();
    const { org } = await freeOrg();
    const before = await orgLimits(org.id);
    const response = await patch(org.id, { limitOverrides: { files: { [field]: value } } }, admin);
    expect(response.status).toBe(400);
    const body = await json<{ error: { code: string; details: { issues: Array<{ path: string }> } } }>(response);
    expect(body.error.code).toBe('VALIDATION_FAILED');
    expect(body.error.details.issues.map((issue) => issue.path)).toEqual([`limitOverrides.files.${field}`]);
    expect(await orgLimits(org.id)).toEqual(before);
    expect(await platformEntries(org.id)).toEqual([]);
  });

  it('answers 404 for an unknown or deleted org, and records nothing', async () => {
    const admin = await createPlatformAdmin();
    const { org } = await freeOrg();
    await ownerDb.http.update(organizations).set({ deletedAt: new Date() }).where(eq(organizations.id, org.id));
    for (const orgId of [crypto.randomUUID(), org.id]) {
      const response = await patch(orgId, { subscriptionTier: 'pro' }, admin);
      expect(response.status).toBe(404);
      expect(await platformEntries(orgId)).toEqual([]);
    }
    expect((await api(`/api/v1/admin/orgs/${org.id}`, { auth: admin })).status).toBe(404);
  });

  it('does not exist for the org’s own owner, who cannot change the tier through the org routes either', async () => {
    const { owner, org } = await freeOrg();
    const before = await orgLimits(org.id);
    const refused = await patch(org.id, { subscriptionTier: 'enterprise' }, owner);
    expect(refused.status).toBe(404);
    const viaOrg = await api(`/api/v1/orgs/${org.id}`, { method: 'PATCH', body: { subscriptionTier: 'enterprise' }, auth: owner });
    expect(viaOrg.status).toBe(400);
    expect(await orgLimits(org.id)).toEqual(before);
  });
});

describe('tier and overrides at the database', () => {
  it('an org owner’s session cannot change them with raw SQL inside its own gate, nor call the platform functions', async () => {
    const { owner, org } = await freeOrg();
    const tenant = createScopedDatabase(testDb(), { type: 'user', id: owner.id, sessionId: owner.sessionId }, { requestId: 'raw', ip: null, userAgent: null }, { kind: 'org', orgId: org.id, permission: 'org:update' });
    const attempts = [
      sql`update organizations set subscription_tier = 'enterprise' where id = ${org.id}`,
      sql`update organizations set limit_overrides = '{"quotas":{"projects":100000}}' where id = ${org.id}`,
      sql`select platform_org_set_limits(${org.id}::uuid, 'enterprise', null)`,
      sql`select platform_org_limit_changes(${org.id}::uuid, 'enterprise', null)`,
      sql`select * from platform_org_get(${org.id}::uuid)`,
    ];
    const states = [];
    for (const attempt of attempts) states.push(await tenant.batch((db) => [db.execute(attempt)]).then(() => 'ok', (error: unknown) => sqlState(error)));
    expect(states).toEqual(['42501', '42501', 'AP404', 'AP404', 'AP404']);
    // What tenants may change still works: the grant is on columns, not the row.
    await tenant.batch((db) => [db.execute(sql`update organizations set name = 'Renamed' where id = ${org.id}`)]);
    expect(await orgLimits(org.id)).toMatchObject({ tier: 'free', overrides: {} });
  });

  it('an org a user creates starts on the free tier without overrides, whatever the insert says', async () => {
    const user = await createUser();
    const id = crypto.randomUUID();
    const account = createScopedDatabase(testDb(), { type: 'user', id: user.id, sessionId: user.sessionId }, { requestId: 'raw', ip: null, userAgent: null }, { kind: 'user', newOrgId: id });
    const insert = (tier: string, overrides: string) =>
      account.batch((db) => [db.execute(sql`insert into organizations (id, name, slug, subscription_tier, limit_overrides) values (${id}, 'x', ${`raw-${id.slice(0, 8)}`}, ${tier}::subscription_tier, ${overrides}::jsonb)`)]).then(
        () => 'ok',
        (error: unknown) => sqlState(error),
      );
    expect(await insert('enterprise', '{}')).toBe('42501');
    expect(await insert('free', '{"quotas":{"projects":5}}')).toBe('42501');
    expect(await insert('free', '{}')).toBe('ok');
  });
});

describe('platform admins at the database', () => {
  it('the runtime role cannot make anyone a platform admin: an INSERT into platform_admins is 42501, bare or inside a gate', async () => {
    const { owner, org } = await freeOrg();
    const insert = sql`insert into platform_admins (user_id) values (${owner.id})`;
    const bare = await testDb().http.execute(insert).then(() => 'ok', (error: unknown) => sqlState(error));
    const tenant = createScopedDatabase(testDb(), { type: 'user', id: owner.id, sessionId: owner.sessionId }, { requestId: 'raw', ip: null, userAgent: null }, { kind: 'org', orgId: org.id, permission: 'org:delete' });
    const gated = await tenant.batch((db) => [db.execute(insert)]).then(() => 'ok', (error: unknown) => sqlState(error));
    expect([bare, gated]).toEqual(['42501', '42501']);
    expect(await ownerDb.http.select().from(platformAdmins).where(eq(platformAdmins.userId, owner.id))).toEqual([]);
    expect((await api('/api/v1/admin/orgs', { auth: owner })).status).toBe(404);
  });
});

describe('GET /admin/orgs', () => {
  it('pages through every live org, filtered by tier and by a search on slug or name', async () => {
    const admin = await createPlatformAdmin();
    const owner = await createUser();
    const orgs = [await createOrg(owner, { tier: 'pro' }), await createOrg(owner, { tier: 'pro' }), await createOrg(owner, { tier: 'enterprise' })];
    // A tag only these orgs carry in their names, so other tests' orgs stay out of the pages.
    const tag = `tag${crypto.randomUUID().slice(0, 8)}`;
    for (const [index, org] of orgs.entries()) await ownerDb.http.update(organizations).set({ name: `${tag} ${index}` }).where(eq(organizations.id, org.id));

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `tier=pro&q=${tag}&limit=1${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await json<{ data: Array<{ id: string; subscriptionTier: string }>; meta: { nextCursor: string | null } }>(await api(`/api/v1/admin/orgs?${query}`, { auth: admin }));
      seen.push(...page.data.map((org) => org.id));
      cursor = page.meta.nextCursor;
    } while (cursor);
    // Newest first; the enterprise org is filtered out.
    expect(seen).toEqual([orgs[1]?.id, orgs[0]?.id]);

    const bySlug = await json<{ data: Array<{ id: string }> }>(await api(`/api/v1/admin/orgs?q=${orgs[2]?.slug}`, { auth: admin }));
    expect(bySlug.data.map((org) => org.id)).toEqual([orgs[2]?.id]);
    // LIKE wildcards in the search match literally.
    expect((await json<{ data: unknown[] }>(await api(`/api/v1/admin/orgs?q=${tag}%25_`, { auth: admin }))).data).toEqual([]);
  });

  it('refuses a forged cursor and an unknown tier with 400', async () => {
    const admin = await createPlatformAdmin();
    expect((await api('/api/v1/admin/orgs?cursor=bm9wZQ', { auth: admin })).status).toBe(400);
    expect((await api('/api/v1/admin/orgs?tier=gold', { auth: admin })).status).toBe(400);
  });
});

describe('GET /admin/orgs/{orgId}', () => {
  it('shows tier, overrides, effective limits and usage (members count pending invitations)', async () => {
    const admin = await createPlatformAdmin();
    const { owner, org } = await freeOrg();
    await createMember(org, 'viewer');
    const invited = await api(`/api/v1/orgs/${org.id}/invitations`, { body: { email: `x-${crypto.randomUUID().slice(0, 8)}@example.com`, role: 'member' }, auth: owner });
    expect(invited.status).toBe(201);
    expect((await api(`/api/v1/orgs/${org.id}/projects`, { body: { name: 'P' }, auth: owner })).status).toBe(201);
    const response = await api(`/api/v1/admin/orgs/${org.id}`, { auth: admin });
    expect(response.status).toBe(200);
    expect((await json<Detail>(response)).data).toMatchObject({
      subscriptionTier: 'free',
      limitOverrides: {},
      limits: { rateLimits: RATE_LIMITS.free, quotas: QUOTAS.free },
      usage: { projects: 1, members: 3, apiKeys: 0 },
    });
  });

  it('shows the bytes the org stores, as its usage endpoint does (stored files and uploads in progress)', async () => {
    const admin = await createPlatformAdmin();
    const { owner, org } = await freeOrg();
    const bytes = bytesOf(1234, PNG_HEAD);
    expect((await uploadFile(org, owner, bytes, { type: 'image/png', name: 'a.png' })).status).toBe(201);
    const started = await api(`/api/v1/orgs/${org.id}/files/multipart`, { auth: owner, body: { name: 'b.zip', contentType: 'application/zip', size: 5678 } });
    expect(started.status).toBe(201);
    const detail = (await json<Detail>(await api(`/api/v1/admin/orgs/${org.id}`, { auth: admin }))).data;
    const usage = await json<{ data: { storage: { usedBytes: number } } }>(await api(`/api/v1/orgs/${org.id}/usage`, { auth: owner }));
    expect(usage.data.storage.usedBytes).toBe(1234 + 5678);
    expect(detail.usage).toEqual({ projects: 0, members: 1, apiKeys: 0, storageBytes: usage.data.storage.usedBytes });
    expect(detail.limits.files).toEqual(FILE_LIMITS.free);
  });
});

describe('GET /admin/audit-log', () => {
  it('lists what platform admins did, newest first, to platform admins only', async () => {
    const admin = await createPlatformAdmin();
    const { owner, org } = await freeOrg();
    await patch(org.id, { subscriptionTier: 'pro' }, admin);
    await patch(org.id, { subscriptionTier: 'enterprise' }, admin);
    const response = await api(`/api/v1/admin/audit-log?targetId=${org.id}&limit=1`, { auth: admin });
    expect(response.status).toBe(200);
    const page = await json<{ data: Array<{ changes: unknown; actorId: string }>; meta: { nextCursor: string | null } }>(response);
    expect(page.data).toEqual([expect.objectContaining({ actorId: admin.id, changes: { subscriptionTier: { from: 'pro', to: 'enterprise' } } })]);
    const next = await json<{ data: Array<{ changes: unknown }> }>(await api(`/api/v1/admin/audit-log?targetId=${org.id}&cursor=${page.meta.nextCursor}`, { auth: admin }));
    expect(next.data.map((entry) => entry.changes)).toEqual([{ subscriptionTier: { from: 'free', to: 'pro' } }]);
    expect((await api('/api/v1/admin/audit-log', { auth: owner })).status).toBe(404);
  });
});
