// What the app uses: the client and the message schemas. The class itself is exported only by src/index.ts.
export { roomFor, type RoomStub } from './room.client.ts';
export { roomKey, roomPingReply, type RoomPingReply } from './room.schemas.ts';
