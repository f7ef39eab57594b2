// VRRPv3 on the wire for a version-3 vhid: building its adverts (RFC 5798 layout, IPv4 checksum with or
// without the pseudo-header, IPv6 always with it, from the link-local address) and checking received
// ones (version 3, type 1, TTL/hop limit 255, either IPv4 checksum variant, which is remembered per peer).
import type { ReceivedAdvert, Transmit } from "../core/index.js";
import type { ReceivedPacket } from "../host/rawsock.js";
import { ipToBytes } from "../protocol/addr.js";
import { inetChecksum } from "../protocol/checksum.js";
import { IPPROTO_CARP, pseudoChecksum } from "../protocol/ip.js";
import type { CarpReason, IpFamily } from "../protocol/types.js";
import { decodeVrrpV3, encodeVrrpV3, VRRP_TYPE_ADVERTISEMENT } from "../protocol/vrrp.js";
import type { IfRt, VhidRt } from "./interfaces.js";

export type VrrpChecksum = "pseudo" | "v2";

/** The advert's IP source: --srcip/--srcip6, else the interface's first IPv4 / its IPv6 link-local address. */
export function vrrpSource(ifr: IfRt, rt: VhidRt, family: IpFamily): string | undefined {
  if (family === 4) return rt.cfg.srcip ?? ifr.own.find((a) => a.includes("."));
  const v6 = ifr.own.filter((a) => a.includes(":"));
  return rt.cfg.srcip6 ?? v6.find((a) => a.toLowerCase().startsWith("fe80:")) ?? v6[0];
}

export const vrrpDestination = (rt: VhidRt, family: IpFamily): string =>
  family === 4 ? (rt.cfg.peer ?? rt.cfg.mcast) : (rt.cfg.peer6 ?? rt.cfg.mcast6);

/**
 * The VRRPv3 message for `t` (addresses of its family, the priority and interval the core chose). Its
 * checksum is written by sealVrrp once the source address is known (the send path knows the interface).
 */
export function encodeVrrpAdvert(rt: VhidRt, t: Transmit): Buffer {
  const v = t.advert.vrrp ?? { priority: 0, intervalCs: rt.cfg.vrrp!.intervalCs };
  return encodeVrrpV3({
    vrid: rt.ref.vhid,
    priority: v.priority,
    maxAdvertInt: v.intervalCs,
    addresses: rt.cfg.addresses.filter((a) => a.family === t.family).map((a) => a.address),
    src: t.family === 4 ? "0.0.0.0" : "::",
    dst: vrrpDestination(rt, t.family),
  });
}

/** Writes the checksum for source `src`: RFC 5798 (pseudo-header), or for IPv4 with vrrpChecksum v2 over the message only. */
export function sealVrrp(pkt: Buffer, rt: VhidRt, family: IpFamily, src: string): void {
  pkt.writeUInt16BE(0, 6);
  if (family === 4 && rt.cfg.vrrp!.checksum === "v2") {
    pkt.writeUInt16BE(inetChecksum(pkt), 6); // keepalived's v3_checksum_as_v2
    return;
  }
  pkt.writeUInt16BE(pseudoChecksum(ipToBytes(src)!, ipToBytes(vrrpDestination(rt, family))!, IPPROTO_CARP, pkt), 6);
}

/** Which IPv4 checksum variant a received VRRPv3 message uses, or null when neither is right. */
export function vrrpChecksumVariant(data: Uint8Array, family: IpFamily, src: string, dst: string): VrrpChecksum | null {
  const s = ipToBytes(src);
  const d = ipToBytes(dst);
  if (s && d && s.length === d.length && pseudoChecksum(s, d, IPPROTO_CARP, data) === 0) return "pseudo";
  if (family === 4 && inetChecksum(data) === 0) return "v2";
  return null;
}

export type VrrpRx =
  | { ok: true; advert: ReceivedAdvert; checksum: VrrpChecksum }
  | { ok: false; reason: CarpReason; detail: string };

/** Checks one protocol-112 packet for a version-3 vhid. */
export function receiveVrrp(p: ReceivedPacket, rt: VhidRt): VrrpRx {
  const d = p.data;
  const version = d.length ? d[0] >> 4 : 0;
  if (version !== 3) return { ok: false, reason: "badver", detail: `version ${version} at vhid ${rt.ref.vhid}, which speaks VRRPv3` };
  if (!rt.families[p.family]) return { ok: false, reason: "badvhid", detail: `VRRPv3/IPv${p.family} for vrid ${rt.ref.vhid}, which has no IPv${p.family} address` };
  const v = decodeVrrpV3(d, { family: p.family });
  if ("error" in v) return { ok: false, reason: "badlen", detail: v.detail };
  if (v.type !== VRRP_TYPE_ADVERTISEMENT) return { ok: false, reason: "badver", detail: `VRRP type ${v.type} is not an advertisement` };
  if (p.ttl !== 255) return { ok: false, reason: "badttl", detail: `${p.family === 4 ? "TTL" : "hop limit"} ${p.ttl}, expected 255` };
  const checksum = vrrpChecksumVariant(d.subarray(0, v.length), p.family, p.src, p.dst);
  if (!checksum) return { ok: false, reason: "badsum", detail: `VRRPv3 checksum 0x${v.checksum.toString(16).padStart(4, "0")} is right neither with nor without the pseudo-header` };
  if (v.maxAdvertInt === 0) return { ok: false, reason: "badlen", detail: "VRRPv3 interval 0" };
  return {
    ok: true,
    checksum,
    advert: {
      from: p.src,
      family: p.family,
      header: { version: 3, type: v.type, vhid: v.vrid, advskew: 0, authlen: 0, demote: 0, advbase: 0, checksum: v.checksum, counter: 0n, hmac: Buffer.alloc(0) },
      vrrp: { priority: v.priority, intervalCs: v.maxAdvertInt },
    },
  };
}
