import type { Room } from './room.ts';
import { directoryName, roomKey } from './room.schemas.ts';

/** The app's handle on one room: a stub whose RPC methods are typed by the class. */
export type RoomStub = DurableObjectStub<Room>;

/** The room named `key` (see `roomName`); throws on a blank key. Every call with the same key reaches the same object. */
export function roomFor(env: Pick<Env, 'ROOMS'>, key: string): RoomStub {
  return env.ROOMS.getByName(roomKey.parse(key));
}

/** The org's room directory: the rooms that have had sockets, so a revocation reaches every one of them. */
export function roomDirectoryFor(env: Pick<Env, 'ROOMS'>, orgId: string): RoomStub {
  return roomFor(env, directoryName(orgId));
}
