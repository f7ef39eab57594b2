// IPv4 and IPv6 header parsing and building. Never reads past the bytes it is given: malformed input gives an
// IpError value. The payload is a subarray bounded by both the IP length field and the captured bytes.
import { formatIpv4, formatIpv6, ipToBytes } from "./addr.js";
import { inetChecksum, inetSum } from "./checksum.js";

export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_CARP = 112; // also VRRP

export interface IpError {
  error: "truncated" | "badversion" | "badhdrlen" | "badlen" | "badext";
  detail: string;
}

interface IpCommon {
  src: string; // canonical text
  dst: string;
  srcBytes: Buffer; // subarrays of the input
  dstBytes: Buffer;
  ttl: number; // IPv4 TTL or IPv6 hop limit
  proto: number; // upper-layer protocol (IPv6: after walking extension headers)
  payload: Buffer; // upper-layer bytes, bounded by the IP length and the captured length
  /** The IP length field claims more bytes than were captured; payload holds what there is. */
  truncated: boolean;
  /** Bytes the IP length field says the upper-layer payload has (may exceed payload.length when truncated). */
  payloadLength: number;
  /** Non-first fragment or more-fragments set: payload is not a whole upper-layer message. */
  fragment: boolean;
}

export interface Ipv4Packet extends IpCommon {
  family: 4;
  headerLength: number; // IHL * 4
  tos: number;
  totalLength: number;
  id: number;
  df: boolean;
  mf: boolean;
  reservedFlag: boolean;
  fragOffset: number; // in bytes
  headerChecksum: number;
  checksumOk: boolean;
  options: Buffer;
}

export interface Ipv6Packet extends IpCommon {
  family: 6;
  trafficClass: number;
  flowLabel: number;
  hopLimit: number;
  nextHeader: number; // the first next-header value, before extension headers
  extHeaders: number[]; // extension header types walked, in order
  fragOffset: number; // from a fragment header, in bytes (0 when none)
}

export type IpPacket = Ipv4Packet | Ipv6Packet;

const NO_OPTIONS = Buffer.alloc(0);

/** RFC 1071 Internet checksum (complemented) of buf[start, end). 0 means "verifies" when the sum field is included. */
export function ipChecksum(buf: Uint8Array, start = 0, end = buf.length): number {
  return inetChecksum(buf, start, end);
}

/** Parse an IPv4 or IPv6 packet, choosing by the version nibble. */
export function parseIp(buf: Buffer): IpPacket | IpError {
  if (buf.length < 1) return { error: "truncated", detail: "empty IP packet" };
  const v = buf[0] >> 4;
  if (v === 4) return parseIpv4(buf);
  if (v === 6) return parseIpv6(buf);
  return { error: "badversion", detail: `IP version ${v}` };
}

export function parseIpv4(buf: Buffer): Ipv4Packet | IpError {
  if (buf.length < 20) return { error: "truncated", detail: `IPv4 header needs 20 bytes, have ${buf.length}` };
  const v = buf[0] >> 4;
  if (v !== 4) return { error: "badversion", detail: `IP version ${v}, expected 4` };
  const headerLength = (buf[0] & 0x0f) * 4;
  if (headerLength < 20) return { error: "badhdrlen", detail: `IPv4 IHL ${headerLength / 4} < 5` };
  if (buf.length < headerLength) {
    return { error: "truncated", detail: `IPv4 header with options needs ${headerLength} bytes, have ${buf.length}` };
  }
  const totalLength = buf.readUInt16BE(2);
  if (totalLength < headerLength) {
    return { error: "badlen", detail: `IPv4 total length ${totalLength} < header length ${headerLength}` };
  }
  const flags = buf.readUInt16BE(6);
  const end = Math.min(totalLength, buf.length);
  const fragOffset = (flags & 0x1fff) * 8;
  const mf = (flags & 0x2000) !== 0;
  const srcBytes = buf.subarray(12, 16);
  const dstBytes = buf.subarray(16, 20);
  return {
    family: 4,
    headerLength,
    tos: buf[1],
    totalLength,
    id: buf.readUInt16BE(4),
    reservedFlag: (flags & 0x8000) !== 0,
    df: (flags & 0x4000) !== 0,
    mf,
    fragOffset,
    ttl: buf[8],
    proto: buf[9],
    headerChecksum: buf.readUInt16BE(10),
    checksumOk: ipChecksum(buf, 0, headerLength) === 0,
    src: formatIpv4(srcBytes),
    dst: formatIpv4(dstBytes),
    srcBytes,
    dstBytes,
    options: headerLength > 20 ? buf.subarray(20, headerLength) : NO_OPTIONS,
    payload: buf.subarray(headerLength, end),
    truncated: totalLength > buf.length,
    payloadLength: totalLength - headerLength,
    fragment: mf || fragOffset !== 0,
  };
}

export function parseIpv6(buf: Buffer): Ipv6Packet | IpError {
  if (buf.length < 40) return { error: "truncated", detail: `IPv6 header needs 40 bytes, have ${buf.length}` };
  const w0 = buf.readUInt32BE(0);
  const v = w0 >>> 28;
  if (v !== 6) return { error: "badversion", detail: `IP version ${v}, expected 6` };
  const payloadLength = buf.readUInt16BE(4);
  const end = Math.min(40 + payloadLength, buf.length);
  const nextHeader = buf[6];
  const extHeaders: number[] = [];
  let proto = nextHeader;
  let off = 40;
  let fragOffset = 0;
  let fragment = false;
  // Walk the extension headers we know; the first other value is the upper-layer protocol.
  for (;;) {
    if (proto !== IPPROTO_HOPOPTS && proto !== IPPROTO_ROUTING && proto !== IPPROTO_DSTOPTS &&
        proto !== IPPROTO_FRAGMENT && proto !== IPPROTO_AH) break;
    if (proto === IPPROTO_HOPOPTS && extHeaders.length > 0) {
      return { error: "badext", detail: "hop-by-hop options header not first" };
    }
    if (extHeaders.length >= 16) return { error: "badext", detail: "more than 16 extension headers" };
    if (off + 8 > end) {
      return { error: "truncated", detail: `IPv6 extension header ${proto} at offset ${off} runs past ${end}` };
    }
    let len: number;
    if (proto === IPPROTO_FRAGMENT) {
      len = 8;
      const fo = buf.readUInt16BE(off + 2);
      fragOffset = fo & 0xfff8;
      if (fragOffset !== 0 || (fo & 1) !== 0) fragment = true;
    } else if (proto === IPPROTO_AH) {
      len = (buf[off + 1] + 2) * 4;
    } else {
      len = (buf[off + 1] + 1) * 8;
    }
    if (off + len > end) {
      return { error: "truncated", detail: `IPv6 extension header ${proto} (${len} bytes) at offset ${off} runs past ${end}` };
    }
    extHeaders.push(proto);
    proto = buf[off];
    off += len;
    if (fragOffset !== 0) break; // a non-first fragment carries no further headers
  }
  const srcBytes = buf.subarray(8, 24);
  const dstBytes = buf.subarray(24, 40);
  return {
    family: 6,
    trafficClass: (w0 >>> 20) & 0xff,
    flowLabel: w0 & 0xfffff,
    hopLimit: buf[7],
    ttl: buf[7],
    nextHeader,
    extHeaders,
    fragOffset,
    proto,
    src: formatIpv6(srcBytes),
    dst: formatIpv6(dstBytes),
    srcBytes,
    dstBytes,
    payload: buf.subarray(off, end),
    truncated: 40 + payloadLength > buf.length,
    payloadLength: 40 + payloadLength - off,
    fragment,
  };
}

function addrBytes(a: string | Uint8Array, len: 4 | 16, what: string): Buffer {
  const b = typeof a === "string" ? ipToBytes(a) : Buffer.from(a);
  if (!b || b.length !== len) throw new RangeError(`${what}: not an IPv${len === 4 ? 4 : 6} address: ${String(a)}`);
  return b;
}

export interface Ipv4BuildOptions {
  src: string | Uint8Array;
  dst: string | Uint8Array;
  proto: number;
  payload: Uint8Array;
  ttl?: number; // default 255 (CARP/VRRP)
  tos?: number; // default 0
  id?: number; // default 0
  df?: boolean; // default true
  options?: Uint8Array; // padded to a multiple of 4 with zeros (EOL)
  /** Write this value instead of the computed header checksum (negative tests). */
  checksum?: number;
}

/** An IPv4 packet with a correct header checksum (unless overridden). Throws RangeError on bad arguments. */
export function buildIpv4(o: Ipv4BuildOptions): Buffer {
  const opt = o.options ?? new Uint8Array(0);
  const optLen = (opt.length + 3) & ~3;
  const hl = 20 + optLen;
  if (hl > 60) throw new RangeError("buildIpv4: options longer than 40 bytes");
  const total = hl + o.payload.length;
  if (total > 0xffff) throw new RangeError("buildIpv4: packet longer than 65535 bytes");
  const b = Buffer.alloc(total);
  b[0] = 0x40 | (hl / 4);
  b[1] = (o.tos ?? 0) & 0xff;
  b.writeUInt16BE(total, 2);
  b.writeUInt16BE((o.id ?? 0) & 0xffff, 4);
  b.writeUInt16BE(o.df === false ? 0 : 0x4000, 6);
  b[8] = (o.ttl ?? 255) & 0xff;
  b[9] = o.proto & 0xff;
  addrBytes(o.src, 4, "buildIpv4 src").copy(b, 12);
  addrBytes(o.dst, 4, "buildIpv4 dst").copy(b, 16);
  b.set(opt, 20);
  b.writeUInt16BE(o.checksum ?? ipChecksum(b.subarray(0, hl)), 10);
  b.set(o.payload, hl);
  return b;
}

export interface Ipv6BuildOptions {
  src: string | Uint8Array;
  dst: string | Uint8Array;
  nextHeader: number;
  payload: Uint8Array; // everything after the fixed header (extension headers included, if any)
  hopLimit?: number; // default 255
  trafficClass?: number; // default 0
  flowLabel?: number; // default 0
}

export function buildIpv6(o: Ipv6BuildOptions): Buffer {
  if (o.payload.length > 0xffff) throw new RangeError("buildIpv6: payload longer than 65535 bytes (no jumbograms)");
  const b = Buffer.alloc(40 + o.payload.length);
  b.writeUInt32BE(((6 << 28) | (((o.trafficClass ?? 0) & 0xff) << 20) | ((o.flowLabel ?? 0) & 0xfffff)) >>> 0, 0);
  b.writeUInt16BE(o.payload.length, 4);
  b[6] = o.nextHeader & 0xff;
  b[7] = (o.hopLimit ?? 255) & 0xff;
  addrBytes(o.src, 16, "buildIpv6 src").copy(b, 8);
  addrBytes(o.dst, 16, "buildIpv6 dst").copy(b, 24);
  b.set(o.payload, 40);
  return b;
}

/**
 * Upper-layer pseudo-header (RFC 768/793 style for IPv4: src, dst, 0, proto, length;
 * RFC 8200 §8.1 for IPv6: src, dst, 32-bit length, 3 zero bytes, next header).
 */
export function pseudoHeader(src: Uint8Array, dst: Uint8Array, proto: number, length: number): Buffer {
  if (src.length === 4 && dst.length === 4) {
    const p = Buffer.alloc(12);
    p.set(src, 0);
    p.set(dst, 4);
    p[9] = proto;
    p.writeUInt16BE(length & 0xffff, 10);
    return p;
  }
  if (src.length === 16 && dst.length === 16) {
    const p = Buffer.alloc(40);
    p.set(src, 0);
    p.set(dst, 16);
    p.writeUInt32BE(length >>> 0, 32);
    p[39] = proto;
    return p;
  }
  throw new RangeError("pseudoHeader: src and dst must both be 4 or both be 16 bytes");
}

/** Internet checksum of msg preceded by the pseudo-header for (src, dst, proto, msg.length). */
export function pseudoChecksum(src: Uint8Array, dst: Uint8Array, proto: number, msg: Uint8Array): number {
  if (src.length !== dst.length || (src.length !== 4 && src.length !== 16)) {
    throw new RangeError("pseudoChecksum: src and dst must both be 4 or both be 16 bytes");
  }
  // Sum the pseudo-header fields in place (both layouts add up to src + dst + proto + length words).
  const len = msg.length;
  const partial = inetSum(dst, 0, dst.length, inetSum(src, 0, src.length, 0)) + proto + (len & 0xffff) + Math.floor(len / 0x10000);
  return inetChecksum(msg, 0, len, partial);
}
