import { describe, expect, it } from 'vitest';
import { roomMember } from '../../durable-objects/room/room.schemas.ts';
import type { Attachment } from '../../durable-objects/room/room-sockets.ts';

// A socket's attachment must survive `serializeAttachment`, whose documented limit was 2,048 bytes (16,384 today).
// workerd enforces only its own limit (16,384; a size appears only in its error's text), so the test measures by
// padding: an attachment that still fits beside 14,336 bytes of padding is under 2,048 bytes itself.
const RUNTIME_LIMIT = 16_384;
const BUDGET = 2_048;

/** The largest member the schema admits: every id and the role at their bound, in characters V8 stores on two bytes. */
const maximal = { userId: '€'.repeat(64), keyId: '€'.repeat(64), sessionId: '€'.repeat(64), role: '€'.repeat(32), canSend: true };

describe('room attachment size', () => {
  it('the member schema bounds every id and the role', () => {
    expect(roomMember.safeParse(maximal).success).toBe(true);
    for (const field of ['userId', 'keyId', 'sessionId', 'role'] as const) {
      expect(roomMember.safeParse({ ...maximal, [field]: `${maximal[field]}€` }).success, field).toBe(false);
    }
  });

  it('a maximal attachment serializes under 2,048 bytes', () => {
    const [, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    const pad = 'a'.repeat(RUNTIME_LIMIT - BUDGET);
    // The measure works: the padding and 2,048 bytes more do not fit.
    expect(() => server.serializeAttachment({ pad, more: 'a'.repeat(BUDGET) })).toThrow(/cannot be larger/);
    const attachment: Attachment = { ...roomMember.parse(maximal), id: crypto.randomUUID(), rate: { start: Number.MAX_SAFE_INTEGER, count: Number.MAX_SAFE_INTEGER }, v: 2 };
    expect(() => server.serializeAttachment({ pad, attachment })).not.toThrow();
  });
});
