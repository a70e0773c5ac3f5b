import { expect } from 'vitest';
import { ROOM_LIMITS } from '../../src/lib/limits.ts';
import { api, json, type Credential } from './factories.ts';

/** A frame of the rooms protocol as a test reads it. */
export type Frame = { type: string } & Record<string, unknown>;

/** A connected WebSocket inside workerd, with its frames queued for `next` and its close as a promise. */
export interface TestSocket {
  ws: WebSocket;
  frames: Frame[];
  /** The next frame of `type` (skipping others), within `timeoutMs`. */
  next(type?: string, timeoutMs?: number): Promise<Frame>;
  /** Resolves when the server closes the socket. */
  closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
}

/** Asks for a ticket (`POST <base>/tickets`) as `auth`; answers the ticket's connect URL. */
export async function roomTicket(base: string, auth: Credential): Promise<string> {
  const response = await api(`${base}/tickets`, { method: 'POST', auth });
  expect(response.status).toBe(201);
  return (await json<{ data: { url: string } }>(response)).data.url;
}

/** Sends the upgrade (`url` is a path, ticket included or not) and answers the raw response. */
export function upgrade(url: string, options: { auth?: Credential; headers?: Record<string, string> } = {}): Promise<Response> {
  return api(url, { auth: options.auth, headers: { upgrade: 'websocket', ...options.headers } });
}

/** Connects with a fresh ticket (or with `auth` as headers when `byHeaders`), and waits for the hello. */
export async function joinRoom(base: string, auth: Credential, options: { lastId?: number; byHeaders?: boolean; v?: 2 } = {}): Promise<TestSocket & { hello: Frame }> {
  const url = new URL(options.byHeaders ? `${base}/ws` : await roomTicket(base, auth), 'http://x');
  if (options.lastId !== undefined) url.searchParams.set('lastId', String(options.lastId));
  if (options.v !== undefined) url.searchParams.set('v', String(options.v));
  const response = await upgrade(url.pathname + url.search, { auth: options.byHeaders ? auth : undefined });
  expect(response.status, await peek(response)).toBe(101);
  const socket = accept(response);
  return { ...socket, hello: await socket.next('hello') };
}

async function peek(response: Response): Promise<string> {
  return response.status === 101 ? '' : response.clone().text();
}

/** Accepts the client end of a 101 response. */
export function accept(response: Response): TestSocket {
  const ws = response.webSocket;
  if (!ws) throw new Error(`no WebSocket in the response (status ${response.status})`);
  ws.accept();
  const frames: Frame[] = [];
  const waiters: Array<() => void> = [];
  ws.addEventListener('message', (event) => {
    const text = typeof event.data === 'string' ? event.data : new TextDecoder().decode(event.data as ArrayBuffer);
    frames.push(text.startsWith('{') ? (JSON.parse(text) as Frame) : { type: 'raw', text });
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.addEventListener('close', (event) => resolve({ code: event.code, reason: event.reason })));
  let read = 0;
  const next = async (type?: string, timeoutMs = 3_000): Promise<Frame> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (read < frames.length) {
        const frame = frames[read++] as Frame;
        if (type === undefined || frame.type === type) return frame;
      }
      if (Date.now() > deadline) throw new Error(`no "${type ?? 'any'}" frame within ${timeoutMs} ms; got ${JSON.stringify(frames)}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  return { ws, frames, next, closed, send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)) };
}

/** Resolves the close, or fails after `timeoutMs`. */
export function closedWithin(socket: TestSocket, timeoutMs = 3_000): Promise<{ code: number; reason: string }> {
  return Promise.race([socket.closed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('socket not closed in time')), timeoutMs))]);
}

/** Runs `work` with some room limits changed (the Worker and the test share one module instance). */
export async function withLimits<T>(changes: Partial<Record<keyof typeof ROOM_LIMITS, number>>, work: () => Promise<T>): Promise<T> {
  const limits = ROOM_LIMITS as Record<string, number>;
  const before = { ...limits };
  Object.assign(limits, changes);
  try {
    return await work();
  } finally {
    Object.assign(limits, before);
  }
}
