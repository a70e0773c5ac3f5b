import { describe, expect, it } from 'vitest';

// A room hibernates only while nothing of its own keeps it awake (README, "Realtime rooms"): no timers and no outbound
// sockets, and every socket accepted with `ctx.acceptWebSocket`, never `accept()`. Deferred work goes through the
// storage alarm. This keeps a later change from quietly costing the hibernation the tests in workerd cannot see.
const sources = Object.entries(import.meta.glob<string>('../../durable-objects/room/*.ts', { query: '?raw', import: 'default', eager: true }));

const FORBIDDEN: Array<[string, RegExp]> = [
  ['a timer', /\bset(Timeout|Interval)\s*\(/],
  ['an outbound TCP socket', /\bconnect\s*\(|cloudflare:sockets/],
  ['an outbound WebSocket', /new\s+WebSocket\s*\(/],
  ['a socket accepted without hibernation', /\.accept\s*\(\s*\)/],
];

describe('room hibernation guard', () => {
  it('finds the room sources', () => {
    expect(sources.map(([path]) => path.split('/').at(-1))).toEqual(expect.arrayContaining(['room.ts', 'room-sockets.ts', 'room-store.ts', 'room-presence.ts']));
  });

  it.each(FORBIDDEN)('no room source uses %s', (_, pattern) => {
    expect(sources.filter(([, text]) => pattern.test(text)).map(([path]) => path)).toEqual([]);
  });
});
