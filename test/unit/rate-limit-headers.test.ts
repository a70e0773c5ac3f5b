import { describe, expect, it } from 'vitest';
import { rateLimitHeaders, retryAfterSeconds } from '../../src/lib/rate-limit-headers.ts';
import type { LimitDecision } from '../../src/lib/sliding-log.ts';

const decision = (overrides: Partial<LimitDecision> = {}): LimitDecision => ({
  allowed: true,
  limit: 1000,
  remaining: 998,
  resetMs: 58_001,
  retryAfterMs: 0,
  ...overrides,
});

describe('rateLimitHeaders', () => {
  it('writes the draft fields: the quota and window of the policy, then what is left and for how long', () => {
    expect(rateLimitHeaders('read', decision(), 60_000)).toEqual({
      'RateLimit-Policy': '"read";q=1000;w=60',
      RateLimit: '"read";r=998;t=59',
    });
  });

  it('rounds t up (never early) and publishes a sub-second window as one second', () => {
    expect(rateLimitHeaders('p', decision({ resetMs: 1 }), 1).RateLimit).toBe('"p";r=998;t=1');
    expect(rateLimitHeaders('p', decision({ resetMs: 1 }), 1)['RateLimit-Policy']).toBe('"p";q=1000;w=1');
    expect(rateLimitHeaders('p', decision({ resetMs: 0, remaining: 0 }), 60_000).RateLimit).toBe('"p";r=0;t=0');
  });

  it('escapes the policy name as a Structured Field string and refuses what one cannot hold', () => {
    expect(rateLimitHeaders('a"b\\c', decision(), 60_000)['RateLimit-Policy']).toBe('"a\\"b\\\\c";q=1000;w=60');
    expect(() => rateLimitHeaders('lé', decision(), 60_000)).toThrow(RangeError);
    expect(() => rateLimitHeaders('a\nb', decision(), 60_000)).toThrow(RangeError);
  });
});

describe('retryAfterSeconds', () => {
  it('rounds up to whole seconds and is at least 1', () => {
    expect(retryAfterSeconds({ retryAfterMs: 1 })).toBe(1);
    expect(retryAfterSeconds({ retryAfterMs: 1000 })).toBe(1);
    expect(retryAfterSeconds({ retryAfterMs: 1001 })).toBe(2);
    expect(retryAfterSeconds({ retryAfterMs: 0 })).toBe(1);
  });
});
