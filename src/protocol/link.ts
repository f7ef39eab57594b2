// Link layers seen in captures and on packet sockets: Ethernet (with stacked 802.1Q/802.1ad tags), Linux cooked
// v1/v2, raw IP, and BSD loopback. The IP family comes from the EtherType / link header, never from a MAC.
import type { IpFamily } from "./types.js";
import { parseIpv4, parseIpv6, type IpError, type IpPacket } from "./ip.js";

export const DLT_NULL = 0;
export const DLT_EN10MB = 1;
export const DLT_RAW_12 = 12; // DLT_RAW on most BSDs / Linux headers
export const DLT_RAW_14 = 14; // DLT_RAW on OpenBSD
export const DLT_RAW = 101; // LINKTYPE_RAW
export const DLT_FRELAY = 107;
export const DLT_LOOP = 108;
export const DLT_LINUX_SLL = 113;
export const DLT_IPV4 = 228;
export const DLT_IPV6 = 229;
export const DLT_LINUX_SLL2 = 276;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100; // 802.1Q C-tag
export const ETHERTYPE_QINQ = 0x88a8; // 802.1ad S-tag
export const ETHERTYPE_QINQ_OLD = 0x9100; // pre-standard stacked tag
export const ETHERTYPE_IPV6 = 0x86dd;

export const BROADCAST_MAC = "ff:ff:ff:ff:ff:ff";

export interface LinkError {
  error: "truncated" | "unsupported-linktype" | "notip" | "badfamily" | IpError["error"];
  detail: string;
  /** Set for "notip": the EtherType / protocol that was found (e.g. 0x0806 for ARP). */
  ethertype?: number;
}

/** The link header taken apart, payload not yet interpreted. */
export interface LinkLayer {
  linktype: number;
  srcMac?: string;
  dstMac?: string;
  vlan?: number[]; // VLAN IDs, outermost first
  ethertype?: number; // EtherType after tags (absent for raw IP / loopback)
  family?: IpFamily; // known from the link header (raw IP / loopback / EtherType)
  sllPacketType?: number; // Linux cooked: 0 host, 1 broadcast, 2 multicast, 3 other host, 4 outgoing
  payload: Buffer; // subarray of the frame
}

export interface Frame {
  linktype: number;
  family: IpFamily;
  srcMac?: string;
  dstMac?: string;
  vlan?: number[];
  ethertype?: number;
  ip: IpPacket;
}

const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function formatMac(buf: Uint8Array, offset = 0): string {
  return `${HEX2[buf[offset]]}:${HEX2[buf[offset + 1]]}:${HEX2[buf[offset + 2]]}:${HEX2[buf[offset + 3]]}:${HEX2[buf[offset + 4]]}:${HEX2[buf[offset + 5]]}`;
}

/** "00:00:5e:00:01:01" (also "-" separated or bare 12 hex digits) to 6 bytes, or null. */
export function parseMac(text: string): Buffer | null {
  const hex = text.trim().toLowerCase();
  const m = /^([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})[:-]?([0-9a-f]{2})$/.exec(hex);
  return m ? Buffer.from(m.slice(1).join(""), "hex") : null;
}

function macBytes(mac: string | Uint8Array, what: string): Buffer {
  const b = typeof mac === "string" ? parseMac(mac) : Buffer.from(mac);
  if (!b || b.length !== 6) throw new RangeError(`${what}: not a MAC address: ${String(mac)}`);
  return b;
}

/** CARP / VRRP(IPv4) virtual MAC 00:00:5e:00:01:vhid; VRRPv3 over IPv6 uses 00:00:5e:00:02:vrid (RFC 5798 §7.3). */
export function virtualMac(vhid: number, family: IpFamily = 4): string {
  if (!Number.isInteger(vhid) || vhid < 0 || vhid > 255) throw new RangeError(`virtualMac: vhid ${vhid} not in 0..255`);
  return formatMac(Buffer.from([0, 0, 0x5e, 0, family === 6 ? 2 : 1, vhid]));
}

/** The vhid when mac is 00:00:5e:00:01:xx (or :02:xx for IPv6 VRRP), else null. */
export function vhidFromVirtualMac(mac: string | Uint8Array): number | null {
  const b = typeof mac === "string" ? parseMac(mac) : mac;
  if (!b || b.length !== 6 || b[0] !== 0 || b[1] !== 0 || b[2] !== 0x5e || b[3] !== 0) return null;
  return b[4] === 1 || b[4] === 2 ? b[5] : null;
}

/** Ethernet multicast MAC for an IP multicast group: 01:00:5e + low 23 bits (IPv4), 33:33 + low 32 bits (IPv6). */
export function multicastMac(group: Uint8Array): string {
  if (group.length === 4) return formatMac(Buffer.from([1, 0, 0x5e, group[1] & 0x7f, group[2], group[3]]));
  if (group.length === 16) return formatMac(Buffer.from([0x33, 0x33, group[12], group[13], group[14], group[15]]));
  throw new RangeError("multicastMac: group must be 4 or 16 bytes");
}

export const CARP_MAC_V4 = "01:00:5e:00:00:12"; // 224.0.0.18
export const CARP_MAC_V6 = "33:33:00:00:00:12"; // ff02::12

/**
 * An Ethernet II frame. vlan: VLAN IDs outermost first; with two or more tags the outer ones use 0x88a8
 * (802.1ad) and the innermost 0x8100. A vlan entry may be {vid, pcp, tpid} for full control.
 */
export function buildEthernet(
  dst: string | Uint8Array,
  src: string | Uint8Array,
  ethertype: number,
  payload: Uint8Array,
  vlan?: Array<number | { vid: number; pcp?: number; tpid?: number }>,
): Buffer {
  const tags = vlan ?? [];
  const b = Buffer.alloc(14 + 4 * tags.length + payload.length);
  macBytes(dst, "buildEthernet dst").copy(b, 0);
  macBytes(src, "buildEthernet src").copy(b, 6);
  let off = 12;
  tags.forEach((t, i) => {
    const tag = typeof t === "number" ? { vid: t } : t;
    const tpid = tag.tpid ?? (i < tags.length - 1 ? ETHERTYPE_QINQ : ETHERTYPE_VLAN);
    b.writeUInt16BE(tpid, off);
    b.writeUInt16BE((((tag.pcp ?? 0) & 7) << 13) | (tag.vid & 0xfff), off + 2);
    off += 4;
  });
  b.writeUInt16BE(ethertype & 0xffff, off);
  b.set(payload, off + 2);
  return b;
}

function isTag(t: number): boolean {
  return t === ETHERTYPE_VLAN || t === ETHERTYPE_QINQ || t === ETHERTYPE_QINQ_OLD;
}

function familyOfEthertype(t: number): IpFamily | undefined {
  return t === ETHERTYPE_IPV4 ? 4 : t === ETHERTYPE_IPV6 ? 6 : undefined;
}

/** Strip VLAN tags starting at off, where buf[off..off+2) is an EtherType / TPID. */
function stripTags(buf: Buffer, off: number, vlan: number[]): { ethertype: number; off: number } | LinkError {
  for (;;) {
    if (off + 2 > buf.length) return { error: "truncated", detail: `frame ends inside the EtherType at ${off}` };
    const t = buf.readUInt16BE(off);
    if (!isTag(t)) return { ethertype: t, off: off + 2 };
    if (off + 4 > buf.length) return { error: "truncated", detail: `frame ends inside a VLAN tag at ${off}` };
    if (vlan.length >= 8) return { error: "truncated", detail: "more than 8 stacked VLAN tags" };
    vlan.push(buf.readUInt16BE(off + 2) & 0xfff);
    off += 4;
  }
}

/** NULL (host byte order) / LOOP (network order) address family values for IP. */
function familyOfAf(af: number): IpFamily | undefined {
  if (af === 2) return 4;
  // Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
  if (af === 10 || af === 24 || af === 28 || af === 30) return 6;
  return undefined;
}

/** Take the link header off a frame of the given DLT / LINKTYPE. */
export function parseLinkLayer(linktype: number, data: Buffer): LinkLayer | LinkError {
  switch (linktype) {
    case DLT_EN10MB: {
      if (data.length < 14) return { error: "truncated", detail: `Ethernet header needs 14 bytes, have ${data.length}` };
      const vlan: number[] = [];
      const r = stripTags(data, 12, vlan);
      if ("error" in r) return r;
      const out: LinkLayer = {
        linktype,
        dstMac: formatMac(data, 0),
        srcMac: formatMac(data, 6),
        ethertype: r.ethertype,
        payload: data.subarray(r.off),
      };
      const fam = familyOfEthertype(r.ethertype);
      if (fam) out.family = fam;
      if (vlan.length) out.vlan = vlan;
      return out;
    }
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2: {
      const v2 = linktype === DLT_LINUX_SLL2;
      const hl = v2 ? 20 : 16;
      if (data.length < hl) return { error: "truncated", detail: `Linux cooked header needs ${hl} bytes, have ${data.length}` };
      const hatype = data.readUInt16BE(v2 ? 8 : 2);
      const addrLen = v2 ? data[11] : data.readUInt16BE(4);
      const pkttype = v2 ? data[10] : data.readUInt16BE(0);
      const vlan: number[] = [];
      let r: { ethertype: number; off: number } | LinkError;
      if (!v2) {
        // v1: protocol at 14, header ends at 16; a tag's TCI and inner EtherType follow contiguously.
        r = stripTags(data, 14, vlan);
      } else {
        // v2: protocol at 0, header ends at 20; a tag's TCI and inner EtherType follow the header.
        const proto = data.readUInt16BE(0);
        if (!isTag(proto)) r = { ethertype: proto, off: hl };
        else if (data.length < hl + 2) r = { error: "truncated", detail: "SLL2 frame ends inside a VLAN tag" };
        else {
          vlan.push(data.readUInt16BE(hl) & 0xfff);
          r = stripTags(data, hl + 2, vlan);
        }
      }
      if ("error" in r) return r;
      const { ethertype, off } = r;
      const out: LinkLayer = { linktype, ethertype, payload: data.subarray(off), sllPacketType: pkttype };
      if (hatype === 1 && addrLen === 6) out.srcMac = formatMac(data, v2 ? 12 : 6);
      const fam = familyOfEthertype(ethertype);
      if (fam) out.family = fam;
      if (vlan.length) out.vlan = vlan;
      return out;
    }
    case DLT_RAW:
    case DLT_RAW_12:
    case DLT_RAW_14: {
      if (data.length < 1) return { error: "truncated", detail: "empty raw IP frame" };
      const v = data[0] >> 4;
      const out: LinkLayer = { linktype, payload: data };
      if (v === 4 || v === 6) out.family = v;
      return out;
    }
    case DLT_IPV4:
      return { linktype, family: 4, payload: data };
    case DLT_IPV6:
      return { linktype, family: 6, payload: data };
    case DLT_NULL:
    case DLT_LOOP: {
      if (data.length < 4) return { error: "truncated", detail: `loopback header needs 4 bytes, have ${data.length}` };
      // DLT_NULL is in the capturing host's byte order: accept whichever order gives a known family.
      const be = data.readUInt32BE(0);
      const fam = linktype === DLT_LOOP ? familyOfAf(be) : (familyOfAf(data.readUInt32LE(0)) ?? familyOfAf(be));
      const out: LinkLayer = { linktype, payload: data.subarray(4) };
      if (fam) out.family = fam;
      return out;
    }
    default:
      return { error: "unsupported-linktype", detail: `link type ${linktype} is not supported` };
  }
}

/**
 * A captured frame down to its IP packet. The IP payload is bounded by the IP length field and the captured
 * bytes; ip.truncated tells whether the capture cut it short. Non-IP frames give error "notip".
 */
export function parseFrame(linktype: number, data: Buffer): Frame | LinkError {
  const l = parseLinkLayer(linktype, data);
  if ("error" in l) return l;
  if (l.family === undefined) {
    if (l.ethertype !== undefined) {
      return { error: "notip", detail: `EtherType 0x${l.ethertype.toString(16).padStart(4, "0")} is not IP`, ethertype: l.ethertype };
    }
    return { error: "notip", detail: "link header does not announce IPv4 or IPv6" };
  }
  if (l.payload.length >= 1 && l.payload[0] >> 4 !== l.family) {
    return { error: "badfamily", detail: `link header says IPv${l.family} but the IP version nibble is ${l.payload[0] >> 4}` };
  }
  const ip = l.family === 4 ? parseIpv4(l.payload) : parseIpv6(l.payload);
  if ("error" in ip) return ip;
  const f: Frame = { linktype, family: l.family, ip };
  if (l.srcMac) f.srcMac = l.srcMac;
  if (l.dstMac) f.dstMac = l.dstMac;
  if (l.vlan) f.vlan = l.vlan;
  if (l.ethertype !== undefined) f.ethertype = l.ethertype;
  return f;
}

