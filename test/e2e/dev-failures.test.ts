// `npm run dev` failing before anything starts must say why and how to fix it; these fail fast.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDatabaseUrl } from '../../scripts/lib/database-check.ts';
import { freePort } from '../../scripts/lib/ports.ts';
import { DevServer } from './helpers/dev-server.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'edge-saas-fail-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Runs `npm run dev` with `env` until it exits; resolves with its exit code and output. */
async function failedStart(env: NodeJS.ProcessEnv, ports?: { http: number; pg: number; proxy: number }) {
  const server = new DevServer(ports ?? { http: await freePort(), pg: await freePort(), proxy: await freePort() }, dataDir, env);
  const timer = setTimeout(() => server.kill(), 60_000);
  const [code] = await server.exited;
  clearTimeout(timer);
  return { code, output: server.output };
}

describe('a bad DATABASE_URL is named with its cause and the fix', () => {
  it('not a URL', async () => {
    await expect(checkDatabaseUrl('localhost:5432/app')).rejects.toThrow(/DATABASE_URL (is not a URL|must be a postgres:\/\/).*Fix/);
    await expect(checkDatabaseUrl('definitely not a url')).rejects.toThrow(/DATABASE_URL is not a URL\. Fix: postgres:\/\//);
  });

  it('connection refused', async () => {
    const port = await freePort();
    await expect(checkDatabaseUrl(`postgres://u:p@127.0.0.1:${port}/app`)).rejects.toThrow(new RegExp(`connection refused at 127\\.0\\.0\\.1:${port}.*Fix: start it`));
  });

  it('unknown host', async () => {
    await expect(checkDatabaseUrl('postgres://u:p@no-such-host.invalid:5432/app')).rejects.toThrow(/unknown host "no-such-host\.invalid".*Fix/);
  });

  it('npm run dev exits 1 with that message, before starting anything', async () => {
    const { code, output } = await failedStart({ DATABASE_URL: 'not a url' });
    expect(code).toBe(1);
    expect(output).toMatch(/npm run dev could not start: DATABASE_URL is not a URL\. Fix:/);
    expect(output).not.toContain('Failed query');
  });
});

describe('a port already taken', () => {
  let blocker: Server | undefined;
  afterAll(() => blocker?.close());

  it('is named, with the variable that moves it', async () => {
    const http = await freePort();
    blocker = createServer().listen(http, '127.0.0.1');
    await new Promise((resolveListen) => blocker?.once('listening', resolveListen));
    const { code, output } = await failedStart({}, { http, pg: await freePort(), proxy: await freePort() });
    expect(code).toBe(1);
    expect(output).toContain(`Port ${http} (PORT) is already in use on 127.0.0.1`);
    expect(output).toContain('PORT=<port> npm run dev');
  });
});
