// Day one against one real `npm run dev`: what a new user and a frontend touch first.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateClientTypes } from '../../scripts/lib/client-types.ts';
import { checkDatabaseUrl, runtimeRoleWarning } from '../../scripts/lib/database-check.ts';
import { freePort } from '../../scripts/lib/ports.ts';
import { demo, DEMO_PASSWORD } from '../../scripts/lib/seed.ts';
import { browserAvailable, findChromium, isLocalUrl } from './helpers/browser.ts';
import { DevServer, startDevServer, type RunningDevServer } from './helpers/dev-server.ts';

let dev: RunningDevServer;

beforeAll(async () => {
  // Any Worker var set in the environment overrides wrangler.toml (README): checked below. Started as README's
  // `npm run -s dev | jq` starts it (-s: without npm's banner on stdout).
  dev = await startDevServer({ SIGNUP_RESPONSE: 'uniform', MAX_REQUEST_BODY_BYTES: '6000000' }, ['run', '-s', 'dev']);
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

  describe('cookie mode', () => {
    // The app's page is supplied by the test (route.fulfill), so Chromium cannot know it came from loopback: it
    // would treat it as a public page asking for a loopback address (Local Network Access) and block the call.
    // A real frontend dev server on localhost is loopback, so it is never asked; this browser skips that check.
    let appBrowser: Browser;

    beforeAll(async () => {
      appBrowser = await chromium.launch({ executablePath: findChromium(), args: ['--no-sandbox', '--disable-features=LocalNetworkAccessChecks'] });
    });

    afterAll(async () => {
      await appBrowser?.close();
    });

    it('cookie mode in a real browser: an app on localhost:5173 signs in, refreshes from the httpOnly cookie it cannot read, and signs out with that cookie alone', async () => {
      const app = 'http://localhost:5173';
      const api = `http://localhost:${dev.ports.http}/api/v1`;
      const context = await appBrowser.newContext();
      const page = await context.newPage();
      // The frontend's page, served by the test (no dev server of its own needed).
      await page.route(`${app}/**`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>app</title>' }));
      await page.goto(`${app}/`);
      const user = demo.users[1];
      const steps = await page.evaluate(
        async ({ api, email, password }) => {
          const call = (path: string, init: RequestInit = {}) =>
            fetch(`${api}${path}`, { ...init, method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', 'x-csrf': '1', ...init.headers } });
          const login = await call('/auth/login', { body: JSON.stringify({ email, password, tokenDelivery: 'cookie' }) });
          const loggedIn = (await login.json()) as { data: { tokens: { accessToken: string; refreshToken?: string } } };
          const refreshed = await call('/auth/refresh', { body: JSON.stringify({ tokenDelivery: 'cookie' }) });
          const { accessToken } = ((await refreshed.json()) as { data: { tokens: { accessToken: string } } }).data.tokens;
          const me = await fetch(`${api}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
          // Signs out as README's `logOut` does: the cookie alone, as after a page reload (the access token is gone).
          const logout = await call('/auth/logout');
          const after = await call('/auth/refresh', { body: JSON.stringify({ tokenDelivery: 'cookie' }) });
          return { login: login.status, bodyHasRefreshToken: 'refreshToken' in loggedIn.data.tokens, documentCookie: (globalThis as unknown as { document: { cookie: string } }).document.cookie, refresh: refreshed.status, me: me.status, logout: logout.status, after: after.status };
        },
        { api, email: user?.email ?? '', password: DEMO_PASSWORD },
      );
      expect(steps).toEqual({ login: 200, bodyHasRefreshToken: false, documentCookie: '', refresh: 200, me: 200, logout: 204, after: 401 });
      expect(await context.cookies(api)).toEqual([]);
      await context.close();
    });

    it('cookie mode from a foreign origin: the browser itself refuses (CORS), and nothing is set', async () => {
      const context = await appBrowser.newContext();
      const page = await context.newPage();
      await page.route('http://evil.example/**', (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>evil</title>' }));
      await page.goto('http://evil.example/');
      const outcome = await page.evaluate(async (api) => {
        try {
          const response = await fetch(`${api}/auth/refresh`, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', 'x-csrf': '1' }, body: '{"tokenDelivery":"cookie"}' });
          return `answered ${response.status}`;
        } catch {
          return 'refused';
        }
      }, `http://localhost:${dev.ports.http}/api/v1`);
      expect(outcome).toBe('refused');
      await context.close();
    });
  });

  it('the dev mail viewer renders in a browser without breaking its CSP, and opens a mail', async () => {
    // A mail of its own first, so there is one to open whatever ran before.
    const email = demo.users[3]?.email ?? '';
    expect((await fetch(`${dev.url}/api/v1/auth/forgot-password`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) })).status).toBe(202);
    expect(await waitForMail((mail) => mail.to === email && mail.subject === 'Reset your password'), 'the reset mail').toBeDefined();
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    const list = await page.goto(`${dev.url}/api/dev/mail`);
    expect(list?.status()).toBe(200);
    await page.getByText('Dev mail').first().waitFor();
    const first = page.locator('a[href^="mail/"]').first();
    expect(await first.count()).toBe(1);
    await first.click();
    await page.waitForLoadState();
    expect(page.url()).toMatch(/\/api\/dev\/mail\/\d+$/);
    await page.getByText('Choose a new password').first().waitFor();
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

/**
 * `npm run -s <args>` (in the repository unless `cwd` says where the user is), without blocking the event loop
 * (spawnSync would hold up the sockets of fetch).
 */
async function npmRun(args: string[], env: NodeJS.ProcessEnv, cwd: string | URL = new URL('../..', import.meta.url)): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn('npm', ['run', '-s', ...args], { cwd, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stdout, stderr };
}

type Mail = { to: string; subject: string; text: string; data: { url?: string; token?: string } };

/** The newest mail in the dev outbox that `matches`, waiting for the queue to deliver it (well under a second). */
async function waitForMail(matches: (mail: Mail) => boolean): Promise<Mail | undefined> {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((resolveWait) => setTimeout(resolveWait, 200))) {
    const { data } = (await (await fetch(`${dev.url}/api/dev/outbox`)).json()) as { data: Mail[] };
    const mail = data.find(matches);
    if (mail) return mail;
  }
  return undefined;
}

describe('looking at the data, as README says', () => {
  it('npm run db:query prints the rows as the owner (the local cluster on PG_PORT)', async () => {
    const query = await npmRun(['db:query', '--', `select slug, name from organizations where id = '${demo.org.id}'`], { DATABASE_URL: '', PG_PORT: `${dev.ports.pg}` });
    expect(query.status, query.stderr).toBe(0);
    expect(query.stdout).toMatch(/│ 0 +│ 'demo' +│ 'Demo Inc\.' +│/);
    expect(query.stdout).toContain('SELECT 1');
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
  it('keeps dev secrets off every command line (ps shows those to every user)', () => {
    const leaks = readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
        } catch {
          return '';
        }
      })
      .filter((cmdline) => cmdline.includes(`${dev.ports.http}`) && /JWT_SIGNING_KEY|TOKEN_SECRET|DATABASE_URL/.test(cmdline));
    expect(leaks).toEqual([]);
  });


  it('logs each request once, as one JSON line (no wrangler access line), so `npm run -s dev | jq` works', async () => {
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

  it('`npm run -s dev | jq` reads JSON lines only: every line for a human (Ready, Debugger, wrangler) goes to stderr', () => {
    const stdout = dev.server.stdout.split('\n').filter((line) => line.trim() !== '');
    expect(stdout.length).toBeGreaterThan(0);
    for (const line of stdout) expect(() => JSON.parse(line), line).not.toThrow();
    expect(dev.server.output).toMatch(/^Ready: /m);
    expect(dev.server.output).toMatch(/^Debugger: /m);
  });
});

describe('failures that say why, next to a running server', () => {
  const owner = () => `postgres://postgres:postgres@127.0.0.1:${dev.ports.pg}/app`;
  const runtime = () => `postgres://app:app@127.0.0.1:${dev.ports.pg}/app`;

  it('prints the owner connection string, and Ready only once /api/health/ready is 200', async () => {
    expect(dev.server.output).toContain(`Database (owner): ${owner()}`);
    expect(dev.server.output.indexOf('Database (owner)')).toBeLessThan(dev.server.output.indexOf('Ready:'));
    expect((await fetch(`${dev.url}/api/health/ready`)).status).toBe(200);
  });

  it('prints a DevTools inspector address that answers', async () => {
    const inspector = /Debugger: open chrome:\/\/inspect in Chrome and add (127\.0\.0\.1:\d+)/.exec(dev.server.output)?.[1];
    expect(inspector, dev.server.output.slice(-2_000)).toBeDefined();
    expect((await fetch(`http://${inspector}/json/version`)).status).toBe(200);
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
    expect(second.output).toMatch(/data folder .* is in use by a running npm run dev \(pid \d+\)/);
    expect(second.output).toContain('DATA_DIR=<folder> npm run dev');
  });

  it('a DATABASE_URL of the runtime role (not the owner) exits 1 with PostgreSQL\'s reason and the fix, not a bare "Failed query"', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'edge-saas-runtime-'));
    try {
      const server = new DevServer({ http: await freePort(), pg: await freePort(), proxy: await freePort() }, dataDir, { DATABASE_URL: runtime() });
      const [code] = await server.exited;
      expect(code, server.output).toBe(1);
      expect(server.output).toMatch(/npm run dev could not start: DATABASE_URL: the migrations failed: permission denied for database app \[SQLSTATE 42501\]/);
      expect(server.output).toContain("Fix: DATABASE_URL must be the owner role (the migrations create schemas, tables and functions); the Worker's runtime role goes in WORKER_DATABASE_URL.");
      expect(server.output).not.toContain('Failed query');
      expect(server.output).not.toContain('params:');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('npm run db:reset refuses while the server uses the data, and deletes nothing', async () => {
    const reset = spawnSync('npm', ['run', 'db:reset'], { cwd: new URL('../..', import.meta.url), env: { ...process.env, DATA_DIR: dev.dataDir }, encoding: 'utf8' });
    expect(reset.status).toBe(1);
    expect(reset.stderr).toContain('npm run db:reset refused');
    expect((await fetch(`${dev.url}/api/health/ready`)).status).toBe(200);
  });
});

// The README's example, as a frontend would write it against the generated types.
const CLIENT_EXAMPLE = `import createClient from 'openapi-fetch';
import type { paths } from './api.js';

export async function main(baseUrl: string, apiKey: string): Promise<string> {
  const client = createClient<paths>({ baseUrl, headers: { 'X-API-Key': apiKey } });
  const { data, error } = await client.GET('/api/v1/whoami');
  if (error) throw new Error(error.error.message);
  const orgId = data.data.type === 'api_key' ? data.data.org.id : '';
  const projects = await client.GET('/api/v1/orgs/{orgId}/projects', { params: { path: { orgId } } });
  if (projects.error) throw new Error(projects.error.error.message);
  return JSON.stringify({ orgId, projects: projects.data.data.map((project) => project.name) });
}

// @ts-expect-error -- the generated paths know every route: a wrong one does not compile.
export const wrong = () => createClient<paths>({ baseUrl: '' }).GET('/api/v1/no-such-route');
`;

describe('a typed client generated from the OpenAPI document (openapi-typescript + openapi-fetch)', () => {
  const root = new URL('../..', import.meta.url).pathname;
  // Inside the repository, so the example resolves openapi-fetch from its node_modules.
  mkdirSync(join(root, 'node_modules/.cache'), { recursive: true });
  const dir = mkdtempSync(join(root, 'node_modules/.cache/client-e2e-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('generates types that typecheck the example (and reject an unknown route), and the example calls the running API', async () => {
    await generateClientTypes(dev.url, join(dir, 'api.d.ts'));
    writeFileSync(join(dir, 'example.ts'), CLIENT_EXAMPLE);
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--outDir', dir, '--strict', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler', '--skipLibCheck', join(dir, 'example.ts')], { encoding: 'utf8' });
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);

    // Compiled by tsc above: Node does not strip types under node_modules.
    const script = `const m = await import(${JSON.stringify(join(dir, 'example.js'))}); console.log(await m.main(process.argv[1], process.argv[2]));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, dev.url, demo.apiKey.key], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ orgId: demo.org.id, projects: expect.arrayContaining([demo.project.name]) });
  });
});

describe('npm run client:generate, as README runs it', () => {
  it('writes the types from the running server (PORT) to the file given, relative to the folder npm runs in', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-saas-client-'));
    try {
      const out = join(dir, 'api.d.ts');
      // From a frontend's folder, outside the repository (npm --prefix finds its package.json): a relative file.
      const root = new URL('../..', import.meta.url).pathname;
      const generate = await npmRun(['--prefix', root, 'client:generate', '--', 'api.d.ts'], { API_URL: '', PORT: `${dev.ports.http}` }, dir);
      expect(generate.status, generate.stderr).toBe(0);
      expect(generate.stdout).toContain(`${out} ← http://127.0.0.1:${dev.ports.http}/api/openapi.json`);
      expect(readFileSync(out, 'utf8')).toMatch(/"\/api\/v1\/whoami": \{/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a frontend in ten minutes', () => {
  it('CORS answers the usual dev-server origins on localhost and 127.0.0.1', async () => {
    for (const origin of ['http://127.0.0.1:5173', 'http://localhost:5173', 'http://127.0.0.1:3000', 'http://localhost:4321', 'http://127.0.0.1:8080']) {
      const response = await fetch(`${dev.url}/api/v1/auth/login`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
      expect(response.headers.get('access-control-allow-origin'), origin).toBe(origin);
    }
    const foreign = await fetch(`${dev.url}/api/v1/auth/login`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a Worker var set in the environment of npm run dev overrides wrangler.toml (SIGNUP_RESPONSE=uniform: 202)', async () => {
    const response = await fetch(`${dev.url}/api/v1/auth/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `new-${Date.now()}@example.com`, password: 'a long enough password', name: 'New' }) });
    expect(response.status).toBe(202);
  });

  it('any Worker var of src/config.ts reaches the Worker, not only a fixed list (MAX_REQUEST_BODY_BYTES=6000000: the largest part)', async () => {
    const login = await fetch(`${dev.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: demo.users[0]?.email, password: DEMO_PASSWORD }) });
    const { accessToken } = ((await login.json()) as { data: { tokens: { accessToken: string } } }).data.tokens;
    const headers = { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' };
    const started = await fetch(`${dev.url}/api/v1/orgs/${demo.org.id}/files/multipart`, { method: 'POST', headers, body: JSON.stringify({ name: 'big.csv', contentType: 'text/csv', size: 20_000_000 }) });
    expect(started.status, await started.clone().text()).toBe(201);
    const { data } = (await started.json()) as { data: { file: { id: string }; maxPartBytes: number } };
    expect(data.maxPartBytes).toBe(6_000_000);
    expect((await fetch(`${dev.url}/api/v1/orgs/${demo.org.id}/files/${data.file.id}`, { method: 'DELETE', headers: { authorization: headers.authorization } })).status).toBe(204);
  });

  it("emails link to APP_URL, which follows PORT; the outbox lists every mail without ?to=, each with its url", async () => {
    const email = demo.users[0]?.email ?? '';
    expect((await fetch(`${dev.url}/api/v1/auth/forgot-password`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) })).status).toBe(202);
    const mail = await waitForMail((sent) => sent.to === email && sent.data.url?.includes('/reset-password') === true);
    expect(mail?.data.url).toBe(`http://localhost:${dev.ports.http}/reset-password?token=${mail?.data.token}`);
    expect(mail?.text).toContain(mail?.data.url);
  });
});

// Last in the file: the second server's wrangler joins and leaves the machine-wide dev registry, which makes the first
// one's wrangler reload, closing its idle connections under the tests that would follow.
describe('any PostgreSQL as DATABASE_URL: a second npm run dev on the first one\'s PostgreSQL', () => {
  const dataDirs: string[] = [];
  const servers: DevServer[] = [];
  afterAll(async () => {
    for (const server of servers) if (server.child.exitCode === null) await server.stop('SIGINT', 'group').catch(() => server.kill());
    for (const dataDir of dataDirs) rmSync(dataDir, { recursive: true, force: true });
  });

  /** `npm run dev` with its own DATA_DIR and ports, and the given database variables. */
  async function second(env: NodeJS.ProcessEnv): Promise<DevServer> {
    const dataDir = mkdtempSync(join(tmpdir(), 'edge-saas-any-pg-'));
    dataDirs.push(dataDir);
    const server = new DevServer({ http: await freePort(), pg: await freePort(), proxy: await freePort() }, dataDir, env);
    servers.push(server);
    return server;
  }

  it('as the owner, with the runtime role in WORKER_DATABASE_URL: ready, demo login and whoami work, no WARNING', async () => {
    const server = await second({ DATABASE_URL: `postgres://postgres:postgres@127.0.0.1:${dev.ports.pg}/app`, WORKER_DATABASE_URL: `postgres://app:app@127.0.0.1:${dev.ports.pg}/app` });
    const url = await server.ready();
    expect((await fetch(`${url}/api/health/ready`)).status).toBe(200);
    const whoami = await fetch(`${url}/api/v1/whoami`, { headers: { authorization: `Bearer ${await demoOwnerToken(url)}` } });
    expect(whoami.status).toBe(200);
    expect(server.output).not.toContain('WARNING');
    // The user's own URL is printed without its password.
    expect(server.output).toContain(`Database (owner): postgres://postgres:***@127.0.0.1:${dev.ports.pg}/app`);
    expect(server.output).not.toContain('postgres:postgres@');
    // No local cluster to hold a lock here: the data folder's own mark keeps db:reset off a running server's state.
    const reset = spawnSync('npm', ['run', 'db:reset'], { cwd: new URL('../..', import.meta.url), env: { ...process.env, DATA_DIR: dataDirs.at(-1) }, encoding: 'utf8' });
    expect(reset.status).toBe(1);
    expect(reset.stderr).toContain('in use by a running npm run dev');
    expect(existsSync(join(dataDirs.at(-1) ?? '', 'wrangler'))).toBe(true);
    expect((await server.stop('SIGINT', 'group')).code).toBe(0);
  });

  it('on a fresh database whose owner is no superuser: the WARNING with its fix (the Worker would use the owner), and the demo seed succeeds (ready, demo login, raised limits)', async () => {
    // A fresh database of an owner that is neither superuser nor BYPASSRLS (Neon's neondb_owner, after README's
    // one-time setup: it may hand objects to app_internal): before the migrations it owns no table at all.
    const asSuperuser = new pg.Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${dev.ports.pg}/app` });
    await asSuperuser.connect();
    await asSuperuser.query("create role fresh_owner login password 'fresh' createrole");
    await asSuperuser.query('grant app_internal, app_runtime to fresh_owner with admin option');
    await asSuperuser.query('create database fresh owner fresh_owner');
    await asSuperuser.end();
    const fresh = new pg.Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${dev.ports.pg}/fresh` });
    await fresh.connect();
    await fresh.query('alter schema public owner to fresh_owner');
    await fresh.query('grant create on schema public to app_internal');
    await fresh.end();

    const server = await second({ DATABASE_URL: `postgres://fresh_owner:fresh@127.0.0.1:${dev.ports.pg}/fresh` });
    for (const deadline = Date.now() + 60_000; Date.now() < deadline && server.child.exitCode === null && !server.output.includes('Fix: create the runtime role'); ) {
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
    expect(server.output).toMatch(/WARNING: the Worker would connect as "fresh_owner" \(the owner of the tables\): row-level security does NOT apply/);
    expect(server.output).toMatch(/Fix: create the runtime role once .* and set WORKER_DATABASE_URL to its URL\./);

    // The owner inherits app_runtime (it was granted it to create the runtime role) and organizations forces RLS on
    // its owner: the demo org's raised limits must not be refused by app_runtime's insert policy (limits_default).
    const url = await server.ready();
    expect((await fetch(`${url}/api/health/ready`)).status).toBe(200);
    const authorization = `Bearer ${await demoOwnerToken(url)}`;
    const usage = await fetch(`${url}/api/v1/orgs/${demo.org.id}/usage`, { headers: { authorization } });
    expect(usage.status).toBe(200);
    const { rateLimits, callerRateLimits } = demo.org.limitOverrides;
    expect(((await usage.json()) as { data: unknown }).data).toMatchObject({
      subscriptionTier: demo.org.subscriptionTier,
      rateLimits: { read: { limit: rateLimits.read }, write: { limit: rateLimits.write } },
      callerRateLimits: { read: { limit: callerRateLimits.read }, write: { limit: callerRateLimits.write } },
    });
    expect((await server.stop('SIGINT', 'group')).code).toBe(0);
  });
});

/** Signs the demo owner in on the server at `url`; its access token. */
async function demoOwnerToken(url: string): Promise<string> {
  const login = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: demo.users[0]?.email, password: DEMO_PASSWORD }) });
  expect(login.status).toBe(200);
  return ((await login.json()) as { data: { tokens: { accessToken: string } } }).data.tokens.accessToken;
}
