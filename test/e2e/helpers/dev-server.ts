// `npm run dev` exactly as the README starts it, in its own process group, for the e2e tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../../scripts/lib/ports.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const READY_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;

export interface Ports {
  http: number;
  pg: number;
  proxy: number;
}

/** One `npm run dev` in its own process group, as a terminal would run it. */
export class DevServer {
  readonly child: ChildProcess;
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
  /** stdout and stderr, interleaved as a terminal shows them. */
  output = '';
  /** stdout alone: what `npm run -s dev | jq` reads. */
  stdout = '';

  /**
   * `extraEnv` is applied last (e.g. a DATABASE_URL, or `CORS_ORIGINS` for the Worker); `npmArgs` as typed after
   * `npm` (`['run', '-s', 'dev']` for README's `npm run -s dev | jq`).
   */
  constructor(ports: Ports, dataDir: string, extraEnv: NodeJS.ProcessEnv = {}, npmArgs = ['run', 'dev']) {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: `${ports.http}`, PG_PORT: `${ports.pg}`, NEON_PROXY_PORT: `${ports.proxy}`, DATA_DIR: dataDir };
    delete env.DATABASE_URL;
    Object.assign(env, extraEnv);
    this.child = spawn('npm', npmArgs, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.exited = once(this.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      this.stdout += chunk.toString('utf8');
    });
    this.child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
  }

  /** Resolves with the URL from the "Ready:" line. */
  async ready(): Promise<string> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline && this.child.exitCode === null) {
      const url = /^Ready: (http\S+)/m.exec(this.output)?.[1];
      if (url) return url;
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
    throw new Error(`npm run dev did not print "Ready:" (exit ${this.child.exitCode}):\n${this.output.slice(-4_000)}`);
  }

  /** Sends `signal` to the whole group (a terminal's Ctrl-C) or to npm alone (`kill <pid>`); resolves with the exit. */
  async stop(signal: NodeJS.Signals, target: 'group' | 'npm'): Promise<{ code: number | null; ms: number }> {
    const pid = this.child.pid ?? 0;
    const started = Date.now();
    process.kill(target === 'group' ? -pid : pid, signal);
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running ${STOP_TIMEOUT_MS} ms after ${signal}:\n${this.output.slice(-2_000)}`)), STOP_TIMEOUT_MS).unref());
    const [code] = await Promise.race([this.exited, timeout]);
    return { code, ms: Date.now() - started };
  }

  /** Last resort for a failed test: nothing may outlive the file. */
  kill(): void {
    if (this.child.pid && this.child.exitCode === null) process.kill(-this.child.pid, 'SIGKILL');
  }
}


export interface RunningDevServer {
  server: DevServer;
  url: string;
  ports: Ports;
  dataDir: string;
  /** Stops it as Ctrl-C would (SIGKILL if that fails) and removes its data. */
  close(): Promise<void>;
}

/** One `npm run dev` on free ports and a throwaway DATA_DIR, started and ready; for a test file's beforeAll. */
export async function startDevServer(extraEnv: NodeJS.ProcessEnv = {}, npmArgs?: string[]): Promise<RunningDevServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'edge-saas-e2e-'));
  // As root, PostgreSQL runs as the `postgres` user, who must be able to enter the data folder.
  chmodSync(dataDir, 0o755);
  const ports = { http: await freePort(), pg: await freePort(), proxy: await freePort() };
  const server = new DevServer(ports, dataDir, extraEnv, npmArgs);
  const close = async () => {
    await server.stop('SIGINT', 'group').catch(() => server.kill());
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    return { server, url: await server.ready(), ports, dataDir, close };
  } catch (error) {
    await close();
    throw error;
  }
}
