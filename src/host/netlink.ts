// rtnetlink through the carp_io addon (native/io/netlink.cc): addresses, links and one event
// subscription per network namespace per process, shared by every watcher. Requests are synchronous
// (the kernel answers within microseconds): an address add returns after the kernel's ACK, when the
// address exists. Errors are values carrying the errno name (EPERM, ENODEV, EEXIST, ...).
// `netns` names a namespace made by `ip netns add` (/run/netns/NAME); the sockets are created inside it
// and the caller's thread never leaves its own namespace. Undefined = the process's namespace.
import { EventEmitter } from "node:events";

import { errnoHint, type HostAddon, hostAddon, type NativeAddress, type NativeEvent, type NativeLink, type NativeMonitor } from "./native.js";

export type NlResult<T> = { ok: true; value: T } | { ok: false; code: string; error: string };

// IFA_F_* (linux/if_addr.h)
const ADDR_FLAGS: Array<[number, string]> = [
  [0x01, "secondary"], [0x02, "nodad"], [0x04, "optimistic"], [0x08, "dadfailed"], [0x10, "homeaddress"],
  [0x20, "deprecated"], [0x40, "tentative"], [0x80, "permanent"], [0x100, "managetempaddr"], [0x200, "noprefixroute"],
];
const ARPHRD_ETHER = 1;

export interface LinkInfo {
  ifindex: number;
  name: string;
  /** The Ethernet MAC (aa:bb:..), null for links that are not Ethernet. */
  mac: string | null;
  /** IFF_UP: administratively up. */
  up: boolean;
  /** IFF_RUNNING. */
  running: boolean;
  /** IFF_LOWER_UP: carrier. */
  lowerUp: boolean;
  operstate: string;
  mtu: number;
  /** IPv4 devconf promote_secondaries, when the kernel reported it. */
  promoteSecondaries?: boolean;
}

export interface AddressInfo {
  ifindex: number;
  family: 4 | 6;
  address: string;
  prefix: number;
  label?: string;
  /** IFA_F_* names: secondary, nodad, tentative, permanent, ... */
  flags: string[];
}

export type NetlinkEvent =
  | { type: "link"; kind: "new" | "del"; link: LinkInfo; ts: number }
  | { type: "address"; kind: "new" | "del"; address: AddressInfo; ifname: string; ts: number }
  /** The kernel dropped events (ENOBUFS): state must be re-read by listing. */
  | { type: "overrun"; ts: number };

function toLink(l: NativeLink): LinkInfo {
  const out: LinkInfo = {
    ifindex: l.ifindex,
    name: l.name,
    mac: l.linkType === ARPHRD_ETHER ? l.mac : null,
    up: l.up,
    running: l.running,
    lowerUp: l.lowerUp,
    operstate: l.operstate ?? "UNKNOWN",
    mtu: l.mtu ?? 0,
  };
  if (l.promoteSecondaries !== undefined) out.promoteSecondaries = l.promoteSecondaries;
  return out;
}

function toAddress(a: NativeAddress): AddressInfo {
  const out: AddressInfo = { ifindex: a.ifindex, family: a.family, address: a.address, prefix: a.prefix, flags: ADDR_FLAGS.filter(([b]) => a.flags & b).map(([, n]) => n) };
  if (a.label !== undefined) out.label = a.label;
  return out;
}

function err(code: string, what: string): { ok: false; code: string; error: string } {
  const hint = errnoHint(code);
  return { ok: false, code, error: `${what}: ${code}${hint !== code ? ` (${hint})` : ""}` };
}

export interface AddressSpec {
  family: 4 | 6;
  address: string;
  prefix: number;
  /** IPv4 only: IFA_LABEL (at most 15 characters). */
  label?: string;
  /** IPv6 only: IFA_F_NODAD (usable at once, no tentative phase). */
  nodad?: boolean;
}

/** A request socket for one network namespace; one per namespace per process (Netlink.for). */
export class Netlink {
  private static readonly sockets = new Map<string, Netlink>();
  private fd = -1;

  private constructor(readonly netns: string) {}

  static for(netns?: string): Netlink {
    const key = netns ?? "";
    let n = Netlink.sockets.get(key);
    if (!n) Netlink.sockets.set(key, (n = new Netlink(key)));
    return n;
  }

  private where(): string {
    return this.netns ? ` in netns ${this.netns}` : "";
  }

  private open(): NlResult<{ a: HostAddon; fd: number }> {
    const a = hostAddon();
    if (!a.ok) return { ok: false, code: "ENOADDON", error: a.error };
    if (this.fd < 0) {
      const fd = a.value.netlinkOpen(this.netns);
      if (typeof fd === "string") return err(fd, `netlink socket${this.where()}`);
      this.fd = fd;
    }
    return { ok: true, value: { a: a.value, fd: this.fd } };
  }

  /** A link by name or ifindex; ENODEV when there is none. */
  link(which: string | number): NlResult<LinkInfo> {
    const o = this.open();
    if (!o.ok) return o;
    const r = o.value.a.linkGet(o.value.fd, which);
    return typeof r === "string" ? err(r, `link ${which}${this.where()}`) : { ok: true, value: toLink(r) };
  }

  links(): NlResult<LinkInfo[]> {
    const o = this.open();
    if (!o.ok) return o;
    const r = o.value.a.linkList(o.value.fd);
    return typeof r === "string" ? err(r, `list links${this.where()}`) : { ok: true, value: r.map(toLink) };
  }

  /** Addresses of one interface (ifindex) or of all (no argument). */
  addresses(ifindex = 0): NlResult<AddressInfo[]> {
    const o = this.open();
    if (!o.ok) return o;
    const r = o.value.a.addrList(o.value.fd, ifindex);
    return typeof r === "string" ? err(r, `list addresses${this.where()}`) : { ok: true, value: r.map(toAddress) };
  }

  /** Adds an address; returns once the kernel has it. EEXIST if it is already there. */
  addAddress(ifindex: number, a: AddressSpec): NlResult<true> {
    const o = this.open();
    if (!o.ok) return o;
    const r = o.value.a.addrAdd(o.value.fd, ifindex, a.family, a.address, a.prefix, a.family === 4 ? (a.label ?? "") : "", a.family === 6 && !!a.nodad);
    return r === true ? { ok: true, value: true } : err(r, `add ${a.address}/${a.prefix} to ifindex ${ifindex}${this.where()}`);
  }

  /** Deletes an address; EADDRNOTAVAIL if it is absent. */
  deleteAddress(ifindex: number, a: Pick<AddressSpec, "family" | "address" | "prefix">): NlResult<true> {
    const o = this.open();
    if (!o.ok) return o;
    const r = o.value.a.addrDel(o.value.fd, ifindex, a.family, a.address, a.prefix);
    return r === true ? { ok: true, value: true } : err(r, `delete ${a.address}/${a.prefix} from ifindex ${ifindex}${this.where()}`);
  }

  /** Administratively up or down (ip link set dev X up|down). */
  setLinkUp(ifindex: number, up: boolean): NlResult<true> {
    const o = this.open();
    if (!o.ok) return o;
    const r = o.value.a.linkSetUp(o.value.fd, ifindex, up);
    return r === true ? { ok: true, value: true } : err(r, `set ifindex ${ifindex} ${up ? "up" : "down"}${this.where()}`);
  }

  /** Creates a bridge-mode macvlan `name` with `mac` on the parent (created down); returns its ifindex. */
  addMacvlan(parent: number, name: string, mac: string): NlResult<number> {
    const o = this.open();
    if (!o.ok) return o;
    const r = o.value.a.macvlanAdd(o.value.fd, parent, name, mac);
    return typeof r === "number" ? { ok: true, value: r } : err(r, `create macvlan ${name} (${mac}) on ifindex ${parent}${this.where()}`);
  }

  /** Deletes a link (ip link del). */
  deleteLink(ifindex: number): NlResult<true> {
    const o = this.open();
    if (!o.ok) return o;
    const r = o.value.a.linkDel(o.value.fd, ifindex);
    return r === true ? { ok: true, value: true } : err(r, `delete link ifindex ${ifindex}${this.where()}`);
  }

  /** The link's kind ("macvlan", "" for a plain device), its parent ifindex (0 = none) and macvlan mode. */
  linkKind(ifindex: number): NlResult<{ kind: string; parent: number; macvlanMode: string }> {
    const o = this.open();
    if (!o.ok) return o;
    const r = o.value.a.linkKind(o.value.fd, ifindex);
    return typeof r === "string" ? err(r, `link kind of ifindex ${ifindex}${this.where()}`) : { ok: true, value: r };
  }

  /** The neighbour table's MAC for `address` on `ifindex` (usable entries only), null when unresolved. */
  neighbour(ifindex: number, family: 4 | 6, address: string): NlResult<string | null> {
    const o = this.open();
    if (!o.ok) return o;
    const r = o.value.a.neighGet(o.value.fd, ifindex, family, address);
    return r === null || (typeof r === "string" && r.includes(":")) ? { ok: true, value: r } : err(r as string, `neighbour ${address}${this.where()}`);
  }

  /** The IPv4 devconf promote_secondaries of one interface (net.ipv4.conf.IF.promote_secondaries). */
  setPromoteSecondaries(ifindex: number, on: boolean): NlResult<true> {
    const o = this.open();
    if (!o.ok) return o;
    const r = o.value.a.setPromoteSecondaries(o.value.fd, ifindex, on);
    return r === true ? { ok: true, value: true } : err(r, `promote_secondaries on ifindex ${ifindex}${this.where()}`);
  }
}

/**
 * The process's one event subscription per namespace (links, IPv4 and IPv6 addresses). Emits "event"
 * (NetlinkEvent). Get it with NetlinkEvents.acquire() and give it back with release(): the socket is
 * closed when the last user releases it. Address events carry the interface name from a cache kept by
 * the link events.
 */
export class NetlinkEvents extends EventEmitter {
  private static readonly shared = new Map<string, NetlinkEvents>();
  private users = 0;
  private mon: NativeMonitor | null = null;
  private readonly names = new Map<number, string>();

  private constructor(readonly netns: string) {
    super();
    this.setMaxListeners(0);
  }

  /**
   * The shared subscription of `netns`, opened on first use. `rcvbuf` (bytes, default 4 MiB) applies when
   * this call opens the socket.
   */
  static acquire(netns?: string, rcvbuf?: number): NlResult<NetlinkEvents> {
    const key = netns ?? "";
    let s = NetlinkEvents.shared.get(key);
    if (!s) s = new NetlinkEvents(key);
    if (!s.mon) {
      const a = hostAddon();
      if (!a.ok) return { ok: false, code: "ENOADDON", error: a.error };
      try {
        s.mon = rcvbuf === undefined ? new a.value.NetlinkMonitor(key) : new a.value.NetlinkMonitor(key, rcvbuf);
      } catch (e) {
        const code = (e as { code?: string }).code ?? "EIO";
        return err(code, `netlink events${key ? ` in netns ${key}` : ""}`);
      }
      s.mon.onevents = (evs) => s!.deliver(evs);
      NetlinkEvents.shared.set(key, s);
      s.refreshNames();
    }
    s.users++;
    return { ok: true, value: s };
  }

  /** Processes with a subscription open (for tests): the number of users of `netns`'s one socket. */
  static usersOf(netns?: string): number {
    return NetlinkEvents.shared.get(netns ?? "")?.users ?? 0;
  }

  release(): void {
    if (this.users === 0) return;
    if (--this.users > 0) return;
    this.mon?.close();
    this.mon = null;
    NetlinkEvents.shared.delete(this.netns);
  }

  /** The netlink socket's fd, or -1 when closed. */
  get fd(): number {
    return this.mon?.fd ?? -1;
  }

  /** Interface name of an ifindex (from link events and the last listing). */
  nameOf(ifindex: number): string | undefined {
    return this.names.get(ifindex);
  }

  private refreshNames(): void {
    const l = Netlink.for(this.netns || undefined).links();
    if (l.ok) {
      this.names.clear();
      for (const x of l.value) this.names.set(x.ifindex, x.name);
    }
  }

  private deliver(evs: NativeEvent[]): void {
    for (const e of evs) {
      if (e.type === "overrun") {
        this.refreshNames();
        this.emit("event", { type: "overrun", ts: e.ts } satisfies NetlinkEvent);
      } else if (e.type === "link") {
        const link = toLink(e);
        if (e.kind === "new" && link.name) this.names.set(link.ifindex, link.name);
        this.emit("event", { type: "link", kind: e.kind, link, ts: e.ts } satisfies NetlinkEvent);
        if (e.kind === "del") this.names.delete(link.ifindex);
      } else {
        let ifname = this.names.get(e.ifindex);
        if (ifname === undefined) {
          const l = Netlink.for(this.netns || undefined).link(e.ifindex);
          ifname = l.ok ? l.value.name : (e.label?.replace(/:.*$/, "") ?? `if${e.ifindex}`);
          if (l.ok) this.names.set(e.ifindex, ifname);
        }
        this.emit("event", { type: "address", kind: e.kind, address: toAddress(e), ifname, ts: e.ts } satisfies NetlinkEvent);
      }
    }
  }

  /** Lets the process exit while subscribed (the daemon keeps itself alive by other means). */
  unref(): void {
    this.mon?.setRef(false);
  }
}
