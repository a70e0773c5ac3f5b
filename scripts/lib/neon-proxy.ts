/**
 * Local dev proxy letting `@neondatabase/serverless` (e.g. inside workerd) reach
 * a plain local PostgreSQL, on one port:
 * - `GET /v2?address=host:port` + WebSocket upgrade → raw TCP to Postgres, for
 *   `Pool` / `Client` (and drizzle `neon-serverless`);
 * - `POST /sql` → Neon's SQL-over-HTTP protocol, for `neon()` (and drizzle `neon-http`).
 *
 * Configure the driver with (`url` is `NeonProxy.url`):
 * ```ts
 * neonConfig.wsProxy = (host, port) => `${url}/v2?address=${host}:${port}`;
 * neonConfig.useSecureWebSocket = false;
 * neonConfig.pipelineTLS = false;
 * neonConfig.pipelineConnect = false;
 * neonConfig.coalesceWrites = false;
 * neonConfig.fetchEndpoint = () => `http://${url}/sql`;
 * ```
 * Only loopback databases (and hosts named in `allowHosts`) are ever contacted.
 */
import { STATUS_CODES, createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { createNeonHttpSql, hostPolicy } from './neon-http-sql.ts';

/** A running proxy. */
export interface NeonProxy {
  /** `host:port` without scheme, e.g. `"127.0.0.1:54321"`. */
  url: string;
  port: number;
  /** Stops listening, drops open tunnels and HTTP connections, and ends all pg pools. */
  close(): Promise<void>;
}

/** Where a WebSocket tunnel should connect to. */
interface TcpTarget {
  host: string;
  port: number;
}

/**
 * Starts the proxy.
 * @param options.port port to listen on; 0 (default) picks a free one.
 * @param options.host interface to bind; defaults to 127.0.0.1 so the proxy is not exposed.
 * @param options.allowHosts database hosts besides loopback it may reach (the one DATABASE_URL names).
 */
export async function startNeonProxy(options: { port?: number; host?: string; allowHosts?: string[] } = {}): Promise<NeonProxy> {
  const { port = 0, host = '127.0.0.1' } = options;
  const allowed = hostPolicy(options.allowHosts);
  const sql = createNeonHttpSql(allowed);
  const wss = new WebSocketServer({ noServer: true });

  const server = createServer((req, res) => {
    const refusal = fromBrowser(req) ? 403 : pathOf(req) === '/sql' ? undefined : 404;
    if (refusal === undefined) return sql.handle(req, res);
    res.writeHead(refusal, { 'content-type': 'application/json' }).end(JSON.stringify({ message: STATUS_CODES[refusal] }));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Upgraded sockets have no default error listener: a client reset must not crash us.
    socket.on('error', () => socket.destroy());
    const target = fromBrowser(req) ? 403 : tunnelTarget(req, allowed);
    if (typeof target === 'number') return rejectUpgrade(socket, target);
    wss.handleUpgrade(req, socket, head, (ws) => bridge(ws, target));
  });

  await listen(server, port, host);
  const bound = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `${urlHost}:${bound}`,
    port: bound,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections would otherwise hold server.close() open.
      server.closeAllConnections();
      await Promise.all([closed, sql.close(), ...[...wss.clients].map(closeTunnel)]);
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function pathOf(req: IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://proxy').pathname;
}

/**
 * Browsers always send `Origin` on WebSocket upgrades and POSTs, while the driver
 * (Node, workerd) does not. Refusing it stops any web page open on this machine
 * from reaching the database through the proxy, including via DNS rebinding.
 */
function fromBrowser(req: IncomingMessage): boolean {
  return req.headers.origin !== undefined;
}

/**
 * Parses `/v2?address=host:port` (IPv6 may be bare or bracketed: the port is
 * after the last colon). Returns an HTTP status instead when refused, so the
 * refusal happens before any connection attempt.
 */
function tunnelTarget(req: IncomingMessage, allowed: (host: string) => boolean): TcpTarget | number {
  if (pathOf(req) !== '/v2') return 404;
  const address = new URL(req.url ?? '/', 'http://proxy').searchParams.get('address') ?? '';
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) return 400;
  return allowed(host) ? { host, port } : 403;
}

function rejectUpgrade(socket: Duplex, status: number): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Pipes binary WebSocket frames ↔ raw TCP bytes; either side closing or failing closes the other. */
function bridge(ws: WebSocket, target: TcpTarget): void {
  const tcp: Socket = connect(target);
  // Postgres protocol messages are small and latency-bound.
  tcp.setNoDelay(true);

  // Writes before 'connect' are buffered by the socket, so early frames are not lost.
  ws.on('message', (data: RawData) => tcp.write(toBuffer(data)));
  tcp.on('data', (chunk: Buffer) => ws.send(chunk));

  ws.on('close', () => tcp.end());
  ws.on('error', () => tcp.destroy());
  // A close frame (rather than a dropped socket) lets the driver report a normal
  // "Connection terminated" error; the reason helps when debugging with devtools.
  tcp.on('error', (error) => closeWebSocket(ws, 1011, error.message));
  tcp.on('close', () => closeWebSocket(ws, 1000, ''));
}

function closeWebSocket(ws: WebSocket, code: number, reason: string): void {
  // Close reasons are limited to 123 bytes; socket error messages are ASCII.
  if (ws.readyState === WebSocket.OPEN) ws.close(code, reason.slice(0, 123));
}

/**
 * Closes a tunnel with a proper close frame: dropping the socket instead makes
 * the driver emit an 'error' that crashes a process whose pool has just ended.
 */
function closeTunnel(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => ws.terminate(), 1000);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.close(1001, 'neon-proxy shutting down');
  });
}

function toBuffer(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}
