// Virtual MAC mode: one bridge-mode macvlan per vhid on the parent interface, named after the vhid's carp
// name (carp0), with the CARP virtual MAC 00:00:5e:00:01:vhid. It holds the VIPs, is up on MASTER and
// down otherwise (so the kernel itself reports LINK_UP/LINK_DOWN), and frames we inject (GARP, NA,
// adverts) carry its MAC as Ethernet source. A macvlan left behind by a crash (same name, macvlan of the
// same parent, same MAC) is adopted instead of duplicated; anything else of that name is an error.
import { randomInt } from "node:crypto";

import { ipToBytes } from "../protocol/addr.js";
import { buildIpv4, buildIpv6, IPPROTO_CARP } from "../protocol/ip.js";
import { buildEthernet, multicastMac, virtualMac } from "../protocol/link.js";
import { hostAddon } from "./native.js";
import { Netlink } from "./netlink.js";
import { writeSysctl } from "./sysctl.js";

export type VmacResult<T> = { ok: true; value: T } | { ok: false; code: string; error: string };

export class VirtualMacLink {
  private constructor(
    readonly name: string,
    readonly parent: string,
    readonly mac: string,
    readonly ifindex: number,
    /** True when the link existed already (left behind by a crash) and was adopted. */
    readonly adopted: boolean,
    private readonly nl: Netlink,
  ) {}

  /** Creates (or adopts) the macvlan `name` of `parent` for `vhid`, set down. */
  static ensure(parent: string, name: string, vhid: number, netns?: string): VmacResult<VirtualMacLink> {
    const nl = Netlink.for(netns);
    const mac = virtualMac(vhid);
    const p = nl.link(parent);
    if (!p.ok) return { ok: false, code: p.code, error: `vmac ${name}: parent ${parent}: ${p.code === "ENODEV" ? "interface not found" : p.error}` };
    const existing = nl.link(name);
    if (existing.ok) {
      const k = nl.linkKind(existing.value.ifindex);
      if (!k.ok) return k;
      if (k.value.kind !== "macvlan" || k.value.parent !== p.value.ifindex || existing.value.mac !== mac) {
        const what = k.value.kind === "macvlan" ? `a macvlan of ifindex ${k.value.parent} with MAC ${existing.value.mac}` : `a ${k.value.kind || "plain"} interface`;
        return { ok: false, code: "EEXIST", error: `vmac ${name}: an interface of that name exists (${what}), not a macvlan of ${parent} with ${mac}; rename it or set carpName` };
      }
      const down = nl.setLinkUp(existing.value.ifindex, false);
      if (!down.ok) return down;
      return { ok: true, value: new VirtualMacLink(name, parent, mac, existing.value.ifindex, true, nl) };
    }
    const c = nl.addMacvlan(p.value.ifindex, name, mac);
    if (!c.ok) return { ok: false, code: c.code, error: `vmac ${name}: ${c.error}${c.code === "EOPNOTSUPP" ? " (kernel without macvlan)" : ""}` };
    return { ok: true, value: new VirtualMacLink(name, parent, mac, c.value, false, nl) };
  }

  /**
   * The macvlan sends nothing on its own: no IPv6 link-local address (addr_gen_mode 1), hence no router
   * solicitations or DAD from it, and none retried (router_solicitations 0). Otherwise a frozen master's
   * kernel keeps sending RS from the virtual MAC every few seconds, and each one pulls the switch's
   * forwarding entry for that MAC back to the frozen host. Set before the link first goes up; settings
   * that do not exist (IPv6 disabled) are skipped. Returns error lines.
   */
  quiet(): string[] {
    const errors: string[] = [];
    for (const [k, v] of [["addr_gen_mode", "1"], ["router_solicitations", "0"], ["accept_ra", "0"], ["accept_dad", "0"]] as const) {
      const w = writeSysctl(`net.ipv6.conf.${this.name}.${k}`, v);
      if (!w.ok && w.code !== "ENOENT") errors.push(`vmac ${this.name}: ${w.error}`);
    }
    return errors;
  }

  /** The link as the kernel has it now (carp status): administratively up or not, and its operstate. */
  linkState(): { up: boolean; operstate: string } | { error: string } {
    const l = this.nl.link(this.ifindex);
    return l.ok ? { up: l.value.up, operstate: l.value.operstate } : { error: `vmac ${this.name}: ${l.error}` };
  }

  /** Administratively up (MASTER) or down (BACKUP/INIT). */
  setUp(up: boolean): VmacResult<true> {
    const r = this.nl.setLinkUp(this.ifindex, up);
    return r.ok ? r : { ok: false, code: r.code, error: `vmac ${this.name}: set ${up ? "up" : "down"}: ${r.error}` };
  }

  /** Removes the macvlan (exit); its addresses go with it. */
  remove(): VmacResult<true> {
    const r = this.nl.deleteLink(this.ifindex);
    if (!r.ok && r.code === "ENODEV") return { ok: true, value: true };
    return r.ok ? r : { ok: false, code: r.code, error: `vmac ${this.name}: delete: ${r.error}` };
  }
}

/** The carp interface name of a vhid: its carpName, else carp<vhid>. */
export function vmacName(v: { vhid: number; carpName?: string }): string {
  return v.carpName ?? `carp${v.vhid}`;
}

/**
 * Adverts in virtual MAC mode: whole Ethernet frames (source 00:00:5e:00:01:vhid) sent through an
 * AF_PACKET socket on the parent, so the IP header is the one the raw socket would send (source = the
 * parent's own address, TTL/hop limit 255, DF) whatever state the macvlan is in (a bow-out still leaves
 * after the link went down). Multicast goes to the group's MAC; a unicast peer to the MAC the neighbour
 * table holds for it. Returns null when sent, "unresolved" when the peer's MAC is not known yet (the
 * caller sends that one advert through the kernel, which resolves it), or an error message.
 */
export class VmacFrameSender {
  private fd = -1;
  private parentIndex = -1;
  constructor(
    readonly parent: string,
    readonly mac: string,
    private readonly netns?: string,
  ) {}

  private socket(): number {
    if (this.fd >= 0) return this.fd;
    const a = hostAddon();
    if (!a.ok) throw new Error(a.error);
    const l = Netlink.for(this.netns).link(this.parent);
    if (!l.ok) throw new Error(l.error);
    const fd = a.value.packetOpen(l.value.ifindex, this.netns ?? "");
    if (typeof fd === "string") throw new Error(`AF_PACKET socket on ${this.parent}: ${fd}${fd === "EPERM" ? " (needs root or CAP_NET_RAW)" : ""}`);
    this.parentIndex = l.value.ifindex;
    this.fd = fd;
    return fd;
  }

  send(family: 4 | 6, payload: Uint8Array, src: string, dst: string, unicast: boolean): string | null | "unresolved" {
    try {
      const fd = this.socket();
      let dmac: string;
      if (unicast) {
        const n = Netlink.for(this.netns).neighbour(this.parentIndex, family, dst);
        if (!n.ok) return n.error;
        if (n.value === null) return "unresolved";
        dmac = n.value;
      } else dmac = multicastMac(ipToBytes(dst)!);
      const ip =
        family === 4
          ? buildIpv4({ src, dst, proto: IPPROTO_CARP, payload, ttl: 255, id: randomInt(0x10000), df: true })
          : buildIpv6({ src, dst, nextHeader: IPPROTO_CARP, payload, hopLimit: 255 });
      const frame = buildEthernet(dmac, this.mac, family === 4 ? 0x0800 : 0x86dd, ip);
      const a = hostAddon();
      if (!a.ok) return a.error;
      const r = a.value.packetSend(fd, frame);
      return r === true ? null : `send on ${this.parent}: ${r}`;
    } catch (e) {
      return (e as Error).message;
    }
  }

  close(): void {
    const a = hostAddon();
    if (this.fd >= 0 && a.ok) a.value.closeFd(this.fd);
    this.fd = -1;
  }
}
