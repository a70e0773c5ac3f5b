import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, createApiKey, createOrg, createProject, createUser } from '../helpers/factories.ts';

afterEach(() => vi.restoreAllMocks());

/** Counts the Worker's API-key lookups (`api_key_authenticate`) sent to Postgres from now on. */
function countKeyLookups(): () => number {
  const fetches = vi.spyOn(globalThis, 'fetch');
  return () => fetches.mock.calls.filter(([, init]) => typeof init?.body === 'string' && init.body.includes('api_key_authenticate')).length;
}

async function keyedProject() {
  const org = await createOrg(await createUser());
  const project = await createProject(org);
  const { key } = await createApiKey(org, { scopes: ['projects:read'] });
  const read = () => api(`/api/v1/orgs/${org.id}/projects/${project.id}`, { auth: { apiKey: key } });
  return { org, read };
}

describe('API-key lookup cache', () => {
  it('looks a key up once, then serves it from the cache (one round trip saved per request)', async () => {
    const { read } = await keyedProject();
    const lookups = countKeyLookups();
    expect((await read()).status).toBe(200);
    expect(lookups()).toBe(1);
    expect([(await read()).status, (await read()).status]).toEqual([200, 200]);
    expect(lookups()).toBe(1);
  });

  it('shares one lookup between concurrent first requests with the same key', async () => {
    const { read } = await keyedProject();
    const lookups = countKeyLookups();
    const statuses = await Promise.all(Array.from({ length: 5 }, () => read()).map(async (response) => (await response).status));
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(lookups()).toBe(1);
  });

  it('remembers an unknown key: looked up once, then refused without Postgres (no key made later can have its hash)', async () => {
    const { org } = await keyedProject();
    const unknown = `sk_test_${crypto.randomUUID().replaceAll('-', '')}${'A'.repeat(11)}`;
    const lookups = countKeyLookups();
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await api(`/api/v1/orgs/${org.id}/projects`, { auth: { apiKey: unknown } })).status).toBe(401);
    }
    expect(lookups()).toBe(1);
  });
});
