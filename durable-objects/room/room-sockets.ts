import { roomMember, type DisconnectTarget, type RoomMember } from './room.schemas.ts';

/**
 * What a socket carries across hibernation (`serializeAttachment`): under 2,048 bytes at its largest, the limit Cloudflare
 * first documented (16,384 bytes today), so it fits either (test/unit/room-attachment.test.ts).
 */
export interface Attachment extends RoomMember {
  /** The connection's id, as others see it in presence and `from`. */
  id: string;
  /** Frames counted in the current one-second window: kept here so the limit holds across evictions. */
  rate: { start: number; count: number };
  /** The protocol the socket asked for (`?v=2`); absent: v1. */
  v?: 2;
}

/** The socket's attachment, or undefined for a socket that has left (or was refused: room full). */
export function attachmentOf(ws: WebSocket): Attachment | undefined {
  const value: unknown = ws.deserializeAttachment();
  if (typeof value !== 'object' || value === null || !('id' in value) || !('rate' in value)) return undefined;
  return roomMember.safeParse(value).success ? (value as Attachment) : undefined;
}

/** Tags to find a member's sockets by, without waking each attachment (≤ 10 tags, ≤ 256 chars each). */
export function memberTags(member: RoomMember): string[] {
  const tags = [`role:${member.role}`];
  if (member.userId) tags.push(`user:${member.userId}`);
  if (member.sessionId) tags.push(`session:${member.sessionId}`);
  if (member.keyId) tags.push(`key:${member.keyId}`);
  return tags;
}

/** What other members see of a connection: no session id. */
export const publicMember = (attachment: Attachment) => ({ connectionId: attachment.id, userId: attachment.userId, keyId: attachment.keyId, role: attachment.role });

export const errorFrame = (code: string, message: string, extra?: Record<string, unknown>) => JSON.stringify({ v: 1, type: 'error', code, message, ...extra });

/** Whether a frame is larger than `limit` UTF-8 bytes; encodes only when the length alone cannot tell (a UTF-16 unit is 1 to 3 bytes). */
export function exceedsBytes(message: string | ArrayBuffer, limit: number): boolean {
  if (typeof message !== 'string') return message.byteLength > limit;
  if (message.length > limit) return true;
  if (message.length * 3 <= limit) return false;
  return new TextEncoder().encode(message).byteLength > limit;
}

/** The tag that finds `target`'s sockets (undefined: every socket). */
export function targetTag(target: DisconnectTarget): string | undefined {
  if ('everyone' in target) return undefined;
  if ('sessionId' in target) return `session:${target.sessionId}`;
  if ('keyId' in target) return `key:${target.keyId}`;
  return `user:${target.userId}`;
}

/** Whether a socket's member is one `target` names. */
export function matches(target: DisconnectTarget, attachment: RoomMember | undefined): boolean {
  if (!attachment) return false;
  if ('everyone' in target) return true;
  if ('sessionId' in target) return attachment.sessionId === target.sessionId;
  if ('keyId' in target) return attachment.keyId === target.keyId;
  return attachment.userId === target.userId && (target.exceptSessionId === undefined || attachment.sessionId !== target.exceptSessionId);
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const frameId = (frame: string) => (JSON.parse(frame) as { id: number }).id;

/** Runs `action`; answers whether it did not throw (a socket that fails is skipped, never the rest). */
export function safely(action: () => void): boolean {
  try {
    action();
    return true;
  } catch {
    return false;
  }
}
