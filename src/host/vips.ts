// Virtual addresses on Linux through rtnetlink (src/host/netlink.ts, no `ip` child). Design decisions:
//  - Idempotent: adding an address that exists, or removing one that is absent, is success (changed=false).
//    An add resolves after the kernel's ACK: when it says "added", the address exists.
//  - Ownership: IPv4 VIPs get the label "<if>:carp<vhid>" (or "<if>:c<vhid>" when that exceeds the kernel's
//    15-character IFNAMSIZ limit; no label if even that does not fit). Every VIP we add (IPv4 and IPv6) is
//    also recorded in a small JSON state file (default /run/carp/carp.sock.vips.json, on tmpfs: it dies
//    with the addresses at reboot). An address is ours if it carries our label or is in the state file.
//  - IPv6 VIPs are added with IFA_F_NODAD, so they are usable at once (no tentative phase during takeover).
//  - One vhid giving up its VIP must never take another vhid's VIP with it. When an interface has no
//    address of its own in a VIP's subnet, the first VIP added there becomes the primary address and the
//    later ones its secondaries; with promote_secondaries = 0 (the kernel's default outside systemd
//    hosts) deleting that primary deletes every secondary of the subnet too. Like keepalived, we turn
//    promote_secondaries on for an interface before adding an IPv4 VIP to it (a secondary is promoted
//    instead of flushed) and leave it on. Alternatives rejected: /32 VIPs change the routes users expect;
//    re-adding the flushed VIPs leaves them absent for a while (the defect this replaces).
//  - Vanished VIPs: `VipWatcher` listens on the process's one netlink subscription and emits
//    "removed"/"added"; `present()` answers "is it still there" for a reconcile check.
//  - Errors carry the errno name: EPERM -> "needs root or CAP_NET_ADMIN", ENODEV, ENOENT (missing netns).
import { EventEmitter } from "node:events";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { VipAddress } from "./types.js";
import { type AddressInfo, Netlink, NetlinkEvents, type NetlinkEvent } from "./netlink.js";

export type IpErrorCode = string;
export type HostResult<T> = { ok: true; value: T } | { ok: false; code: IpErrorCode; error: string };

export interface IpOptions {
  /** Work inside this network namespace (made by `ip netns add`, /run/netns/NAME); default ours. */
  netns?: string;
}

const IFNAMSIZ_MAX = 15;

/** The label we give IPv4 VIPs, or undefined if no label fits in 15 characters. */
export function vipLabel(ifname: string, vhid: number): string | undefined {
  for (const l of [`${ifname}:carp${vhid}`, `${ifname}:c${vhid}`]) if (l.length <= IFNAMSIZ_MAX) return l;
  return undefined;
}

/** The vhid encoded in one of our labels, or undefined. */
export function vhidFromLabel(ifname: string, label: string | undefined): number | undefined {
  if (!label || !label.startsWith(ifname + ":")) return undefined;
  const m = /^c(?:arp)?(\d{1,3})$/.exec(label.slice(ifname.length + 1));
  return m ? Number(m[1]) : undefined;
}

export interface OwnedVip {
  ifname: string;
  vhid: number;
  address: string;
  prefix: number;
  family: 4 | 6;
}

export interface PresentAddress {
  ifname: string;
  address: string;
  prefix: number;
  family: 4 | 6;
  label?: string;
  /** IFA_F_* names (secondary, tentative, nodad, ...). */
  flags?: string[];
}

/** All addresses (optionally of one interface). */
export async function listAddresses(o: IpOptions, ifname?: string): Promise<HostResult<PresentAddress[]>> {
  const nl = Netlink.for(o.netns);
  const links = nl.links();
  if (!links.ok) return links;
  const names = new Map(links.value.map((l) => [l.ifindex, l.name]));
  let ifindex = 0;
  if (ifname !== undefined) {
    const l = links.value.find((x) => x.name === ifname);
    if (!l) return { ok: false, code: "ENODEV", error: `list addresses of ${ifname}: interface not found` };
    ifindex = l.ifindex;
  }
  const r = nl.addresses(ifindex);
  if (!r.ok) return r;
  return { ok: true, value: r.value.map((a) => present(a, names.get(a.ifindex) ?? `if${a.ifindex}`)) };
}

function present(a: AddressInfo, ifname: string): PresentAddress {
  const p: PresentAddress = { ifname, address: a.address, prefix: a.prefix, family: a.family, flags: a.flags };
  if (a.label) p.label = a.label;
  return p;
}

export interface VipManagerOptions extends IpOptions {
  /**
   * Where this instance records the VIPs it added: one file per instance (the daemon uses
   * `<control socket>.vips.json`), never shared, so no lock is needed. Default
   * `$CARP_RUN_DIR/carp.sock.vips.json` (/run/carp/...), the file of the default instance.
   */
  stateFile?: string;
}

/** Which VIPs a startup cleanup may touch besides those in this instance's state file. */
export interface StaleScope {
  /** This instance's vhids: labelled VIPs of these count as ours even when the state file lost them. */
  own?: ReadonlyArray<{ ifname: string; vhid: number }>;
  /** Candidates to leave in place anyway. */
  keep?: (v: OwnedVip) => boolean;
}

const sameVip = (a: { ifname: string; address: string; prefix: number }, b: { ifname: string; address: string; prefix: number }) =>
  a.ifname === b.ifname && a.address === b.address && a.prefix === b.prefix;

export class VipManager {
  readonly stateFile: string;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly nl: Netlink;
  /** Interfaces (ifindex) whose promote_secondaries we have seen on or turned on. */
  private readonly promoted = new Set<number>();

  constructor(private readonly o: VipManagerOptions = {}) {
    this.stateFile = o.stateFile ?? join(process.env.CARP_RUN_DIR || "/run/carp", "carp.sock.vips.json");
    this.nl = Netlink.for(o.netns);
  }

  private pending = 0;

  /**
   * Serializes state-file read-modify-write cycles. With nothing pending, `fn` starts at once, so a
   * takeover's netlink add happens in the caller's turn rather than a microtask later.
   */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    let next: Promise<T>;
    if (this.pending++ > 0) next = this.chain.then(fn);
    else {
      try {
        next = fn();
      } catch (e) {
        next = Promise.reject(e);
      }
    }
    this.chain = next.catch(() => undefined).finally(() => this.pending--);
    return next;
  }

  // The state file is a few hundred bytes on tmpfs (/run): synchronous I/O, tens of microseconds warm but
  // ~1.6 ms cold, so the takeover path (addNow) writes it after its turn, behind the advert and GARP/NA.
  private async readState(): Promise<OwnedVip[]> {
    try {
      const j = JSON.parse(readFileSync(this.stateFile, "utf8")) as { vips?: OwnedVip[] };
      return Array.isArray(j.vips) ? j.vips : [];
    } catch {
      return [];
    }
  }

  private dirMade = false;
  private async writeState(vips: OwnedVip[]): Promise<void> {
    if (!this.dirMade) mkdirSync(dirname(this.stateFile), { recursive: true });
    this.dirMade = true;
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ vips }, null, 1) + "\n");
    renameSync(tmp, this.stateFile);
  }

  /** The ifindex of `ifname`, with promote_secondaries turned on when an IPv4 VIP is about to be added. */
  private resolve(ifname: string, context: string, forV4: boolean): HostResult<number> {
    const l = this.nl.link(ifname);
    if (!l.ok) return { ok: false, code: l.code, error: l.code === "ENODEV" ? `${context}: interface ${ifname} not found` : `${context}: ${l.error}` };
    if (forV4 && l.value.promoteSecondaries === false && !this.promoted.has(l.value.ifindex)) {
      // See the header: without this, deleting one vhid's VIP can flush another vhid's VIP.
      const p = this.nl.setPromoteSecondaries(l.value.ifindex, true);
      if (!p.ok) return { ok: false, code: p.code, error: `${context}: enable promote_secondaries on ${ifname}: ${p.error}` };
    }
    if (forV4) this.promoted.add(l.value.ifindex);
    return { ok: true, value: l.value.ifindex };
  }

  /** One address into the kernel: value true = added, false = it was already there. */
  private addOne(ifname: string, ifindex: number, vhid: number, vip: VipAddress): HostResult<boolean> {
    const r = this.nl.addAddress(ifindex, {
      family: vip.family,
      address: vip.address,
      prefix: vip.prefix,
      label: vip.family === 4 ? vipLabel(ifname, vhid) : undefined,
      nodad: vip.family === 6,
    });
    if (r.ok) return { ok: true, value: true };
    if (r.code === "EEXIST") return { ok: true, value: false };
    return { ok: false, code: r.code, error: `add ${vip.address}/${vip.prefix} to ${ifname}: ${r.error.replace(/^[^:]*: /, "")}` };
  }

  private removeOne(ifname: string, ifindex: number, vip: Pick<VipAddress, "address" | "prefix">): HostResult<boolean> {
    const family = vip.address.includes(":") ? 6 : 4;
    const r = this.nl.deleteAddress(ifindex, { family, address: vip.address, prefix: vip.prefix });
    if (r.ok) return { ok: true, value: true };
    if (r.code === "EADDRNOTAVAIL") return { ok: true, value: false };
    return { ok: false, code: r.code, error: `remove ${vip.address}/${vip.prefix} from ${ifname}: ${r.error.replace(/^[^:]*: /, "")}` };
  }

  private async record(ifname: string, vhid: number, vips: VipAddress[]): Promise<string | null> {
    if (vips.length === 0) return null;
    const state = await this.readState();
    for (const v of vips) {
      const entry: OwnedVip = { ifname, vhid, address: v.address, prefix: v.prefix, family: v.family };
      if (!state.some((x) => sameVip(x, entry))) state.push(entry);
    }
    try {
      await this.writeState(state);
      return null;
    } catch (e) {
      return `record VIPs in ${this.stateFile}: ${(e as Error).message}`;
    }
  }

  private async forget(ifname: string, vips: Array<Pick<VipAddress, "address" | "prefix">>): Promise<void> {
    if (vips.length === 0) return;
    const state = await this.readState();
    const left = state.filter((s) => !vips.some((v) => sameVip(s, { ifname, ...v })));
    // A failed write only costs a no-op removal later: the addresses are gone.
    if (left.length !== state.length) await this.writeState(left).catch(() => undefined);
  }

  /** Adds a VIP; success if it is already there. `value` is true when we actually added it. */
  add(ifname: string, vhid: number, vip: VipAddress): Promise<HostResult<boolean>> {
    return this.addAll(ifname, vhid, [vip]).then((r) => r[0]);
  }

  /**
   * Adds every VIP of a vhid, each confirmed by the kernel before the next. Per-address results, same
   * meaning as add(): value true = we added it, false = it was already there. Resolves once the added
   * ones are also recorded in the state file (a failed record fails them with EIO).
   */
  async addAll(ifname: string, vhid: number, vips: VipAddress[]): Promise<Array<HostResult<boolean>>> {
    const { results, recorded } = this.addNow(ifname, vhid, vips);
    const err = await recorded;
    const added = vips.filter((_, i) => results[i].ok && (results[i] as { value: boolean }).value);
    if (err) return results.map((r, i) => (added.includes(vips[i]) ? { ok: false as const, code: "EIO", error: err } : r));
    return results;
  }

  /**
   * The takeover path: the netlink adds happen now, in the caller's turn (the kernel's ACK says the
   * address exists), and their record in the state file is written after the caller's turn (setImmediate:
   * behind the advert and the GARP/NA, off the takeover's critical path). `recorded` resolves with an
   * error line if that write failed, else null. A crash in between leaves an IPv4 VIP that the next start
   * still recognises by its label; the window for an IPv6 VIP is that one turn.
   */
  addNow(ifname: string, vhid: number, vips: VipAddress[]): { results: Array<HostResult<boolean>>; recorded: Promise<string | null> } {
    const ix = this.resolve(ifname, `add VIPs to ${ifname}`, vips.some((v) => v.family === 4));
    if (!ix.ok) return { results: vips.map(() => ix), recorded: Promise.resolve(null) };
    const results = vips.map((v) => this.addOne(ifname, ix.value, vhid, v));
    const added = vips.filter((_, i) => results[i].ok && (results[i] as { value: boolean }).value);
    if (added.length === 0) return { results, recorded: Promise.resolve(null) };
    const turn = new Promise<void>((r) => setImmediate(r));
    return { results, recorded: this.serial(() => turn.then(() => this.record(ifname, vhid, added))) };
  }

  /**
   * Removes every VIP given; absent ones are success (value false). The netlink deletes happen in the
   * caller's turn; the promise resolves once the state file forgot them.
   */
  async removeAll(ifname: string, vips: Array<Pick<VipAddress, "address" | "prefix">>): Promise<Array<HostResult<boolean>>> {
    const ix = this.resolve(ifname, `remove VIPs from ${ifname}`, false);
    if (!ix.ok) return vips.map(() => ix);
    const out = vips.map((v) => this.removeOne(ifname, ix.value, v));
    await this.serial(() => this.forget(ifname, vips.filter((_, i) => out[i].ok)));
    return out;
  }

  /** Removes a VIP; success if it is absent. `value` is true when we actually removed it. */
  remove(ifname: string, vip: Pick<VipAddress, "address" | "prefix">): Promise<HostResult<boolean>> {
    return this.removeAll(ifname, [vip]).then((r) => r[0]);
  }

  /** Is this VIP currently configured on the interface? */
  async present(ifname: string, vip: Pick<VipAddress, "address" | "prefix">): Promise<HostResult<boolean>> {
    const r = await listAddresses(this.o, ifname);
    if (!r.ok) return r;
    return { ok: true, value: r.value.some((a) => a.address === vip.address && a.prefix === vip.prefix) };
  }

  /** Our VIPs that are present now: labelled ones plus those in the state file. */
  async list(ifname?: string): Promise<HostResult<OwnedVip[]>> {
    const r = await listAddresses(this.o, ifname);
    if (!r.ok) return r;
    const state = await this.readState();
    const out: OwnedVip[] = [];
    for (const a of r.value) {
      const fromLabel = a.family === 4 ? vhidFromLabel(a.ifname, a.label) : undefined;
      const rec = state.find((s) => sameVip(s, a));
      const vhid = fromLabel ?? rec?.vhid;
      if (vhid !== undefined) out.push({ ifname: a.ifname, vhid, address: a.address, prefix: a.prefix, family: a.family });
    }
    return { ok: true, value: out };
  }

  /**
   * Startup cleanup: removes VIPs this instance left behind (a crash): those its state file lists, and
   * labelled ones of its `own` vhids. A labelled VIP of any other vhid belongs to another instance on
   * this host (one process per vhid, ucarp-style) and is left alone, as is anything `keep` accepts.
   * Returns what was removed; per-address failures are collected, not fatal.
   */
  async removeStale(scope: StaleScope = {}): Promise<HostResult<{ removed: OwnedVip[]; errors: string[] }>> {
    const l = await this.list();
    if (!l.ok) return l;
    const state = await this.readState();
    const own = new Set((scope.own ?? []).map((o) => `${o.vhid}@${o.ifname}`));
    const candidates = l.value.filter((v) => (state.some((s) => sameVip(s, v)) || own.has(`${v.vhid}@${v.ifname}`)) && !scope.keep?.(v));
    const removed: OwnedVip[] = [];
    const errors: string[] = [];
    for (const v of candidates) {
      const r = await this.remove(v.ifname, v);
      if (r.ok) removed.push(v);
      else errors.push(r.error);
    }
    // Forget records of addresses that are gone anyway.
    await this.serial(async () => {
      const now = await listAddresses(this.o);
      if (!now.ok) return;
      const state = await this.readState();
      const left = state.filter((s) => now.value.some((a) => sameVip(a, s)));
      if (left.length !== state.length) await this.writeState(left).catch(() => undefined);
    });
    return { ok: true, value: { removed, errors } };
  }
}

export interface AddressEvent {
  kind: "added" | "removed";
  ifindex: number;
  ifname: string;
  address: string;
  prefix: number;
  family: 4 | 6;
  /** When the event was read from netlink (ms since the epoch). */
  ts?: number;
}

const keyOf = (e: { ifindex: number; address: string; prefix: number }) => `${e.ifindex} ${e.address}/${e.prefix}`;

/**
 * Address change events from the process's netlink subscription (NetlinkEvents, shared with the link
 * watchers). Emits "added"/"removed" (AddressEvent) and "error" (string). If the kernel drops events
 * (ENOBUFS), the watcher lists the addresses again and emits the differences as events.
 */
export class VipWatcher extends EventEmitter {
  private sub: NetlinkEvents | null = null;
  private readonly known = new Map<string, AddressEvent>();
  private readonly onEvent = (e: NetlinkEvent) => this.handle(e);

  /** rcvbuf: the subscription's socket buffer if this watcher opens it (tests use a small one). */
  constructor(private readonly o: IpOptions & { rcvbuf?: number } = {}) {
    super();
  }

  /**
   * Subscribes; resolves with null, or with why it could not (never emits "error" for that, so a caller
   * without a listener yet cannot crash). `_settleMs` is accepted for compatibility and unused: the
   * subscription is in place when this returns.
   */
  async start(_settleMs?: number): Promise<string | null> {
    if (this.sub) return null;
    const s = NetlinkEvents.acquire(this.o.netns, this.o.rcvbuf);
    if (!s.ok) return `address events: ${s.error}`;
    this.sub = s.value;
    this.sub.on("event", this.onEvent);
    this.snapshot();
    return null;
  }

  /** The netlink subscription's fd (shared), or null when not running. */
  get subscriptionFd(): number | null {
    return this.sub ? this.sub.fd : null;
  }

  private snapshot(): AddressEvent[] {
    const now = new Map<string, AddressEvent>();
    const l = Netlink.for(this.o.netns).addresses();
    if (!l.ok) {
      this.emit("error", `address resync: ${l.error}`);
      return [];
    }
    for (const a of l.value) {
      const ev: AddressEvent = { kind: "added", ifindex: a.ifindex, ifname: this.sub?.nameOf(a.ifindex) ?? `if${a.ifindex}`, address: a.address, prefix: a.prefix, family: a.family };
      now.set(keyOf(ev), ev);
    }
    const diff: AddressEvent[] = [];
    for (const [k, e] of this.known) if (!now.has(k)) diff.push({ ...e, kind: "removed" });
    for (const [k, e] of now) if (!this.known.has(k)) diff.push(e);
    this.known.clear();
    for (const [k, e] of now) this.known.set(k, e);
    return diff;
  }

  private handle(e: NetlinkEvent): void {
    if (e.type === "overrun") {
      for (const d of this.snapshot()) this.emit(d.kind, { ...d, ts: e.ts });
      return;
    }
    if (e.type !== "address") return;
    const a = e.address;
    const ev: AddressEvent = { kind: e.kind === "new" ? "added" : "removed", ifindex: a.ifindex, ifname: e.ifname, address: a.address, prefix: a.prefix, family: a.family, ts: e.ts };
    if (ev.kind === "added") this.known.set(keyOf(ev), ev);
    else this.known.delete(keyOf(ev));
    this.emit(ev.kind, ev);
  }

  stop(): void {
    if (!this.sub) return;
    this.sub.off("event", this.onEvent);
    this.sub.release();
    this.sub = null;
    this.known.clear();
  }
}
