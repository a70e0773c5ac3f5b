import { describe, expect, it } from 'vitest';
import { roomBenchVerdict, SocketCloses, type RoomBenchRound } from '../../scripts/lib/room-bench-tally.ts';

// The room benchmark (scripts/lib/bench-rooms.ts) once printed "v2: 800 of 1,000 each round" for a run in which the
// server had closed 200 sockets (1006: the Worker restarted) and read it as a delivery gap (issue #9).

const round = (delivered: number, open: number, lastMs = 150): RoomBenchRound => ({ delivered, open, lastMs });

describe('room benchmark tally', () => {
  it('counts the sockets the server closed, by code and from when, and not those the benchmark closes itself', () => {
    const closes = new SocketCloses();
    for (let index = 0; index < 200; index++) closes.closed(index, 1006, 5_541 + index);
    closes.closed(7, 1000, 9_000);
    expect(closes.isOpen(7)).toBe(false);
    expect(closes.isOpen(200)).toBe(true);
    closes.stop();
    closes.closed(200, 1000, 40_000);
    expect(closes.isOpen(200)).toBe(true);
    expect(closes.summary()).toEqual({ count: 200, codes: { 1006: 200 }, firstAtS: 5.5 });
  });

  it('reports a run whose sockets were closed as void, not as broadcasts that missed them', () => {
    const verdict = roomBenchVerdict({ sockets: 1_000, closed: { count: 200, codes: { 1006: 200 }, firstAtS: 5.5 }, rounds: [round(800, 800), round(800, 800, 172)] });
    expect(verdict).toHaveLength(1);
    expect(verdict[0]).toMatch(/^VOID {4}200 socket\(s\) closed by the server during the run \(200 × 1006; the first 5\.5 s in\)/);
    expect(verdict.join('\n')).not.toMatch(/MET|MISSED/);
  });

  it('reports a round that missed open sockets as missed, whatever its latency', () => {
    expect(roomBenchVerdict({ sockets: 1_000, closed: { count: 0, codes: {}, firstAtS: null }, rounds: [round(1_000, 1_000), round(800, 1_000, 172)] })).toEqual([
      'MISSED  1 round(s) did not reach every open socket: 800 of 1000',
    ]);
    expect(roomBenchVerdict({ sockets: 10, closed: { count: 0, codes: {}, firstAtS: null }, rounds: [round(0, 10, Number.NaN)] })).toEqual([
      'MISSED  1 round(s) did not reach every open socket: 0 of 10',
      'MISSED  last delivery ≤ 250 ms in every round: worst a round reached nobody',
    ]);
  });

  it('meets the target only when every round reached every socket in time', () => {
    const closed = { count: 0, codes: {}, firstAtS: null };
    expect(roomBenchVerdict({ sockets: 1_000, closed, rounds: [round(1_000, 1_000, 115), round(1_000, 1_000, 205)] })).toEqual(['MET     last delivery ≤ 250 ms in every round: worst 205 ms']);
    expect(roomBenchVerdict({ sockets: 1_000, closed, rounds: [round(1_000, 1_000, 251)] })).toEqual(['MISSED  last delivery ≤ 250 ms in every round: worst 251 ms']);
  });
});
