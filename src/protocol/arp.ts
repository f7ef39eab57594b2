// ARP (RFC 826) for Ethernet/IPv4: the gratuitous ARP a new master sends, and a parser that recognises one.
import { formatIpv4, ipToBytes } from "./addr.js";
import { BROADCAST_MAC, buildEthernet, ETHERTYPE_ARP, formatMac, parseLinkLayer, parseMac } from "./link.js";

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpPacket {
  op: number;
  senderMac: string;
  senderIp: string;
  targetMac: string;
  targetIp: string;
}

export interface ArpError {
  error: "truncated" | "notether-ipv4" | "notarp";
  detail: string;
}

export interface GarpOptions {
  vip: string; // the IPv4 address being announced (sender IP = target IP)
  mac: string | Uint8Array; // sender hardware address (the virtual MAC for the kernels, the real MAC for ucarp)
  srcMac?: string | Uint8Array; // Ethernet source, default = mac
  targetMac?: string | Uint8Array; // ARP target hardware address, default 00:00:00:00:00:00 (ucarp puts its MAC here)
  op?: number; // default 1 (request), as FreeBSD, OpenBSD and ucarp send
  vlan?: number[];
}

function mac6(m: string | Uint8Array, what: string): Buffer {
  const b = typeof m === "string" ? parseMac(m) : Buffer.from(m);
  if (!b || b.length !== 6) throw new RangeError(`${what}: not a MAC address: ${String(m)}`);
  return b;
}

/** The 28-byte ARP message. Throws RangeError on bad arguments. */
export function buildArp(op: number, senderMac: string | Uint8Array, senderIp: string, targetMac: string | Uint8Array, targetIp: string): Buffer {
  const spa = ipToBytes(senderIp);
  const tpa = ipToBytes(targetIp);
  if (!spa || spa.length !== 4) throw new RangeError(`buildArp: not an IPv4 address: ${senderIp}`);
  if (!tpa || tpa.length !== 4) throw new RangeError(`buildArp: not an IPv4 address: ${targetIp}`);
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0); // Ethernet
  b.writeUInt16BE(0x0800, 2); // IPv4
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(op, 6);
  mac6(senderMac, "buildArp sender").copy(b, 8);
  spa.copy(b, 14);
  mac6(targetMac, "buildArp target").copy(b, 18);
  tpa.copy(b, 24);
  return b;
}

/** A gratuitous ARP Ethernet frame to ff:ff:ff:ff:ff:ff. */
export function buildGratuitousArp(o: GarpOptions): Buffer {
  const arp = buildArp(o.op ?? ARP_REQUEST, o.mac, o.vip, o.targetMac ?? "00:00:00:00:00:00", o.vip);
  return buildEthernet(BROADCAST_MAC, o.srcMac ?? o.mac, ETHERTYPE_ARP, arp, o.vlan);
}

/** Parse an Ethernet/IPv4 ARP message (the bytes after the EtherType). */
export function parseArp(buf: Buffer): ArpPacket | ArpError {
  if (buf.length < 8) return { error: "truncated", detail: `ARP header needs 8 bytes, have ${buf.length}` };
  if (buf.readUInt16BE(0) !== 1 || buf.readUInt16BE(2) !== 0x0800 || buf[4] !== 6 || buf[5] !== 4) {
    return { error: "notether-ipv4", detail: `ARP for hardware ${buf.readUInt16BE(0)}/protocol 0x${buf.readUInt16BE(2).toString(16)}` };
  }
  if (buf.length < 28) return { error: "truncated", detail: `Ethernet/IPv4 ARP needs 28 bytes, have ${buf.length}` };
  return {
    op: buf.readUInt16BE(6),
    senderMac: formatMac(buf, 8),
    senderIp: formatIpv4(buf, 14),
    targetMac: formatMac(buf, 18),
    targetIp: formatIpv4(buf, 24),
  };
}

export interface Garp {
  vip: string;
  mac: string; // ARP sender hardware address
  srcMac?: string; // link-layer source
  op: number;
  vlan?: number[];
}

/** A gratuitous ARP (request or reply with sender IP = target IP) in a captured frame, else null. */
export function parseGratuitousArp(linktype: number, data: Buffer): Garp | null {
  const l = parseLinkLayer(linktype, data);
  if ("error" in l || l.ethertype !== ETHERTYPE_ARP) return null;
  const a = parseArp(l.payload);
  if ("error" in a || a.senderIp !== a.targetIp || (a.op !== ARP_REQUEST && a.op !== ARP_REPLY)) return null;
  const g: Garp = { vip: a.senderIp, mac: a.senderMac, op: a.op };
  if (l.srcMac) g.srcMac = l.srcMac;
  if (l.vlan) g.vlan = l.vlan;
  return g;
}
