// What the app uses: the client and the message schemas. The class itself is exported only by src/index.ts.
export { roomDirectoryFor, roomFor, type RoomStub } from './room.client.ts';
export {
  CLOSE_CODES,
  MEMBER_HEADER,
  ROOM_ID_PATTERN,
  roomKey,
  roomName,
  roomPingReply,
  ticketActor,
  type DisconnectTarget,
  type RoomAddress,
  type RoomMember,
  type RoomPingReply,
  type ServerEvent,
  type TicketActor,
} from './room.schemas.ts';
