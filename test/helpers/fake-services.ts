import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { freePort } from '../../scripts/lib/ports.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A real local HTTP server standing in for third parties outside our system (Sentry, an email
 * provider, a customer's webhook endpoint). It answers 200 to anything and records it;
 * `GET /__requests?path=<prefix>` returns what it received, so tests inside workerd can read it.
 * Tests inside workerd cannot listen on a port, so the network faults they need are made here too:
 * `POST /__faults/proxy?target=host:port&drop=N` starts a TCP proxy that drops its first N connections
 * (`GET /__faults/proxy?address=…` reports what it did and how many connections are still open;
 * `POST /__faults/proxy/cut?address=…` resets the open ones, a network lost mid-conversation);
 * `POST /__faults/dead-address` names a port where nothing listens. As a webhook receiver, `/status/<code>/…`
 * answers that status (and a 5,000-byte body) and `/slow/<ms>/…` answers late.
 */
export async function startFakeServices(): Promise<{ url: string; close(): Promise<void> }> {
  const received: RecordedRequest[] = [];
  const proxies = new Map<string, FlakyProxy>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname.startsWith('/__faults/')) {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(await fault(url, req.method ?? 'GET', proxies)));
        return;
      }
      if (url.pathname === '/__requests') {
        const prefix = url.searchParams.get('path') ?? '/';
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(received.filter((request) => request.path.startsWith(prefix))));
        return;
      }
      received.push({ method: req.method ?? 'GET', path: url.pathname, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      // A webhook receiver that fails on request: /status/<code>/… answers that status with a long body,
      // /slow/<ms>/… answers 200 after a delay.
      const status = /^\/status\/(\d{3})\//.exec(url.pathname);
      if (status) {
        res.writeHead(Number(status[1]), { 'content-type': 'text/plain', location: 'https://example.com/elsewhere' });
        res.end('e'.repeat(5000));
        return;
      }
      const slow = /^\/slow\/(\d+)\//.exec(url.pathname);
      if (slow) await new Promise((resolveLater) => setTimeout(resolveLater, Number(slow[1])));
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('fake services did not bind');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: async () => {
      await Promise.all([...proxies.values()].map((proxy) => proxy.close()));
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };
}

async function fault(url: URL, method: string, proxies: Map<string, FlakyProxy>): Promise<unknown> {
  if (url.pathname === '/__faults/dead-address') return { address: `127.0.0.1:${await freePort()}` };
  if (url.pathname === '/__faults/proxy' && method === 'POST') {
    const [host = '', port = ''] = (url.searchParams.get('target') ?? '').split(':');
    if (host !== '127.0.0.1' && host !== 'localhost') return { error: 'loopback targets only' };
    const proxy = await startFlakyProxy({ host, port: Number(port) }, Number(url.searchParams.get('drop') ?? '1'));
    proxies.set(proxy.address, proxy);
    return { address: proxy.address };
  }
  const proxy = proxies.get(url.searchParams.get('address') ?? '');
  if (!proxy) return { error: 'no such proxy' };
  if (url.pathname === '/__faults/proxy/cut' && method === 'POST') return { cut: proxy.cut() };
  return { ...proxy.stats, open: proxy.open() };
}

interface FlakyProxy {
  address: string;
  stats: { dropped: number; forwarded: number };
  /** Forwarded client connections not yet closed. */
  open(): number;
  /** Resets every forwarded connection still open; returns how many. */
  cut(): number;
  close(): Promise<void>;
}

/** A TCP proxy to `target` that resets its first `drop` connections: a network that fails, then recovers. */
async function startFlakyProxy(target: { host: string; port: number }, drop: number): Promise<FlakyProxy> {
  const stats = { dropped: 0, forwarded: 0 };
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server: TcpServer = createTcpServer((client) => {
    track(client);
    if (stats.dropped < drop) {
      stats.dropped += 1;
      client.resetAndDestroy();
      return;
    }
    stats.forwarded += 1;
    clients.add(client);
    client.on('close', () => clients.delete(client));
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('flaky proxy did not bind');
  return {
    address: `127.0.0.1:${address.port}`,
    stats,
    open: () => clients.size,
    cut: () => {
      const open = clients.size;
      for (const client of clients) client.resetAndDestroy();
      return open;
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolveClose) => server.close(() => resolveClose()));
    },
  };
}
