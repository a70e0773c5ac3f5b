import type { Room } from './room.ts';
import { roomKey } from './room.schemas.ts';

/** The app's handle on one room: a stub whose RPC methods are typed by the class. */
export type RoomStub = DurableObjectStub<Room>;

/** The room named `key` (see `roomKey`); throws on a blank key. Every call with the same key reaches the same object. */
export function roomFor(env: Pick<Env, 'ROOMS'>, key: string): RoomStub {
  return env.ROOMS.getByName(roomKey.parse(key));
}
