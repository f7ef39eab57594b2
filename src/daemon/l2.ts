// Layer-2 announcements after a takeover: gratuitous ARP for IPv4 VIPs and unsolicited Neighbour
// Advertisements (Override flag) for IPv6 VIPs, injected through libpcap on the parent interface.
// We do not program the virtual MAC 00:00:5e:00:01:vhid on Linux, so the kernel answers ARP/ND for a VIP
// with the interface's real MAC; the announcements therefore carry the real MAC too (like ucarp).
import { randomInt } from "node:crypto";

import { buildGratuitousArp } from "../protocol/arp.js";
import { buildIpv4, IPPROTO_CARP } from "../protocol/ip.js";
import { buildUnsolicitedNa } from "../protocol/ndp.js";
import { LiveCapture } from "../host/capture.js";
import { runIp, type IpOptions } from "../host/vips.js";
import type { VipAddress } from "./config.js";

/** The interface's MAC and its configured addresses (from `ip -j addr show dev IF`). */
export interface InterfaceInfo {
  ifname: string;
  mac: string | null;
  addresses: { address: string; prefix: number; family: 4 | 6 }[];
}

export async function interfaceInfo(ifname: string, o: IpOptions = {}): Promise<{ ok: true; value: InterfaceInfo } | { ok: false; code: string; error: string }> {
  const r = await runIp(["-j", "addr", "show", "dev", ifname], o, `interface ${ifname}`);
  if (!r.ok) return r;
  try {
    const [l] = JSON.parse(r.value) as Array<{ address?: string; link_type?: string; addr_info?: Array<{ family: string; local: string; prefixlen: number }> }>;
    const mac = l?.link_type === "ether" && l.address ? l.address : null;
    const addresses = (l?.addr_info ?? [])
      .filter((a) => a.family === "inet" || a.family === "inet6")
      .map((a) => ({ address: a.local, prefix: a.prefixlen, family: (a.family === "inet" ? 4 : 6) as 4 | 6 }));
    return { ok: true, value: { ifname, mac, addresses } };
  } catch {
    return { ok: false, code: "EIO", error: `interface ${ifname}: unparsable ip -j output` };
  }
}

/** Injects GARP / NA frames on one interface. The capture handle is opened on first use. */
export class Announcer {
  private cap: LiveCapture | null = null;
  constructor(
    readonly ifname: string,
    private readonly mac: string | null,
  ) {}

  private handle(): LiveCapture {
    // A filter that matches (practically) nothing: we only inject. 0x88b5 is the IEEE local experimental type.
    // A small ring: this handle only injects; the 8 MiB default would be 8 MiB of resident memory.
    this.cap ??= new LiveCapture({ interface: this.ifname, filter: "ether proto 0x88b5", snaplen: 64, bufferSize: 128 * 1024 });
    this.cap.unref();
    return this.cap;
  }

  /** Opens the capture handle ahead of time; returns an error message, or null. */
  prepare(): string | null {
    if (!this.mac) return null;
    try {
      this.handle();
      return null;
    } catch (e) {
      return `${this.ifname}: cannot open for GARP/NA injection: ${(e as Error).message}`;
    }
  }

  /** Sends one announcement per VIP of the given families; returns error messages (empty = all sent). */
  announce(vips: VipAddress[], families: (4 | 6)[]): string[] {
    if (!this.mac) return [`${this.ifname}: no Ethernet MAC, no GARP/NA sent`];
    const errors: string[] = [];
    for (const v of vips) {
      if (!families.includes(v.family)) continue;
      try {
        const frame =
          v.family === 4
            ? buildGratuitousArp({ vip: v.address, mac: this.mac })
            : buildUnsolicitedNa({ target: v.address, mac: this.mac, override: true });
        this.handle().inject(frame);
      } catch (e) {
        errors.push(`${v.family === 4 ? "GARP" : "NA"} for ${v.address} on ${this.ifname}: ${(e as Error).message}`);
      }
    }
    return errors;
  }

  /**
   * ucarp --nomcast: one IPv4 CARP advert (36-byte payload) framed to Ethernet broadcast
   * ff:ff:ff:ff:ff:ff while the IP destination stays `dst` (the group). TTL 255, DF, random id and
   * TOS IPTOS_LOWDELAY, as ucarp sends it. Returns an error message, or null when injected.
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
      this.handle().inject(frame);
      return null;
    } catch (e) {
      return `${this.ifname}: broadcast advertisement (--nomcast): ${(e as Error).message}`;
    }
  }

  close(): void {
    this.cap?.close();
    this.cap = null;
  }
}
