// Day one against one real `npm run dev`: what a new user and a frontend touch first.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDatabaseUrl, runtimeRoleWarning } from '../../scripts/lib/database-check.ts';
import { freePort } from '../../scripts/lib/ports.ts';
import { demo } from '../../scripts/lib/seed.ts';
import { browserAvailable, findChromium, isLocalUrl } from './helpers/browser.ts';
import { DevServer, startDevServer, type RunningDevServer } from './helpers/dev-server.ts';

let dev: RunningDevServer;

beforeAll(async () => {
  dev = await startDevServer();
});

afterAll(async () => {
  await dev?.close();
});

describe.runIf(browserAvailable())('/api/docs in a real browser, offline', () => {
  let browser: Browser;

  beforeAll(async () => {
    const executablePath = findChromium();
    if (!executablePath) throw new Error('CI needs Chromium for the browser tests: `apt-get install -y chromium` (.ci/run does this).');
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('lists the operations with every non-local request blocked, and breaks no CSP rule', async () => {
    const page = await browser.newPage();
    const blocked: string[] = [];
    const problems: string[] = [];
    await page.route('**/*', (route) => {
      if (isLocalUrl(route.request().url())) return route.continue();
      blocked.push(route.request().url());
      return route.abort('internetdisconnected');
    });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(String(error)));

    const response = await page.goto(`${dev.url}/api/docs`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    // Operations of several tags, by their OpenAPI summaries, rendered from the Worker's own document.
    const spec = (await (await fetch(`${dev.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, { summary?: string }>> };
    const summary = (path: string, method: string) => spec.paths[path]?.[method]?.summary ?? '';
    for (const expected of [summary('/api/health/live', 'get'), summary('/api/health/ready', 'get')]) {
      expect(expected).not.toBe('');
      await page.getByText(expected, { exact: false }).first().waitFor({ timeout: 30_000 });
    }
    await page.getByText('Edge SaaS API').first().waitFor();
    expect(blocked).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('serves the UI script from the Worker itself (a static asset, pinned)', async () => {
    const response = await fetch(`${dev.url}/api/docs/api-reference.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/javascript/);
    expect((await response.text()).length).toBeGreaterThan(1_000_000);
  });
});

describe('the demo API key, as README gives it', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

  it('README names the whole demo key and the demo org id', () => {
    expect(readme).toContain(demo.apiKey.key);
    expect(readme).toContain(demo.org.id);
  });

  it('GET /api/v1/whoami tells the demo key its org, scopes, project limit and expiry', async () => {
    const response = await fetch(`${dev.url}/api/v1/whoami`, { headers: { 'X-API-Key': demo.apiKey.key } });
    expect(response.status).toBe(200);
    const { data } = (await response.json()) as { data: { type: string; org: { id: string; slug: string }; key: { id: string; scopes: string[]; projectId: string | null; expiresAt: string | null } } };
    expect(data).toMatchObject({ type: 'api_key', org: { id: demo.org.id, slug: demo.org.slug }, key: { id: demo.apiKey.id, projectId: null, expiresAt: null } });
    expect([...data.key.scopes].sort()).toEqual([...demo.apiKey.scopes].sort());
  });
});

describe('the dev console', () => {
  it('logs each request once, as one JSON line (no wrangler access line), so `npm run dev | jq` works', async () => {
    const response = await fetch(`${dev.url}/api/v1/whoami`);
    expect(response.status).toBe(401);
    const id = response.headers.get('x-request-id') ?? 'missing';
    await new Promise((resolveWait) => setTimeout(resolveWait, 500));
    const lines = dev.server.output.split('\n');
    const mine = lines.filter((line) => line.includes(id));
    expect(mine).toHaveLength(1);
    expect(JSON.parse(mine[0] ?? '')).toMatchObject({ level: 'info', message: 'request', route: '/api/v1/whoami', status: 401, requestId: id });
    expect(lines.filter((line) => /\[wrangler:info\] (GET|POST)/.test(line))).toEqual([]);
    for (const line of lines.filter((line) => line.includes('"level":'))) expect(() => JSON.parse(line), line).not.toThrow();
  });
});

describe('failures that say why, next to a running server', () => {
  const owner = () => `postgres://postgres:postgres@127.0.0.1:${dev.ports.pg}/app`;

  it('prints the owner connection string, and Ready only once /api/health/ready is 200', async () => {
    expect(dev.server.output).toContain(`Database (owner): ${owner()}`);
    expect(dev.server.output.indexOf('Database (owner)')).toBeLessThan(dev.server.output.indexOf('Ready:'));
    expect((await fetch(`${dev.url}/api/health/ready`)).status).toBe(200);
  });

  it('names a wrong password as an authentication failure', async () => {
    await expect(checkDatabaseUrl(`postgres://postgres:wrong@127.0.0.1:${dev.ports.pg}/app`)).rejects.toThrow(/authentication failed for user "postgres".*Fix/);
    await expect(checkDatabaseUrl(`postgres://postgres:postgres@127.0.0.1:${dev.ports.pg}/nope`)).rejects.toThrow(/database "nope" does not exist.*Fix/);
  });

  it('warns loudly when the Worker would connect as a superuser or owner; not for the runtime role', async () => {
    expect(runtimeRoleWarning(await checkDatabaseUrl(owner()), 'WORKER_DATABASE_URL')).toMatch(/WARNING.*"postgres" \(a superuser.*row-level security does NOT apply[\s\S]*Fix: .*WORKER_DATABASE_URL/);
    expect(runtimeRoleWarning(await checkDatabaseUrl(`postgres://app:app@127.0.0.1:${dev.ports.pg}/app`), 'WORKER_DATABASE_URL')).toBeUndefined();
  });

  it('a second npm run dev on the same data folder names the lock and the fix', async () => {
    const second = new DevServer({ http: await freePort(), pg: await freePort(), proxy: await freePort() }, dev.dataDir);
    const [code] = await second.exited;
    expect(code).toBe(1);
    expect(second.output).toMatch(/data folder .* is in use by another PostgreSQL \(pid \d+; PostgreSQL: lock file "postmaster.pid" already exists\)/);
    expect(second.output).toContain('DATA_DIR=<folder> npm run dev');
  });

  it('npm run db:reset refuses while the server uses the data, and deletes nothing', async () => {
    const reset = spawnSync('npm', ['run', 'db:reset'], { cwd: new URL('../..', import.meta.url), env: { ...process.env, DATA_DIR: dev.dataDir }, encoding: 'utf8' });
    expect(reset.status).toBe(1);
    expect(reset.stderr).toContain('npm run db:reset refused');
    expect((await fetch(`${dev.url}/api/health/ready`)).status).toBe(200);
  });
});
