// The CARPv2 advertisement: 36 bytes, big-endian (the protocol notes, carp-protocol.md §1.1, §1.4; not shipped).
//   0 ver<<4|type  1 vhid  2 advskew  3 authlen(7)  4 demote/pad  5 advbase  6-7 checksum
//   8-15 counter (BE64)  16-35 HMAC-SHA1
import { inetChecksum } from "./checksum.js";
import type { CarpHeader } from "./types.js";

export const CARP_GROUP_V4 = "224.0.0.18";
export const CARP_GROUP_V6 = "ff02::12";
export const IPPROTO_CARP = 112;
export const CARP_TTL = 255;
export const CARP_VERSION = 2;
export const CARP_TYPE_ADVERTISEMENT = 1;
/** (8 counter bytes + 20 HMAC bytes) / 4, sent by every implementation. */
export const CARP_AUTHLEN = 7;
export const CARP_HEADER_LEN = 36;
export const CARP_HMAC_LEN = 20;
export const CARP_KEY_LEN = 20;
/** advbase and advskew of an OpenBSD-style bow-out advertisement (graceful departure). */
export const CARP_BOW_OUT = 255;

/** What encodeCarp needs; version/type/authlen/demote default to 2/1/7/0. */
export type CarpEncodeInput = Omit<CarpHeader, "checksum" | "version" | "type" | "authlen" | "demote"> &
  Partial<Pick<CarpHeader, "version" | "type" | "authlen" | "demote">>;

/**
 * Decodes exactly 36 bytes at `offset`; any trailing bytes are ignored (receivers accept longer
 * payloads). Never throws: fewer than 36 bytes gives { error: "badlen" }. Nothing is validated
 * here (see receive.ts); `hmac` is a copy, so the header outlives the packet buffer.
 */
export function decodeCarp(buf: Uint8Array, offset = 0): CarpHeader | { error: "badlen" } {
  if (!(offset >= 0) || buf.length - offset < CARP_HEADER_LEN) return { error: "badlen" };
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    version: b[offset] >> 4,
    type: b[offset] & 0x0f,
    vhid: b[offset + 1],
    advskew: b[offset + 2],
    authlen: b[offset + 3],
    demote: b[offset + 4],
    advbase: b[offset + 5],
    checksum: (b[offset + 6] << 8) | b[offset + 7],
    counter: b.readBigUInt64BE(offset + 8),
    hmac: Buffer.from(b.subarray(offset + 16, offset + 36)),
  };
}

/**
 * Writes the 36-byte advertisement into `out` at `offset` (a new Buffer when `out` is omitted) and
 * returns the buffer. The checksum is computed last, over all 36 bytes with counter and HMAC in
 * place, exactly as the kernels do. Out-of-range fields are masked to their width.
 * Throws RangeError only on a programming error (hmac not 20 bytes, or `out` too small).
 */
export function encodeCarp(h: CarpEncodeInput, out?: Buffer, offset = 0): Buffer {
  const buf = out ?? Buffer.alloc(CARP_HEADER_LEN + offset);
  if (buf.length - offset < CARP_HEADER_LEN) throw new RangeError("encodeCarp: output buffer too small");
  if (h.hmac.length !== CARP_HMAC_LEN) throw new RangeError("encodeCarp: hmac must be 20 bytes");
  buf[offset] = (((h.version ?? CARP_VERSION) & 0x0f) << 4) | ((h.type ?? CARP_TYPE_ADVERTISEMENT) & 0x0f);
  buf[offset + 1] = h.vhid & 0xff;
  buf[offset + 2] = h.advskew & 0xff;
  buf[offset + 3] = (h.authlen ?? CARP_AUTHLEN) & 0xff;
  buf[offset + 4] = (h.demote ?? 0) & 0xff;
  buf[offset + 5] = h.advbase & 0xff;
  buf[offset + 6] = 0;
  buf[offset + 7] = 0;
  buf.writeBigUInt64BE(BigInt.asUintN(64, h.counter), offset + 8);
  buf.set(h.hmac, offset + 16);
  buf.writeUInt16BE(inetChecksum(buf, offset, offset + CARP_HEADER_LEN), offset + 6);
  return buf;
}

/** What a sender fills in; the HMAC comes from `sign`, version/type/authlen are 2/1/7. */
export type CarpAdvertFields = Pick<CarpHeader, "vhid" | "advbase" | "advskew" | "demote" | "counter">;

/**
 * Encodes a signed advertisement in place, allocating nothing: the fields at `offset`, then
 * `sign(out, offset)` writes the 20-byte HMAC at offset + 16 (it may read the counter at offset + 8),
 * then the checksum over all 36 bytes. Returns `out`.
 */
export function encodeCarpInto(h: CarpAdvertFields, out: Buffer, sign: (buf: Buffer, offset: number) => void, offset = 0): Buffer {
  if (out.length - offset < CARP_HEADER_LEN) throw new RangeError("encodeCarpInto: output buffer too small");
  out[offset] = (CARP_VERSION << 4) | CARP_TYPE_ADVERTISEMENT;
  out[offset + 1] = h.vhid & 0xff;
  out[offset + 2] = h.advskew & 0xff;
  out[offset + 3] = CARP_AUTHLEN;
  out[offset + 4] = h.demote & 0xff;
  out[offset + 5] = h.advbase & 0xff;
  out.writeBigUInt64BE(BigInt.asUintN(64, h.counter), offset + 8);
  sign(out, offset);
  carpFinishChecksum(out, offset);
  return out;
}

/**
 * Rewrites the checksum of a 36-byte header already in place (after signInto filled the HMAC).
 * Returns the checksum written.
 */
export function carpFinishChecksum(buf: Buffer, offset = 0): number {
  buf[offset + 6] = 0;
  buf[offset + 7] = 0;
  const c = inetChecksum(buf, offset, offset + CARP_HEADER_LEN);
  buf.writeUInt16BE(c, offset + 6);
  return c;
}

/** True when the 36 bytes at `offset` sum to zero (checksum field included). False if short. */
export function carpChecksumOk(buf: Uint8Array, offset = 0): boolean {
  if (!(offset >= 0) || buf.length - offset < CARP_HEADER_LEN) return false;
  return inetChecksum(buf, offset, offset + CARP_HEADER_LEN) === 0;
}
