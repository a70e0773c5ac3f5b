// The dev server exactly as the README starts it (`npm run dev`), on free ports and a throwaway DATA_DIR,
// driven over HTTP from Node; then stopped as a terminal's Ctrl-C and as `kill` would, and restarted.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/lib/ports.ts';
import { openRoomSocket } from '../../scripts/lib/room-socket.ts';
import { DEMO_PASSWORD, demo } from '../../scripts/lib/seed.ts';
import { DevServer, type Ports } from './helpers/dev-server.ts';

/** Ends the process groups of the given processes ("pid: cmdline" lines), e.g. wrangler's detached group. */
function killGroupsOf(processes: string[]): void {
  for (const line of processes) {
    try {
      // Field 5 of /proc/<pid>/stat is the process group; the command (field 2) ends with ')'.
      const stat = readFileSync(`/proc/${line.split(':', 1)[0]}/stat`, 'utf8');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgid > 1) process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolvePort(true)));
  });
}

/** Processes still running with `needle` on their command line (Linux /proc), e.g. a leftover workerd. */
function processesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(needle)) found.push(`${pid}: ${cmdline.slice(0, 160)}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

async function query<T extends pg.QueryResultRow>(port: number, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/app` });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Identifies the cluster and the demo org row: both survive a restart only if the data persisted. */
async function fingerprint(port: number) {
  const [cluster] = await query<{ id: string }>(port, 'select system_identifier::text as id from pg_control_system()');
  const [org] = await query<{ name: string; created: string }>(port, 'select name, created_at::text as created from organizations where id = $1', [demo.org.id]);
  return { cluster: cluster?.id, org };
}

describe('npm run dev', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'edge-saas-e2e-'));
  let ports: Ports;
  let server: DevServer | undefined;
  let url = '';
  let firstRun: Awaited<ReturnType<typeof fingerprint>>;
  // wrangler and postgres name the data folder on their command line; workerd names its port.
  const leftovers = () => [...processesMentioning(dataDir), ...(ports ? processesMentioning(`entry=127.0.0.1:${ports.http} `) : [])];

  beforeAll(async () => {
    // As root, PostgreSQL runs as the `postgres` user, who must be able to enter the data folder.
    chmodSync(dataDir, 0o755);
    ports = { http: await freePort(), pg: await freePort(), proxy: await freePort() };
    server = new DevServer(ports, dataDir);
    url = await server.ready();
  });

  afterAll(() => {
    server?.kill();
    killGroupsOf(leftovers());
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers liveness on the port it was given', async () => {
    expect(url).toBe(`http://127.0.0.1:${ports.http}`);
    const response = await fetch(`${url}/api/health/live`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { status: 'ok' } });
  });

  it('is ready: every dependency answers', async () => {
    const response = await fetch(`${url}/api/health/ready`);
    const body = (await response.json()) as { data: { status: string; checks: Record<string, { status: string }> } };
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body.data.status).toBe('ok');
    expect(Object.keys(body.data.checks).sort()).toEqual(['cache', 'files', 'flags', 'jobs', 'postgres', 'rateLimiter', 'rooms']);
    for (const [name, check] of Object.entries(body.data.checks)) expect(check.status, name).toBe('ok');
  });

  it('serves an OpenAPI 3.1 document that an independent validator accepts', async () => {
    const response = await fetch(`${url}/api/openapi.json`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as Record<string, unknown>;
    expect(doc.openapi).toMatch(/^3\.1\./);
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('serves the API reference page for that document', async () => {
    const response = await fetch(`${url}/api/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toContain('/api/openapi.json');
  });

  it('answers an unknown route with the 404 error envelope', async () => {
    const response = await fetch(`${url}/api/no-such-route`);
    expect(response.status).toBe(404);
    const body = (await response.json()) as { error: Record<string, unknown> };
    expect(body).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String), requestId: response.headers.get('x-request-id') } });
  });

  it('answers a wrong method with 405 and an Allow header', async () => {
    const response = await fetch(`${url}/api/health/live`, { method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toMatch(/\bGET\b/);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED');
  });

  it('serves the dev outbox the README points to, to this machine', async () => {
    const response = await fetch(`${url}/api/dev/outbox?to=${encodeURIComponent('nobody@example.com')}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: [] });
  });

  it('answers every request with an id it generated itself, whatever X-Request-Id the client sent', async () => {
    for (const sent of ['e2e-trace_42', 'has spaces and <html>', 'x'.repeat(500), undefined]) {
      const response = await fetch(`${url}/api/health/live`, { headers: sent === undefined ? {} : { 'X-Request-Id': sent } });
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });

  it('has migrated and seeded the local PostgreSQL', async () => {
    firstRun = await fingerprint(ports.pg);
    expect(firstRun.cluster).toMatch(/^\d+$/);
    expect(firstRun.org?.name).toBe(demo.org.name);
  });

  it('real WebSocket clients (ws) share a room: ticket, hello, presence, broadcast, and a logout disconnects', async () => {
    const member = demo.users[2];
    const login = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: member?.email, password: DEMO_PASSWORD }) });
    const token = ((await login.json()) as { data: { tokens: { accessToken: string } } }).data.tokens.accessToken;
    const room = `/api/v1/orgs/${demo.org.id}/rooms/e2e-${Date.now()}`;
    const ticket = await fetch(`${url}${room}/tickets`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(ticket.status).toBe(201);
    const { url: connect } = ((await ticket.json()) as { data: { url: string } }).data;
    const ws = url.replace(/^http/, 'ws');
    const browser = await openRoomSocket(`${ws}${connect}`);
    expect(browser.hello).toMatchObject({ v: 1, canSend: true, you: { userId: member?.id } });
    await expect(openRoomSocket(`${ws}${connect}`)).rejects.toThrow('upgrade refused: 401');
    const server = await openRoomSocket(`${ws}${room}/ws`, { headers: { 'x-api-key': demo.apiKey.key } });
    expect(await browser.next('presence')).toMatchObject({ event: 'join', member: { keyId: demo.apiKey.id } });
    server.ws.send(JSON.stringify({ v: 1, type: 'broadcast', data: { hello: 'from a server' } }));
    expect(await browser.next('broadcast')).toMatchObject({ id: 1, data: { hello: 'from a server' }, from: { keyId: demo.apiKey.id } });
    browser.ws.send('ping');
    expect(await browser.next('raw')).toEqual({ type: 'raw', text: 'pong' });
    expect((await fetch(`${url}/api/v1/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(204);
    expect(await browser.closed).toEqual({ code: 4001, reason: 'Credentials revoked' });
    expect(await server.next('presence')).toMatchObject({ event: 'leave', member: { userId: member?.id } });
    server.ws.close(1000);
  });

  it('stops everything on Ctrl-C (SIGINT to its process group) and exits 0', async () => {
    const stopped = await server?.stop('SIGINT', 'group');
    expect(stopped?.code, server?.output.slice(-2_000)).toBe(0);
    for (const port of Object.values(ports)) expect(await portIsFree(port), `port ${port}`).toBe(true);
    expect(leftovers()).toEqual([]);
  });

  it('restarts on the same DATA_DIR with its data, then stops on SIGTERM to npm alone', async () => {
    server = new DevServer(ports, dataDir);
    url = await server.ready();
    expect((await fetch(`${url}/api/health/ready`)).status).toBe(200);
    expect(await fingerprint(ports.pg)).toEqual(firstRun);

    const stopped = await server.stop('SIGTERM', 'npm');
    expect(stopped.code, server.output.slice(-2_000)).toBe(0);
    for (const port of Object.values(ports)) expect(await portIsFree(port), `port ${port}`).toBe(true);
    expect(leftovers()).toEqual([]);
  });
});
