/**
 * MurmurHash3 (x86, 32-bit) of a string's UTF-8 bytes: Austin Appleby's public-domain hash, the one
 * Unleash buckets flags with. Chosen for flag bucketing because it is synchronous, fast and spreads
 * similar inputs (uuids differing in one character) evenly; none of the installed packages provides it,
 * and `crypto.subtle` is asynchronous and far too costly to run per flag per request. Not for secrets.
 * @module
 */
const encoder = new TextEncoder();

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));

/** Scrambles one 4-byte block before it is mixed into the state. */
const scramble = (k: number) => Math.imul(rotl(Math.imul(k, C1), 15), C2);

/** The unsigned 32-bit MurmurHash3 of `text` (UTF-8) with `seed`. */
export function murmur3(text: string, seed = 0): number {
  const bytes = encoder.encode(text);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blocks = bytes.length & ~3;
  let h = seed | 0;
  for (let i = 0; i < blocks; i += 4) {
    h ^= scramble(view.getUint32(i, true));
    h = (Math.imul(rotl(h, 13), 5) + 0xe6546b64) | 0;
  }
  const tail = bytes.length & 3;
  if (tail > 0) {
    let k = 0;
    if (tail === 3) k ^= (bytes[blocks + 2] ?? 0) << 16;
    if (tail >= 2) k ^= (bytes[blocks + 1] ?? 0) << 8;
    k ^= bytes[blocks] ?? 0;
    h ^= scramble(k);
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
