import { createServer, type Server } from 'node:http';

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
 */
export async function startFakeServices(): Promise<{ url: string; close(): Promise<void> }> {
  const received: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/__requests') {
        const prefix = url.searchParams.get('path') ?? '/';
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(received.filter((request) => request.path.startsWith(prefix))));
        return;
      }
      received.push({ method: req.method ?? 'GET', path: url.pathname, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('fake services did not bind');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () => new Promise((resolveClose) => server.close(() => resolveClose())),
  };
}
