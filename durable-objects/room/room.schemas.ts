import { z } from 'zod';

/** Names one room, e.g. `<orgId>:<projectId>`. Never blank, so a missing id cannot merge rooms. */
export const roomKey = z.string().min(1).max(256);

/** What `ping()` answers: the namespace routes to a live object. */
export const roomPingReply = z.literal('pong');
export type RoomPingReply = z.infer<typeof roomPingReply>;
