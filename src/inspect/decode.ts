// One captured frame → a Row (protocol 112: CARP, VRRP or invalid) or an Announcement (GARP /
// unsolicited NA), or a reason to skip it. Pure; never throws for any bytes.
import { CARP_HEADER_LEN, CARP_TTL, decodeCarp } from "../protocol/carp.js";
import { inetChecksum } from "../protocol/checksum.js";
import { classifyProto112 } from "../protocol/classify.js";
import { ARP_REPLY, parseArp, parseGratuitousArp } from "../protocol/arp.js";
import { IPPROTO_CARP, IPPROTO_ICMPV6, type IpPacket } from "../protocol/ip.js";
import { ETHERTYPE_ARP, parseFrame, parseLinkLayer, type Frame } from "../protocol/link.js";
import { parseNeighborAdvert } from "../protocol/ndp.js";
import { isMulticastAddress } from "../protocol/receive.js";
import type { CarpHeader } from "../protocol/types.js";
import type { Announcement, Row } from "./types.js";

export type Decoded =
  | { row: Row; payload: Buffer }
  | { announcement: Announcement }
  /** Not shown; an ARP reply (who answers ARP for an address with which MAC) still feeds the analyzer. */
  | { skip: string; arpReply?: { time: number; ip: string; mac: string } };

function hex16(n: bigint): string {
  return n.toString(16).padStart(16, "0");
}

function baseRow(time: number, f: Frame, ip: IpPacket): Row {
  return {
    time,
    src: ip.src,
    dst: ip.dst,
    ttl: ip.ttl,
    kind: "invalid",
    version: null,
    type: null,
    vhid: null,
    advbase: null,
    advskew: null,
    demote: null,
    counter: null,
    hmac: null,
    checksum: null,
    auth: "unverified",
    error: null,
    diagnosis: null,
    src_mac: f.srcMac ?? null,
    dst_mac: f.dstMac ?? null,
    vlan: f.vlan ?? null,
    family: ip.family,
    length: ip.payload.length,
    notes: [],
  };
}

/** Fills the CARP fields and the key-independent verdict (badsum, badver, badttl). */
function carpRow(r: Row, h: CarpHeader, payload: Buffer, ip: IpPacket): Row {
  r.kind = "carp";
  r.version = h.version;
  r.type = h.type;
  r.vhid = h.vhid;
  r.advbase = h.advbase;
  r.advskew = h.advskew;
  r.demote = h.demote;
  r.counter = hex16(h.counter);
  r.hmac = h.hmac.toString("hex");
  r.checksum = inetChecksum(payload, 0, CARP_HEADER_LEN) === 0 ? "ok" : "bad";
  if (r.checksum === "bad") r.error = "badsum";
  else if (h.version !== 2) r.error = "badver";
  else if (ip.ttl !== CARP_TTL && isMulticastAddress(ip.dst)) r.error = "badttl";
  if (h.type !== 1) r.notes.push(`type ${h.type} is not advertisement (kernels accept it)`);
  if (h.authlen !== 7) r.notes.push(`authlen ${h.authlen}, senders use 7 (kernels accept it)`);
  if (ip.ttl !== CARP_TTL && !isMulticastAddress(ip.dst)) {
    r.notes.push(`ttl ${ip.ttl} on unicast: FreeBSD accepts it, OpenBSD and ucarp drop it`);
  }
  if (ip.truncated) r.notes.push(`capture truncated: ${ip.payload.length} of ${ip.payloadLength} bytes`);
  return r;
}

export function decodeFrame(time: number, linktype: number, data: Buffer): Decoded {
  const f = parseFrame(linktype, data);
  if ("error" in f) {
    if (f.error === "notip" && f.ethertype === ETHERTYPE_ARP) {
      const g = parseGratuitousArp(linktype, data);
      if (g) {
        return {
          announcement: { time, kind: "garp", vip: g.vip, mac: g.mac, src_mac: g.srcMac ?? null, vlan: g.vlan ?? null },
        };
      }
      const l = parseLinkLayer(linktype, data);
      const a = "error" in l ? null : parseArp(l.payload);
      if (a && !("error" in a) && a.op === ARP_REPLY) return { skip: "arp reply", arpReply: { time, ip: a.senderIp, mac: a.senderMac } };
    }
    return { skip: f.error };
  }
  const ip = f.ip;
  if (ip.proto === IPPROTO_ICMPV6 && ip.family === 6) {
    const na = parseNeighborAdvert(ip);
    if ("error" in na || na.solicited || na.hopLimit !== 255 || !na.checksumOk) return { skip: "not an unsolicited NA" };
    return {
      announcement: { time, kind: "na", vip: na.target, mac: na.mac ?? f.srcMac ?? "", src_mac: f.srcMac ?? null, vlan: f.vlan ?? null },
    };
  }
  if (ip.proto !== IPPROTO_CARP) return { skip: `IP protocol ${ip.proto}` };
  const r = baseRow(time, f, ip);
  const payload = ip.payload;
  // The common case straight through: a whole, unfragmented version-2 payload of 36+ bytes is CARP
  // (exactly what classifyProto112 decides; we do not need its VRRP-lookalike decoding).
  if (!ip.fragment && payload.length >= CARP_HEADER_LEN && payload[0] >> 4 === 2) {
    const h = decodeCarp(payload);
    if (!("error" in h)) return { row: carpRow(r, h, payload, ip), payload };
  }
  const c = classifyProto112(ip);
  if (c.kind === "carp") return { row: carpRow(r, c.header, payload, ip), payload };
  if (c.kind === "vrrp") {
    // A 36-byte version-3 payload whose CARP checksum holds is a CARP header with a bad version (vector N3),
    // not a VRRPv3 advert with a broken checksum.
    if (c.version === 3 && !c.valid && payload.length >= CARP_HEADER_LEN && inetChecksum(payload, 0, CARP_HEADER_LEN) === 0) {
      const h = decodeCarp(payload);
      if (!("error" in h)) return { row: carpRow(r, h, payload, ip), payload };
    }
    const v = c.vrrp;
    r.kind = "vrrp";
    r.version = v.version;
    r.type = v.type;
    r.vhid = v.vrid;
    r.priority = v.priority;
    r.interval_cs = v.version === 2 ? v.advertInt * 100 : v.maxAdvertInt;
    r.addresses = v.addresses;
    if (v.version === 2) r.auth_type = v.authType;
    r.checksum = v.checksumOk === true ? "ok" : "bad";
    let problems = c.problems;
    // VRRPv3 over IPv4 with the checksum computed without the pseudo-header (keepalived v3_checksum_as_v2,
    // FRR without checksum-with-ipv4-pseudoheader): right for that variant, and said so.
    if (v.version === 3 && v.family === 4 && v.checksumOk !== true && !ip.truncated && inetChecksum(payload, 0, v.length) === 0) {
      r.checksum = "ok";
      problems = problems.filter((x) => !x.startsWith("bad VRRP checksum"));
      r.notes.push("checksum without the IPv4 pseudo-header (v3_checksum_as_v2 variant)");
    }
    if (ip.truncated) r.error = "badlen";
    else if (r.checksum === "bad") r.error = "badsum";
    else if (ip.ttl !== 255) r.error = "badttl";
    r.notes.push(...problems);
    return { row: r, payload };
  }
  r.error = c.reason === "badver" ? "badver" : "badlen";
  if (payload.length >= 1) r.version = payload[0] >> 4;
  r.notes.push(c.detail);
  return { row: r, payload };
}
