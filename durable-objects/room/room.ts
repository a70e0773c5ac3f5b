import { DurableObject } from 'cloudflare:workers';

/**
 * A realtime room (WebSocket hibernation API), one object per room.
 * This is the binding and its health probe; connections and broadcast land with the realtime issue.
 */
export class Room extends DurableObject<Env> {
  /** Answers without touching storage: proves the namespace routes to a live object. */
  ping(): 'pong' {
    return 'pong';
  }
}
