// VRRP advertisements on IP protocol 112: VRRPv2 (RFC 3768, IPv4 only, checksum over the VRRP message) and
// VRRPv3 (RFC 5798 / RFC 9568, IPv4 or IPv6, checksum over an IP pseudo-header plus the message).
import { formatIpv4, formatIpv6, ipToBytes } from "./addr.js";
import { inetChecksum } from "./checksum.js";
import { IPPROTO_CARP, pseudoChecksum } from "./ip.js";
import type { IpFamily } from "./types.js";

export const VRRP_TYPE_ADVERTISEMENT = 1;
export const VRRP_MAX_INTERVAL_CS = 0xfff; // 12-bit field, centiseconds

export interface VrrpV2 {
  version: 2;
  type: number;
  vrid: number;
  priority: number;
  count: number;
  authType: number; // 0 none, 1 simple text, 2 IP AH (deprecated)
  advertInt: number; // seconds
  checksum: number; // as on the wire
  checksumOk: boolean; // over the whole IP payload, no pseudo-header
  addresses: string[];
  authData: Buffer; // the 8 authentication bytes, or fewer when the sender left them out (some do)
  length: number; // 8 + 4 * count + authData.length
}

export interface VrrpV3 {
  version: 3;
  type: number;
  vrid: number;
  priority: number;
  count: number;
  reserved: number; // the 4 bits before the interval, 0 on the wire
  maxAdvertInt: number; // centiseconds, 12 bits
  checksum: number;
  /** Over the pseudo-header + whole IP payload; undefined when no IP addresses were given to check it. */
  checksumOk?: boolean;
  family: IpFamily;
  addresses: string[];
  length: number; // 8 + count * (4 | 16)
}

export type Vrrp = VrrpV2 | VrrpV3;

export interface VrrpError {
  error: "truncated" | "badver" | "badfamily";
  detail: string;
}

/** IP context for a VRRPv3 pseudo-header checksum. */
export interface VrrpIpContext {
  family: IpFamily;
  srcBytes?: Uint8Array;
  dstBytes?: Uint8Array;
}

/** Decode a VRRPv2-layout message (version nibble 2; 1 is accepted too, as the same layout). */
export function decodeVrrpV2(buf: Uint8Array): VrrpV2 | VrrpError {
  if (buf.length < 8) return { error: "truncated", detail: `VRRPv2 header needs 8 bytes, have ${buf.length}` };
  const version = buf[0] >> 4;
  if (version !== 2 && version !== 1) return { error: "badver", detail: `version ${version}, expected 2` };
  const count = buf[3];
  // RFC 3768 puts 8 authentication bytes after the addresses, but real senders (e.g. the PcapPlusPlus sample
  // with authtype none) omit them; like tcpdump we require the addresses and take 0..8 auth bytes.
  const need = 8 + 4 * count;
  if (buf.length < need) {
    return { error: "truncated", detail: `VRRPv2 with ${count} addresses needs at least ${need} bytes, have ${buf.length}` };
  }
  const length = Math.min(need + 8, buf.length);
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) addresses.push(formatIpv4(buf, 8 + 4 * i));
  return {
    version: 2,
    type: buf[0] & 0x0f,
    vrid: buf[1],
    priority: buf[2],
    count,
    authType: buf[4],
    advertInt: buf[5],
    checksum: (buf[6] << 8) | buf[7],
    checksumOk: inetChecksum(buf) === 0,
    addresses,
    authData: Buffer.from(buf.subarray(8 + 4 * count, length)),
    length,
  };
}

/** Decode a VRRPv3 message; with src/dst bytes the pseudo-header checksum is verified. */
export function decodeVrrpV3(buf: Uint8Array, ctx: VrrpIpContext): VrrpV3 | VrrpError {
  if (buf.length < 8) return { error: "truncated", detail: `VRRPv3 header needs 8 bytes, have ${buf.length}` };
  const version = buf[0] >> 4;
  if (version !== 3) return { error: "badver", detail: `version ${version}, expected 3` };
  if (ctx.family !== 4 && ctx.family !== 6) return { error: "badfamily", detail: `IP family ${String(ctx.family)}` };
  const alen = ctx.family === 4 ? 4 : 16;
  const count = buf[3];
  const length = 8 + alen * count;
  if (buf.length < length) {
    return { error: "truncated", detail: `VRRPv3/IPv${ctx.family} with ${count} addresses needs ${length} bytes, have ${buf.length}` };
  }
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    addresses.push(alen === 4 ? formatIpv4(buf, 8 + 4 * i) : formatIpv6(buf, 8 + 16 * i));
  }
  const v: VrrpV3 = {
    version: 3,
    type: buf[0] & 0x0f,
    vrid: buf[1],
    priority: buf[2],
    count,
    reserved: buf[4] >> 4,
    maxAdvertInt: ((buf[4] & 0x0f) << 8) | buf[5],
    checksum: (buf[6] << 8) | buf[7],
    family: ctx.family,
    addresses,
    length,
  };
  if (ctx.srcBytes && ctx.dstBytes && ctx.srcBytes.length === alen && ctx.dstBytes.length === alen) {
    v.checksumOk = pseudoChecksum(ctx.srcBytes, ctx.dstBytes, IPPROTO_CARP, buf) === 0;
  }
  return v;
}

/** Decode by version nibble: 2 (or 1) → VRRPv2 (IPv4 only), 3 → VRRPv3. */
export function decodeVrrp(buf: Uint8Array, ctx: VrrpIpContext): Vrrp | VrrpError {
  if (buf.length < 1) return { error: "truncated", detail: "empty VRRP message" };
  const version = buf[0] >> 4;
  if (version === 3) return decodeVrrpV3(buf, ctx);
  if (version === 2 || version === 1) {
    if (ctx.family !== 4) return { error: "badfamily", detail: "VRRPv2 is defined for IPv4 only" };
    return decodeVrrpV2(buf);
  }
  return { error: "badver", detail: `VRRP version ${version}` };
}

function addrList(addresses: Array<string | Uint8Array>, alen: 4 | 16, what: string): Buffer[] {
  return addresses.map((a) => {
    const b = typeof a === "string" ? ipToBytes(a) : Buffer.from(a);
    if (!b || b.length !== alen) throw new RangeError(`${what}: not an IPv${alen === 4 ? 4 : 6} address: ${String(a)}`);
    return b;
  });
}

export interface VrrpV2Input {
  vrid: number;
  priority: number;
  addresses: Array<string | Uint8Array>;
  advertInt?: number; // seconds, default 1
  authType?: number; // default 0, or 1 when authData is a string
  authData?: string | Uint8Array; // up to 8 bytes, zero padded
  type?: number; // default 1
  version?: number; // default 2 (1 only for the scapy vector)
}

/** A VRRPv2 message with its checksum. Throws RangeError on bad arguments. */
export function encodeVrrpV2(m: VrrpV2Input): Buffer {
  const addrs = addrList(m.addresses, 4, "encodeVrrpV2");
  if (addrs.length > 255) throw new RangeError("encodeVrrpV2: more than 255 addresses");
  const b = Buffer.alloc(16 + 4 * addrs.length);
  b[0] = (((m.version ?? 2) & 0xf) << 4) | ((m.type ?? VRRP_TYPE_ADVERTISEMENT) & 0xf);
  b[1] = m.vrid & 0xff;
  b[2] = m.priority & 0xff;
  b[3] = addrs.length;
  const auth = typeof m.authData === "string" ? Buffer.from(m.authData, "latin1") : m.authData;
  if (auth && auth.length > 8) throw new RangeError("encodeVrrpV2: auth data longer than 8 bytes");
  b[4] = (m.authType ?? (typeof m.authData === "string" ? 1 : 0)) & 0xff;
  b[5] = (m.advertInt ?? 1) & 0xff;
  addrs.forEach((a, i) => a.copy(b, 8 + 4 * i));
  if (auth) b.set(auth, 8 + 4 * addrs.length);
  b.writeUInt16BE(inetChecksum(b), 6);
  return b;
}

export interface VrrpV3Input {
  vrid: number;
  priority: number;
  addresses: Array<string | Uint8Array>; // all of the same family as src/dst
  maxAdvertInt?: number; // centiseconds, default 100
  src: string | Uint8Array; // IP source (for the pseudo-header)
  dst?: string | Uint8Array; // default 224.0.0.18 / ff02::12
  type?: number;
}

/** A VRRPv3 message with its pseudo-header checksum. Throws RangeError on bad arguments. */
export function encodeVrrpV3(m: VrrpV3Input): Buffer {
  const src = typeof m.src === "string" ? ipToBytes(m.src) : Buffer.from(m.src);
  if (!src) throw new RangeError(`encodeVrrpV3: bad src ${String(m.src)}`);
  const alen = src.length as 4 | 16;
  const dst = m.dst === undefined ? ipToBytes(alen === 4 ? "224.0.0.18" : "ff02::12") : typeof m.dst === "string" ? ipToBytes(m.dst) : Buffer.from(m.dst);
  if (!dst || dst.length !== alen) throw new RangeError(`encodeVrrpV3: dst is not of the source's family`);
  const addrs = addrList(m.addresses, alen, "encodeVrrpV3");
  if (addrs.length > 255) throw new RangeError("encodeVrrpV3: more than 255 addresses");
  const intv = m.maxAdvertInt ?? 100;
  if (!Number.isInteger(intv) || intv < 0 || intv > VRRP_MAX_INTERVAL_CS) {
    throw new RangeError(`encodeVrrpV3: interval ${intv} cs not in 0..${VRRP_MAX_INTERVAL_CS}`);
  }
  const b = Buffer.alloc(8 + alen * addrs.length);
  b[0] = 0x30 | ((m.type ?? VRRP_TYPE_ADVERTISEMENT) & 0xf);
  b[1] = m.vrid & 0xff;
  b[2] = m.priority & 0xff;
  b[3] = addrs.length;
  b.writeUInt16BE(intv, 4);
  addrs.forEach((a, i) => a.copy(b, 8 + alen * i));
  b.writeUInt16BE(pseudoChecksum(src, dst, IPPROTO_CARP, b), 6);
  return b;
}

/** Checksum check for a VRRP message of either version (v3 needs the IP addresses). */
export function verifyVrrpChecksum(buf: Uint8Array, ctx: VrrpIpContext): boolean {
  if (buf.length < 8) return false;
  if (buf[0] >> 4 === 3) {
    if (!ctx.srcBytes || !ctx.dstBytes || ctx.srcBytes.length !== ctx.dstBytes.length) return false;
    if (ctx.srcBytes.length !== 4 && ctx.srcBytes.length !== 16) return false;
    return pseudoChecksum(ctx.srcBytes, ctx.dstBytes, IPPROTO_CARP, buf) === 0;
  }
  return inetChecksum(buf) === 0;
}
