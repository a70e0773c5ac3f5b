import { DurableObject } from 'cloudflare:workers';
import type { RoomPingReply } from './room.schemas.ts';

/**
 * A realtime room (WebSocket hibernation API), one object per room.
 * This is the binding and its health probe; connections and broadcast land with the realtime issue.
 * The app reaches it through `roomFor` (room.client.ts), never through the binding.
 */
export class Room extends DurableObject<Env> {
  /** Answers without touching storage: proves the namespace routes to a live object. */
  ping(): RoomPingReply {
    return 'pong';
  }
}
