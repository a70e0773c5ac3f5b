// A Node WebSocket client of the rooms protocol (README, "Realtime rooms"), for the e2e test and the benchmark.
import WebSocket from 'ws';

export type RoomFrame = { type: string } & Record<string, unknown>;

export interface RoomSocket {
  ws: WebSocket;
  frames: RoomFrame[];
  /** The next frame of `type` (skipping others) within `timeoutMs`. */
  next(type: string, timeoutMs?: number): Promise<RoomFrame>;
  /** Resolves with the close code and reason when the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
}

/**
 * Opens a socket to `url` (ws://…, a ticket in the query or `headers` with credentials) and waits for the
 * server's hello. `onFrame` sees every frame as it arrives, before it is queued.
 */
export function openRoomSocket(url: string, options: { headers?: Record<string, string>; onFrame?: (frame: RoomFrame) => void; timeoutMs?: number } = {}): Promise<RoomSocket & { hello: RoomFrame }> {
  const ws = new WebSocket(url, { headers: options.headers });
  const frames: RoomFrame[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? '' : data.toString();
    const frame = text.startsWith('{') ? (JSON.parse(text) as RoomFrame) : { type: 'raw', text };
    options.onFrame?.(frame);
    frames.push(frame);
    for (const wake of waiters) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  let read = 0;
  const next = (type: string, timeoutMs = 5_000) =>
    new Promise<RoomFrame>((resolve, reject) => {
      const look = () => {
        while (read < frames.length) {
          const frame = frames[read++] as RoomFrame;
          if (frame.type === type) {
            waiters.delete(look);
            clearTimeout(timer);
            resolve(frame);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(look);
        reject(new Error(`no "${type}" frame within ${timeoutMs} ms (got ${frames.map((frame) => frame.type).join(', ')})`));
      }, timeoutMs);
      waiters.add(look);
      look();
    });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    ws.once('error', reject);
    ws.once('open', () => {
      const socket = { ws, frames, next, closed };
      next('hello', options.timeoutMs).then((hello) => resolve({ ...socket, hello }), reject);
    });
  });
}
