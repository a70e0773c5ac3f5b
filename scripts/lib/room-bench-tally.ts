// The room benchmark's bookkeeping (scripts/lib/bench-rooms.ts), kept apart from its sockets so a test can drive it:
// a socket the server closed during the run is reported as closed, never as a broadcast that did not arrive. The run
// that once reported "v2: 800 of 1,000 each round" had lost 200 sockets to a Worker restart (wrangler dev reloads
// when a source file changes, closing every socket with 1006) and never looked at closes.

export interface RoomBenchClosures {
  /** Sockets the server closed while they were measured (the benchmark's own closes at the end are not counted). */
  count: number;
  /** How many closed with each code, e.g. { "1006": 200 }. */
  codes: Record<string, number>;
  /** Seconds from the start of the run to the first close; null when none closed. */
  firstAtS: number | null;
}

export interface RoomBenchRound {
  delivered: number;
  /** Receiving sockets still open when the round ended: what `delivered` is to be compared with. */
  open: number;
  lastMs: number;
}

/** Records the closes of the sockets it is told about until `stop()` (call it before closing them yourself). */
export class SocketCloses {
  readonly #closed = new Map<number, { code: number; atMs: number }>();
  #watching = true;

  /** Socket `index` closed with `code`, `atMs` after the run started; only its first close counts. */
  closed(index: number, code: number, atMs: number): void {
    if (this.#watching && !this.#closed.has(index)) this.#closed.set(index, { code, atMs });
  }

  isOpen(index: number): boolean {
    return !this.#closed.has(index);
  }

  stop(): void {
    this.#watching = false;
  }

  summary(): RoomBenchClosures {
    const codes: Record<string, number> = {};
    let first: number | null = null;
    for (const { code, atMs } of this.#closed.values()) {
      codes[code] = (codes[code] ?? 0) + 1;
      first = first === null ? atMs : Math.min(first, atMs);
    }
    return { count: this.#closed.size, codes, firstAtS: first === null ? null : Math.round(first / 100) / 10 };
  }
}

/**
 * The benchmark's verdict, one line per finding: MET only when no socket was closed and every round reached every
 * open socket within `targetMs`. Closed sockets and a round that missed open sockets are separate findings.
 */
export function roomBenchVerdict(result: { sockets: number; closed: RoomBenchClosures; rounds: readonly RoomBenchRound[] }, targetMs = 250): string[] {
  const lines: string[] = [];
  const { closed } = result;
  if (closed.count > 0) {
    const codes = Object.entries(closed.codes).map(([code, count]) => `${count} × ${code}`).join(', ');
    lines.push(
      `VOID    ${closed.count} socket(s) closed by the server during the run (${codes}; the first ${closed.firstAtS ?? '?'} s in): those rounds could reach at most the sockets left open. ` +
        'Every socket closing with 1006 at once is a Worker restart (wrangler dev reloads when a source file changes): rerun on a checkout nobody edits.',
    );
  }
  const short = result.rounds.filter((round) => round.delivered < round.open);
  if (short.length > 0) lines.push(`MISSED  ${short.length} round(s) did not reach every open socket: ${short.map((round) => `${round.delivered} of ${round.open}`).join(', ')}`);
  const worst = Math.max(...result.rounds.map((round) => (Number.isFinite(round.lastMs) ? round.lastMs : Number.POSITIVE_INFINITY)));
  const timely = worst <= targetMs;
  if (lines.length === 0) lines.push(`${timely ? 'MET   ' : 'MISSED'}  last delivery ≤ ${targetMs} ms in every round: worst ${worst} ms`);
  else if (!timely) lines.push(`MISSED  last delivery ≤ ${targetMs} ms in every round: worst ${Number.isFinite(worst) ? `${worst} ms` : 'a round reached nobody'}`);
  return lines;
}
