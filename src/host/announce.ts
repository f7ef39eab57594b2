// Layer-2 announcements after a takeover: gratuitous ARP for IPv4 VIPs and unsolicited Neighbour
// Advertisements (Override flag) for IPv6 VIPs, sent as whole Ethernet frames through an AF_PACKET
// socket bound to the parent interface (no libpcap). Also the ucarp --nomcast advert, framed to
// Ethernet broadcast. We do not program the virtual MAC 00:00:5e:00:01:vhid on Linux, so the kernel
// answers ARP/ND for a VIP with the interface's real MAC; the announcements carry the real MAC too
// (like ucarp).
import { randomInt } from "node:crypto";

import { buildGratuitousArp } from "../protocol/arp.js";
import { buildIpv4, IPPROTO_CARP } from "../protocol/ip.js";
import { buildUnsolicitedNa } from "../protocol/ndp.js";
import type { VipAddress } from "./types.js";
import { hostAddon } from "./native.js";
import { Netlink } from "./netlink.js";

export interface HostOptions {
  /** A namespace made by `ip netns add` (tests); undefined = ours. */
  netns?: string;
}

/** The interface's MAC and its configured addresses. */
export interface InterfaceInfo {
  ifname: string;
  ifindex: number;
  mac: string | null;
  addresses: { address: string; prefix: number; family: 4 | 6 }[];
}

export async function interfaceInfo(ifname: string, o: HostOptions = {}): Promise<{ ok: true; value: InterfaceInfo } | { ok: false; code: string; error: string }> {
  const nl = Netlink.for(o.netns);
  const l = nl.link(ifname);
  if (!l.ok) return { ok: false, code: l.code, error: l.code === "ENODEV" ? `interface ${ifname}: interface not found` : `interface ${ifname}: ${l.error}` };
  const a = nl.addresses(l.value.ifindex);
  if (!a.ok) return a;
  const addresses = a.value.map((x) => ({ address: x.address, prefix: x.prefix, family: x.family }));
  return { ok: true, value: { ifname, ifindex: l.value.ifindex, mac: l.value.mac, addresses } };
}

/** Sends GARP / NA frames (and --nomcast adverts) on one interface; the socket opens on first use. */
export class Announcer {
  private fd = -1;
  constructor(
    readonly ifname: string,
    private readonly mac: string | null,
    private readonly o: HostOptions = {},
  ) {}

  private socket(): number {
    if (this.fd >= 0) return this.fd;
    const a = hostAddon();
    if (!a.ok) throw new Error(a.error);
    const l = Netlink.for(this.o.netns).link(this.ifname);
    if (!l.ok) throw new Error(l.error);
    const fd = a.value.packetOpen(l.value.ifindex, this.o.netns ?? "");
    if (typeof fd === "string") throw new Error(`AF_PACKET socket: ${fd}${fd === "EPERM" ? " (needs root or CAP_NET_RAW)" : ""}`);
    this.fd = fd;
    return fd;
  }

  private send(frame: Buffer): void {
    const a = hostAddon();
    if (!a.ok) throw new Error(a.error);
    const r = a.value.packetSend(this.socket(), frame);
    if (r !== true) throw new Error(r);
  }

  /** GARP/NA frames by family and address, built once (they depend only on the VIP and our MAC). */
  private readonly frames = new Map<string, Buffer>();

  private frame(v: VipAddress, mac: string): Buffer {
    const key = `${v.family} ${v.address}`;
    let f = this.frames.get(key);
    if (!f) {
      f = v.family === 4 ? buildGratuitousArp({ vip: v.address, mac }) : buildUnsolicitedNa({ target: v.address, mac, override: true });
      this.frames.set(key, f);
    }
    return f;
  }

  /**
   * Opens the socket and builds the frames of `vips` ahead of time (a takeover then only sends: the
   * first build of a frame costs ms of cold code on a busy host); returns an error message, or null.
   */
  prepare(vips: VipAddress[] = []): string | null {
    if (!this.mac) return null;
    try {
      for (const v of vips) this.frame(v, this.mac);
      this.socket();
      return null;
    } catch (e) {
      return `${this.ifname}: cannot open for GARP/NA: ${(e as Error).message}`;
    }
  }

  /** Sends one announcement per VIP of the given families; returns error messages (empty = all sent). */
  announce(vips: VipAddress[], families: (4 | 6)[]): string[] {
    if (!this.mac) return [`${this.ifname}: no Ethernet MAC, no GARP/NA sent`];
    const errors: string[] = [];
    for (const v of vips) {
      if (!families.includes(v.family)) continue;
      try {
        this.send(this.frame(v, this.mac));
      } catch (e) {
        errors.push(`${v.family === 4 ? "GARP" : "NA"} for ${v.address} on ${this.ifname}: ${(e as Error).message}`);
      }
    }
    return errors;
  }

  /**
   * ucarp --nomcast: one IPv4 CARP advert (36-byte payload) framed to Ethernet broadcast
   * ff:ff:ff:ff:ff:ff while the IP destination stays `dst` (the group). TTL 255, DF, random id and
   * TOS IPTOS_LOWDELAY, as ucarp sends it. Returns an error message, or null when sent.
   */
  sendBroadcastAdvert(payload: Uint8Array, src: string, dst: string): string | null {
    if (!this.mac) return `${this.ifname}: no Ethernet MAC, cannot broadcast the advertisement (--nomcast)`;
    try {
      const ip = buildIpv4({ src, dst, proto: IPPROTO_CARP, payload, ttl: 255, tos: 0x10, id: randomInt(0x10000), df: true });
      const frame = Buffer.alloc(14 + ip.length);
      frame.fill(0xff, 0, 6);
      Buffer.from(this.mac.split(":").map((h) => parseInt(h, 16))).copy(frame, 6);
      frame.writeUInt16BE(0x0800, 12);
      ip.copy(frame, 14);
      this.send(frame);
      return null;
    } catch (e) {
      return `${this.ifname}: broadcast advertisement (--nomcast): ${(e as Error).message}`;
    }
  }

  close(): void {
    const a = hostAddon();
    if (this.fd >= 0 && a.ok) a.value.closeFd(this.fd);
    this.fd = -1;
  }
}
