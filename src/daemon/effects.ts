// The effect executor: runs the core's effects of each vhid one after another on that vhid's chain, in
// the order the core queued them — VIPs added (awaited: the VIP manager resolves once the address
// exists), then GARP/NA, then hooks and devd; on step-down the VIPs go before the hooks. Every VIP
// operation re-checks the vhid's state when it runs, so an add that was queued (or a re-add that started)
// while MASTER does not complete after a step-down, and a remove does not undo a newer takeover.
import type { CarpState, ClusterInput, Effect } from "../core/index.js";
import type { IpFamily } from "../protocol/types.js";
import type { VipAddress } from "../host/types.js";
import type { VipManager } from "../host/vips.js";
import { type IfRt, type VhidRt, vipInterface } from "./interfaces.js";
import type { Logger } from "./log.js";

export interface EffectHost {
  vips: VipManager;
  log: Logger;
  /** The vhid's state in the core now (undefined once removed). */
  state(rt: VhidRt): CarpState | undefined;
  /** Feeds a result back to the core (and runs what it decides). */
  feed(input: ClusterInput): void;
}

const name = (ifr: IfRt, rt: VhidRt) => `vhid ${rt.cfg.vhid}@${ifr.name}`;

export class EffectExecutor {
  /** garpRefresh timers of MASTER vhids. */
  private readonly refresh = new Map<VhidRt, NodeJS.Timeout>();

  constructor(private readonly host: EffectHost) {}

  /**
   * After a takeover's GARP/NA: garpRepeat - 1 more rounds, 1 s apart (keepalived garp_master_repeat with
   * garp_master_delay), and every garpRefresh ms while MASTER (keepalived garp_master_refresh). Each round
   * runs only while the vhid is still MASTER; the refresh timer ends itself after a step-down.
   */
  private afterTakeover(ifr: IfRt, rt: VhidRt, fams: IpFamily[], repeat = true): void {
    const again = (why: string) => {
      if (this.host.state(rt) !== "MASTER") return false;
      const ann = (rt as VhidRt & { vmac?: { announcer: IfRt["announcer"] } }).vmac?.announcer ?? ifr.announcer;
      for (const err of ann.announce(rt.cfg.addresses, fams)) this.host.log.warn(err);
      this.host.log.debug(`${name(ifr, rt)}: announced (${why})`);
      return true;
    };
    if (repeat) for (let i = 1; i < (rt.cfg.garpRepeat ?? 1); i++) setTimeout(() => again(`repeat ${i + 1}`), i * 1000).unref();
    const every = rt.cfg.garpRefreshMs ?? 0;
    if (every > 0 && !this.refresh.has(rt)) {
      const t = setInterval(() => {
        if (!again("refresh")) {
          clearInterval(t);
          this.refresh.delete(rt);
        }
      }, every);
      t.unref();
      this.refresh.set(rt, t);
    }
  }

  /** Reload changed garpRefresh: the running refresh timer stops; a MASTER starts one at the new period. */
  garpRefreshChanged(ifr: IfRt, rt: VhidRt): void {
    const t = this.refresh.get(rt);
    if (t) clearInterval(t);
    this.refresh.delete(rt);
    if (this.host.state(rt) !== "MASTER") return;
    const fams: IpFamily[] = [...new Set(rt.cfg.addresses.map((a) => a.family))];
    this.afterTakeover(ifr, rt, fams, false);
  }

  /** Jobs queued or running per vhid. */
  private readonly busy = new WeakMap<VhidRt, number>();

  /**
   * Queues `job` on the vhid's chain (after everything queued before it). On an idle chain the job starts
   * at once: the synchronous part of a takeover (the netlink add of the VIPs) runs before the caller goes
   * on to log the transition, not a microtask later behind that work.
   */
  after(rt: VhidRt, job: () => unknown): Promise<unknown> {
    const n = this.busy.get(rt) ?? 0;
    this.busy.set(rt, n + 1);
    let started: Promise<unknown>;
    if (n > 0) started = rt.chain.then(job);
    else {
      try {
        started = Promise.resolve(job());
      } catch (e) {
        started = Promise.reject(e);
      }
    }
    const p = started
      .catch((e) => this.host.log.error(`vhid ${rt.cfg.vhid}@${rt.ref.ifname}: ${(e as Error).message}`))
      .finally(() => this.busy.set(rt, (this.busy.get(rt) ?? 1) - 1));
    rt.chain = p;
    return p;
  }

  run(ifr: IfRt, rt: VhidRt, e: Effect): void {
    if (e.kind === "vips") {
      // Virtual MAC mode: the macvlan is up before the VIPs go on it, down after they left.
      if (rt.vmac && e.op === "add") this.after(rt, () => this.vmacLink(rt, true));
      if (rt.cfg.manageVip) this.after(rt, () => (e.op === "add" ? this.addAll(ifr, rt) : this.removeAll(ifr, rt)));
      if (rt.vmac && e.op === "remove") this.after(rt, () => this.vmacLink(rt, false));
      return;
    }
    this.after(rt, () => {
      if (this.host.state(rt) !== "MASTER") return;
      // ucarp peers only advertise over IPv4, but our IPv6 VIPs of that vhid still need their NA.
      const fams: IpFamily[] = rt.cfg.semantics === "ucarp" ? [4, 6] : e.families;
      for (const err of (rt.vmac?.announcer ?? ifr.announcer).announce(rt.cfg.addresses, fams)) this.host.log.warn(err);
      this.host.log.debug(`${name(ifr, rt)}: announced (${e.why})`);
      if (e.why === "takeover") this.afterTakeover(ifr, rt, fams);
    });
  }

  /** A VIP of a MASTER vhid vanished (someone ran `ip addr del`): put it back, then GARP/NA for it. */
  readd(ifr: IfRt, rt: VhidRt, vip: VipAddress): void {
    this.after(rt, async () => {
      if (this.host.state(rt) !== "MASTER") return;
      const r = await this.host.vips.add(vipInterface(ifr, rt), rt.cfg.vhid, vip);
      if (!r.ok) {
        this.host.log.error(`${name(ifr, rt)}: re-adding ${vip.address}: ${r.error}`, { event: "vip", op: "add", address: vip.address });
        this.failed(rt, `${vip.address}/${vip.prefix}: ${r.error}`);
        return;
      }
      if (!r.value) return;
      this.host.log.warn(`${name(ifr, rt)}: VIP ${vip.address}/${vip.prefix} vanished while MASTER; re-added`, { event: "vipReadded", interface: ifr.name, vhid: rt.cfg.vhid, address: vip.address });
      if (this.host.state(rt) !== "MASTER") return this.removeAll(ifr, rt); // stepped down while adding
      for (const err of (rt.vmac?.announcer ?? ifr.announcer).announce([vip], [vip.family])) this.host.log.warn(err);
    });
  }

  /**
   * The takeover's VIPs: added in this turn (netlink, each confirmed by the kernel), so the GARP/NA queued
   * behind this job follows at once; the state file's record is written after this turn, and a failed
   * record fails the vhid then.
   */
  private addAll(ifr: IfRt, rt: VhidRt): void {
    if (this.host.state(rt) !== "MASTER") return; // stepped down before: the remove follows
    const addrs = rt.cfg.addresses;
    const { results, recorded } = this.host.vips.addNow(vipInterface(ifr, rt), rt.cfg.vhid, addrs);
    let error: string | null = null;
    results.forEach((r, i) => {
      const a = addrs[i];
      if (!r.ok) {
        error ??= `${a.address}/${a.prefix}: ${r.error}`;
        this.host.log.error(`${name(ifr, rt)}: ${r.error}`, { event: "vip", op: "add", address: a.address });
      } else if (r.value) this.host.log.debug(`${name(ifr, rt)}: added ${a.address}/${a.prefix}`, { event: "vip", op: "add", address: a.address });
    });
    if (error) return this.failed(rt, error);
    void recorded.then((err) => {
      if (err) {
        this.host.log.error(`${name(ifr, rt)}: ${err}`, { event: "vip", op: "add" });
        if (this.host.state(rt) === "MASTER") this.failed(rt, err);
        return;
      }
      if (rt.vipError !== null) {
        rt.vipError = null;
        this.host.feed({ kind: "vipResult", ref: rt.ref, op: "add", ok: true });
      }
    });
  }

  /** The VIPs go in this turn (netlink); the promise resolves once the state file forgot them. */
  private async removeAll(ifr: IfRt, rt: VhidRt): Promise<void> {
    if (this.host.state(rt) === "MASTER") return; // MASTER again: its add follows on this chain
    const addrs = rt.cfg.addresses;
    const out = await this.host.vips.removeAll(vipInterface(ifr, rt), addrs);
    out.forEach((r, i) => {
      const a = addrs[i];
      if (!r.ok) this.host.log.error(`${name(ifr, rt)}: ${r.error}`, { event: "vip", op: "remove", address: a.address });
      else if (r.value) this.host.log.debug(`${name(ifr, rt)}: removed ${a.address}/${a.prefix}`, { event: "vip", op: "remove", address: a.address });
    });
  }

  /** Sets the vhid's macvlan up (still MASTER) or down (no longer MASTER); a newer transition wins. */
  private vmacLink(rt: VhidRt, up: boolean): void {
    if ((this.host.state(rt) === "MASTER") !== up) return;
    const r = rt.vmac!.link.setUp(up);
    if (!r.ok) this.host.log.error(`vhid ${rt.cfg.vhid}@${rt.ref.ifname}: ${r.error}`, { event: "vmac", up });
  }

  /** An address that cannot be added demotes the vhid (a named cause in the ledger) and shows in status. */
  private failed(rt: VhidRt, error: string): void {
    rt.vipError = error;
    this.host.feed({ kind: "vipResult", ref: rt.ref, op: "add", ok: false, error });
  }
}
