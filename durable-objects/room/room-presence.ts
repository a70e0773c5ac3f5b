import { ROOM_LIMITS } from '../../src/lib/limits.ts';
import type { publicMember } from './room-sockets.ts';

// Presence of protocol v2 (README, "Realtime rooms"): the hello and `members` answers carry a page of the
// members, and changes reach v2 sockets as one frame per flush once the room is large, so connecting N sockets
// costs O(N) frames instead of the O(N²) of v1's join-per-socket.

export type PublicMember = ReturnType<typeof publicMember>;

/** A page of `members` ordered by connection id, after `after`, with the room's count and the next cursor. */
export function membersPage(members: readonly PublicMember[], after: string | undefined) {
  const rest = members.filter((member) => after === undefined || member.connectionId > after).sort((a, b) => (a.connectionId < b.connectionId ? -1 : 1));
  const page = rest.slice(0, ROOM_LIMITS.presencePage);
  return { count: members.length, members: page, next: rest.length > page.length ? (page.at(-1)?.connectionId ?? null) : null };
}

/**
 * One presence change frame: members that joined (JSON texts), connection ids that left, and the room's count.
 * Each list is capped at a page; `more: true` says some were left out (page with `members` to resync).
 */
export function presenceChangeFrame(count: number, joined: readonly string[], left: readonly string[]): string {
  const cap = ROOM_LIMITS.presencePage;
  const more = joined.length > cap || left.length > cap;
  return `{"v":2,"type":"presence","count":${count},"joined":[${joined.slice(0, cap).join(',')}],"left":${JSON.stringify(left.slice(0, cap))},"more":${more}}`;
}

/** The room's budget of deliveries per second: `spend` answers 0 when allowed, else the ms until the window turns. */
export class DeliveryBudget {
  #start = 0;
  #used = 0;

  spend(cost: number, now: number): number {
    if (now - this.#start >= 1_000) {
      this.#start = now;
      this.#used = 0;
    }
    if (this.#used + cost > ROOM_LIMITS.roomDeliveriesPerSecond) return Math.max(1, this.#start + 1_000 - now);
    this.#used += cost;
    return 0;
  }
}
