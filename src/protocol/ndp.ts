// IPv6 neighbour advertisements (RFC 4861 §4.4): the unsolicited NA a new master sends to ff02::1 with the
// Override flag, and a parser that recognises one.
import { formatIpv6, ipToBytes } from "./addr.js";
import { buildIpv6, IPPROTO_ICMPV6, pseudoChecksum, type Ipv6Packet } from "./ip.js";
import { buildEthernet, ETHERTYPE_IPV6, formatMac, multicastMac, parseFrame, parseMac } from "./link.js";

export const ICMP6_NEIGHBOR_ADVERT = 136;
export const ND_OPT_TARGET_LINKADDR = 2;
export const NA_FLAG_ROUTER = 0x80;
export const NA_FLAG_SOLICITED = 0x40;
export const NA_FLAG_OVERRIDE = 0x20;
export const ALL_NODES = "ff02::1";

export interface NaOptions {
  target: string; // the address advertised (the VIP)
  mac: string | Uint8Array; // target link-layer address option
  src?: string; // IPv6 source, default = target
  dst?: string; // default ff02::1
  router?: boolean; // R flag (OpenBSD sets it when forwarding)
  solicited?: boolean; // S flag, false for unsolicited
  override?: boolean; // O flag, default true
}

export interface NeighborAdvert {
  target: string;
  mac?: string; // from the target link-layer address option
  router: boolean;
  solicited: boolean;
  override: boolean;
  checksumOk: boolean;
  hopLimit: number;
  src: string;
  dst: string;
}

export interface NdpError {
  error: "truncated" | "notna" | "badcode";
  detail: string;
}

function bytes16(a: string, what: string): Buffer {
  const b = ipToBytes(a);
  if (!b || b.length !== 16) throw new RangeError(`${what}: not an IPv6 address: ${a}`);
  return b;
}

/** The ICMPv6 NA message (32 bytes with the link-layer option), checksum filled in for src → dst. */
export function buildNaMessage(o: NaOptions): Buffer {
  const src = bytes16(o.src ?? o.target, "buildNaMessage src");
  const dst = bytes16(o.dst ?? ALL_NODES, "buildNaMessage dst");
  const mac = typeof o.mac === "string" ? parseMac(o.mac) : Buffer.from(o.mac);
  if (!mac || mac.length !== 6) throw new RangeError(`buildNaMessage: not a MAC address: ${String(o.mac)}`);
  const m = Buffer.alloc(32);
  m[0] = ICMP6_NEIGHBOR_ADVERT;
  m[1] = 0;
  m[4] = (o.router ? NA_FLAG_ROUTER : 0) | (o.solicited ? NA_FLAG_SOLICITED : 0) | (o.override === false ? 0 : NA_FLAG_OVERRIDE);
  bytes16(o.target, "buildNaMessage target").copy(m, 8);
  m[24] = ND_OPT_TARGET_LINKADDR;
  m[25] = 1; // length in units of 8 bytes
  mac.copy(m, 26);
  m.writeUInt16BE(pseudoChecksum(src, dst, IPPROTO_ICMPV6, m), 2);
  return m;
}

/** The IPv6 packet (hop limit 255) carrying the NA. */
export function buildNaPacket(o: NaOptions): Buffer {
  return buildIpv6({ src: o.src ?? o.target, dst: o.dst ?? ALL_NODES, nextHeader: IPPROTO_ICMPV6, hopLimit: 255, payload: buildNaMessage(o) });
}

/** An unsolicited NA Ethernet frame: to 33:33:00:00:00:01 from srcMac (default: the advertised MAC). */
export function buildUnsolicitedNa(o: NaOptions & { srcMac?: string | Uint8Array; vlan?: number[] }): Buffer {
  const dst = bytes16(o.dst ?? ALL_NODES, "buildUnsolicitedNa dst");
  const ethDst = dst[0] === 0xff ? multicastMac(dst) : "ff:ff:ff:ff:ff:ff";
  return buildEthernet(ethDst, o.srcMac ?? o.mac, ETHERTYPE_IPV6, buildNaPacket({ ...o, solicited: false }), o.vlan);
}

/** Parse an NA carried by a parsed IPv6 packet (checksum verified with its addresses). */
export function parseNeighborAdvert(ip: Ipv6Packet): NeighborAdvert | NdpError {
  if (ip.proto !== IPPROTO_ICMPV6) return { error: "notna", detail: `next header ${ip.proto}` };
  const m = ip.payload;
  if (m.length < 1) return { error: "truncated", detail: "empty ICMPv6 message" };
  if (m[0] !== ICMP6_NEIGHBOR_ADVERT) return { error: "notna", detail: `ICMPv6 type ${m[0]}` };
  if (m.length < 24) return { error: "truncated", detail: `NA needs 24 bytes, have ${m.length}` };
  if (m[1] !== 0) return { error: "badcode", detail: `NA code ${m[1]}` };
  const na: NeighborAdvert = {
    target: formatIpv6(m, 8),
    router: (m[4] & NA_FLAG_ROUTER) !== 0,
    solicited: (m[4] & NA_FLAG_SOLICITED) !== 0,
    override: (m[4] & NA_FLAG_OVERRIDE) !== 0,
    checksumOk: !ip.truncated && pseudoChecksum(ip.srcBytes, ip.dstBytes, IPPROTO_ICMPV6, m) === 0,
    hopLimit: ip.hopLimit,
    src: ip.src,
    dst: ip.dst,
  };
  // Options: type, length in 8-byte units (0 is invalid and ends the walk).
  for (let o = 24; o + 2 <= m.length; ) {
    const len = m[o + 1] * 8;
    if (len === 0 || o + len > m.length) break;
    if (m[o] === ND_OPT_TARGET_LINKADDR && len >= 8) na.mac = formatMac(m, o + 2);
    o += len;
  }
  return na;
}

/** An unsolicited NA (S flag clear, hop limit 255, valid checksum) in a captured frame, else null. */
export function parseUnsolicitedNa(linktype: number, data: Buffer): (NeighborAdvert & { vip: string; srcMac?: string }) | null {
  const f = parseFrame(linktype, data);
  if ("error" in f || f.ip.family !== 6) return null;
  const na = parseNeighborAdvert(f.ip);
  if ("error" in na || na.solicited || na.hopLimit !== 255 || !na.checksumOk) return null;
  return f.srcMac ? { ...na, vip: na.target, srcMac: f.srcMac } : { ...na, vip: na.target };
}
