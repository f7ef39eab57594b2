// A small SHA-1 (FIPS 180-4) for the HMAC fast path: the state is five Int32 words that can be
// saved after any whole number of 64-byte blocks and resumed, so CarpAuth precomputes everything
// that does not depend on the counter. The compression function allocates nothing.

/** Initial SHA-1 state H0..H4. */
export const SHA1_IV: readonly number[] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 | 0];

/** A fresh 5-word state set to the SHA-1 IV. */
export function sha1InitState(): Int32Array {
  return Int32Array.from(SHA1_IV);
}

/** Loads the 64-byte block bytes[offset..offset+64) into w[0..15] as big-endian words. */
export function sha1LoadBlock(w: Int32Array, bytes: Uint8Array, offset: number): void {
  for (let i = 0; i < 16; i++, offset += 4) {
    w[i] = (bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3];
  }
}

/**
 * One compression: state ← state ⊕ F(state, block), where the block's 16 words are already in
 * w[0..15]. `w` must have room for 80 words; entries 16..79 are overwritten as scratch.
 */
export function sha1Compress(state: Int32Array, w: Int32Array): void {
  for (let t = 16; t < 80; t++) {
    const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
    w[t] = (x << 1) | (x >>> 31);
  }
  let a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
  let t = 0;
  for (; t < 20; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + w[t] + 0x5a827999) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = tmp;
  }
  for (; t < 40; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w[t] + 0x6ed9eba1) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = tmp;
  }
  for (; t < 60; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + w[t] + 0x8f1bbcdc) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = tmp;
  }
  for (; t < 80; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w[t] + 0xca62c1d6) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = tmp;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0;
}

/**
 * Builds the final padded block(s) for a message tail: tail bytes, 0x80, zeros, and the 64-bit
 * big-endian bit length of the WHOLE message (`totalBytes`). Returns 64 or 128 bytes.
 */
export function sha1PadTail(tail: Uint8Array, totalBytes: number): Uint8Array {
  const blocks = tail.length + 9 <= 64 ? 1 : 2;
  const out = new Uint8Array(blocks * 64);
  out.set(tail, 0);
  out[tail.length] = 0x80;
  const bits = totalBytes * 8;
  const end = out.length;
  const hi = Math.floor(bits / 0x100000000);
  const lo = bits >>> 0;
  out[end - 8] = hi >>> 24; out[end - 7] = (hi >>> 16) & 0xff; out[end - 6] = (hi >>> 8) & 0xff; out[end - 5] = hi & 0xff;
  out[end - 4] = lo >>> 24; out[end - 3] = (lo >>> 16) & 0xff; out[end - 2] = (lo >>> 8) & 0xff; out[end - 1] = lo & 0xff;
  return out;
}

/**
 * Resumable SHA-1: start from a saved state after `lengthSoFar` bytes (a multiple of 64), feed
 * more bytes, finish. Not for the hot path (it allocates the padded tail); CarpAuth uses it to
 * precompute and the tests use it to check the primitive against node:crypto.
 */
export class Sha1 {
  readonly state: Int32Array;
  private readonly w = new Int32Array(80);
  private readonly block = new Uint8Array(64);
  private blockLen = 0;
  private length: number;

  constructor(state: ArrayLike<number> = SHA1_IV, lengthSoFar = 0) {
    if (lengthSoFar % 64 !== 0) throw new RangeError("Sha1: a saved state must sit on a 64-byte boundary");
    this.state = Int32Array.from(state);
    this.length = lengthSoFar;
  }

  /** Bytes consumed so far. */
  get bytes(): number {
    return this.length;
  }

  /** Bytes buffered that do not yet fill a block. */
  pending(): Uint8Array {
    return this.block.slice(0, this.blockLen);
  }

  update(data: Uint8Array, start = 0, end = data.length): this {
    for (let i = start; i < end; i++) {
      this.block[this.blockLen++] = data[i];
      if (this.blockLen === 64) {
        sha1LoadBlock(this.w, this.block, 0);
        sha1Compress(this.state, this.w);
        this.blockLen = 0;
      }
    }
    this.length += end - start;
    return this;
  }

  /** Finishes and returns the 20-byte digest. The object must not be updated afterwards. */
  digest(): Buffer {
    const padded = sha1PadTail(this.block.subarray(0, this.blockLen), this.length);
    for (let off = 0; off < padded.length; off += 64) {
      sha1LoadBlock(this.w, padded, off);
      sha1Compress(this.state, this.w);
    }
    const out = Buffer.allocUnsafe(20);
    for (let i = 0; i < 5; i++) out.writeInt32BE(this.state[i], i * 4);
    return out;
  }
}

/** One-shot SHA-1 digest. */
export function sha1(data: Uint8Array): Buffer {
  return new Sha1().update(data).digest();
}
