// CarpNode: the running daemon (and the embeddable API), a thin lifecycle shell over one sans-I/O
// Cluster holding every vhid of the process (src/core). Inputs go in — packets from the receive path
// (receive.ts), link changes, commands, VIP results — and after each the queues are drained in the
// order the core decided: adverts are encoded and sent (transmit.ts), effects run per vhid in order
// (effects.ts), events become logs, devd actions and hooks (after the vhid's effects). One timer at the
// core's pollTimeout() drives its deadlines (timer.ts). Reload is planned by reload.ts, status by report.ts.
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

// The core's files directly, not core/index.js: the simulator it re-exports is not the daemon's (start-up time).
import { Cluster } from "../core/cluster.js";
import { MAX_SKEW } from "../core/timing.js";
import type { Effect, Event, Transmit, VhidRef } from "../core/types.js";
import type { ReceivedPacket } from "../host/rawsock.js";
import { LinkWatcher } from "../host/link.js";
import { VipManager, VipWatcher, type AddressEvent } from "../host/vips.js";
import { HookRunner, faultInvocations, runScript, type HookResult } from "../host/hooks.js";
import { DevdRunner, eventsForTransition, ifnetEvent, parseDevdConf } from "../host/devd.js";
import { NetlinkEvents, type NetlinkEvent } from "../host/netlink.js";
import { checkSysctls, describeCheck, fixSysctls, vmacRules } from "../host/sysctl.js";
import { VirtualMacLink, VmacFrameSender, vmacName } from "../host/vmac.js";
import type { Config, VhidConfig } from "./config.js";
import { EffectExecutor } from "./effects.js";
import { EventLog } from "./events.js";
import type { MetricsInput, MetricsServer } from "./metrics.js";
import { buildAuth, closeInterface, ensureSockets, newVhidRt, ownAddresses, vhidParams, vipInterface, type IfRt, type VhidRt } from "./interfaces.js";
import { Announcer, interfaceInfo } from "./l2.js";
import { Logger, epochMs, type LogEntry } from "./log.js";
import { receivePackets } from "./receive.js";
import { ReplayStore } from "./replay.js";
import { removeVipsNow } from "./abort.js";
import type { CheckRunner } from "./checks.js";
import { planReload, vhidKey } from "./reload.js";
import { findStatus, ledgerReport, statusLine, vhidReport } from "./report.js";
import { SyslogWriter } from "./syslog.js";
import { CoreTimer, RxClock, realClock, waitUntil, type Wake } from "./timer.js";
import { encodeAdvert, sendAdvert } from "./transmit.js";
import { CarpNodeError, type CarpNodeOptions, type CarpStats, type NodeStatus, type SetRequest, type TransitionEvent, type VhidReport } from "./types.js";

export { CarpNodeError } from "./types.js";
export type { CheckReport } from "./checks.js";
export type { CarpNodeOptions, CarpStats, LedgerEntry, NodeStatus, SetRequest, TransitionEvent, VhidReport } from "./types.js";

/** Big advert passes wake up to 5 ms early, 0.02 ms per advert (see timer.ts). */
const ADVERT_LEAD_MS = 5;
const ADVERT_STEP_MS = 0.02;
/** Adverts due within this many ms of a pass go out in it (timer.ts coalesceMs: one wake-up a second for vhids that took over a few ms apart). */
const ADVERT_COALESCE_MS = 10;
/** A master-down deadline wakes this early and busy-waits the rest (timer.ts), for a prompt takeover. */
const MASTER_DOWN_SPIN_MS = 1.5;

const zeroStats = (): CarpStats => ({
  ipackets: 0, ipackets6: 0, badlen: 0, badsum: 0, badver: 0, badttl: 0, badvhid: 0, badauth: 0,
  opackets: 0, opackets6: 0, senderr: 0, ownloops: 0, badreplay: 0, vrrp: 0,
});

const randomCounter = (): bigint => randomBytes(8).readBigUInt64BE(0);

export interface CarpNodeEvents {
  transition: [TransitionEvent];
  log: [LogEntry];
  hook: [HookResult];
  stopped: [];
}

export class CarpNode extends EventEmitter<CarpNodeEvents> {
  config: Config;
  readonly log: Logger;
  readonly carpstats: CarpStats = zeroStats();
  private readonly core = new Cluster();
  private readonly ifs = new Map<string, IfRt>();
  private readonly vips: VipManager;
  private readonly vipWatcher = new VipWatcher();
  private readonly hooks: HookRunner;
  private readonly effects: EffectExecutor;
  private readonly timer: CoreTimer;
  private readonly rxClock: RxClock;
  private devd: DevdRunner | null = null;
  private started = false;
  private stopping = false;
  private startedAt = 0;
  private readonly now: () => number;
  private syslog: SyslogWriter | null = null;
  /** antiReplay counters across restarts (null when no vhid uses antiReplay). */
  private replay: ReplayStore | null = null;
  private replayError: string | null = null;
  /** VRRP routers already reported, "<ifname> <source> <vrid>". */
  private readonly vrrpSeen = new Set<string>();
  private aborted = false;
  private checks: CheckRunner | null = null;
  /** Virtual MAC mode: the kernel link state last seen per macvlan ifindex, and the subscription. */
  private readonly vmacUp = new Map<number, boolean>();
  private vmacEvents: NetlinkEvents | null = null;
  /** `carp events`: every transition, demotion, fault and VIP change, numbered, with a replay buffer. */
  readonly events = new EventLog();
  private metrics: MetricsServer | null = null;
  /** Vhids that cannot be MASTER now (link down, demoted to the maximum), and their fault-script chains. */
  private readonly faults = new Map<string, { reason: string | null; chain: Promise<unknown> }>();

  constructor(config: Config, private readonly opts: CarpNodeOptions = {}) {
    super();
    this.config = config;
    this.now = opts.now ?? (() => performance.now());
    this.timer = new CoreTimer(this.core, (w) => this.onWake(w), realClock(this.now), { perAdvertMs: ADVERT_STEP_MS, maxLeadMs: ADVERT_LEAD_MS, spinMs: MASTER_DOWN_SPIN_MS, coalesceMs: ADVERT_COALESCE_MS });
    this.rxClock = new RxClock(this.now);
    this.log = new Logger(config.logFormat, config.debug, opts.logSink, (e) => {
      this.syslog?.write(e.level, e.msg);
      this.emit("log", e);
    });
    this.openSyslog(config.facility);
    this.vips = new VipManager({ stateFile: opts.vipStateFile ?? `${config.control}.vips.json` });
    this.hooks = new HookRunner({ onResult: (r) => this.onHookResult(r) });
    this.effects = new EffectExecutor({
      vips: this.vips,
      log: this.log,
      state: (rt) => this.core.get(rt.ref)?.state,
      feed: (input) => {
        if (!this.started || this.stopping) return;
        this.core.handleInput(input, this.now());
        this.pump();
      },
    });
  }

  /** --facility: log lines also go to syslog (besides stdout), unless "none" or no syslog socket. */
  private openSyslog(facility: string): void {
    const w = SyslogWriter.open(facility, { socket: this.opts.syslogSocket });
    if ("skipped" in w) {
      if (facility !== "none") this.log.debug(`syslog output off: ${w.skipped}`);
      return;
    }
    this.syslog = w;
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /** Validates the host side, opens sockets and starts every vhid. Throws CarpNodeError. */
  async start(): Promise<void> {
    if (this.started) return;
    this.startedAt = epochMs();
    const cfg = this.config;
    if (cfg.devdConf !== undefined) this.devd = this.loadDevd(cfg.devdConf);

    // Interfaces first: a typo should be a one-line usage error, not a socket failure.
    const byIf = new Map<string, VhidConfig[]>();
    for (const v of cfg.vhids) byIf.set(v.interface, [...(byIf.get(v.interface) ?? []), v]);
    const infos = new Map<string, { mac: string | null; addresses: string[] }>();
    for (const ifname of byIf.keys()) infos.set(ifname, await this.interfaceFacts(ifname));
    for (const v of cfg.vhids) buildAuth(v); // throws on address sets a peer type cannot hash

    // VIPs of ours left behind by a crash (this instance's state file, or labels of our vhids) go before
    // anything else. Another carp instance on this host (ucarp-style, one process per vhid) keeps its VIPs.
    const stale = await this.vips.removeStale({ own: cfg.vhids.flatMap((v) => [{ ifname: v.interface, vhid: v.vhid }, ...(v.vmac ? [{ ifname: vmacName(v), vhid: v.vhid }] : [])]) });
    if (stale.ok) for (const r of stale.value.removed) this.log.info(`removed stale VIP ${r.address}/${r.prefix} from ${r.ifname} (vhid ${r.vhid})`, { event: "staleVip", interface: r.ifname, vhid: r.vhid, address: r.address });
    else if (stale.code === "EPERM") throw new CarpNodeError(`${stale.error}`, "usage");

    if (cfg.metrics) await this.startMetrics(cfg);
    try {
      for (const [ifname, list] of byIf) await this.openInterface(ifname, list, infos.get(ifname)!);
      // Listeners before start(): a monitor error during start-up must not be an unhandled 'error'.
      this.vipWatcher.on("removed", (ev: AddressEvent) => this.onAddressRemoved(ev));
      this.vipWatcher.on("added", (ev: AddressEvent) => this.publishVip(ev, "add"));
      this.vipWatcher.on("error", (msg: string) => this.log.warn(msg));
      const why = await this.vipWatcher.start().catch((e: Error) => e.message);
      if (why) this.log.warn(`vanished VIPs will not be noticed: ${why}`);
    } catch (e) {
      this.closeAll();
      throw e;
    }
    this.started = true;

    const now = this.now();
    if (cfg.demotion !== 0) this.core.handleInput({ kind: "demotion", source: "config", value: cfg.demotion, reason: "configured demotion" }, now);
    for (const ifr of this.ifs.values()) for (const rt of ifr.vhids.values()) this.startVhid(ifr, rt, now);
    this.pump();
    await this.startChecks(cfg);
  }

  /**
   * Health checks (checks.ts): each one a named cause in the demotion ledger. Loaded only when checks are
   * configured (with node:fs/promises and node:child_process), after the vhids entered BACKUP.
   */
  private async startChecks(cfg: Config): Promise<void> {
    if (!cfg.checks?.length) return;
    const { CheckRunner } = await import("./checks.js");
    if (this.stopping) return;
    this.checks = new CheckRunner(cfg, {
      demotion: (source, value, reason, group) => {
        if (!this.started || this.stopping) return;
        const err = this.core.handleInput({ kind: "demotion", source, value, reason, ...(group !== undefined ? { group } : {}) }, this.now());
        if (err) this.log.warn(`${source}: ${err}`);
        this.pump();
      },
      log: (level, msg, fields) => {
        this.log.log(level, msg, fields);
        // An up/down change of a check (the runner logs it with `up`) goes to `carp events` too.
        if (fields.event === "check" && typeof fields.up === "boolean") this.events.publish({ type: "check", check: String(fields.check), up: fields.up, detail: msg });
      },
    }, {
      // Keep script spawns (a fork on the main thread) out of the 15 ms before an advert is due.
      gate: () => {
        const next = this.core.nextAdvertise();
        if (next === undefined) return 0;
        const d = next - this.now();
        return d > -2 && d < 15 ? Math.ceil(d) + 3 : 0;
      },
    });
    this.checks.start();
  }

  /**
   * `carp set --demote ±N` without --vhid (net.inet.carp.demotion: the "user" ledger source) or with
   * --group NAME (OpenBSD carpdemote: source "group:NAME", only the vhids of that group).
   */
  demote(req: { group?: string; delta: number }): NodeStatus {
    if (!Number.isInteger(req.delta)) throw new CarpNodeError("--demote: must be an integer", "usage");
    if (req.group !== undefined && this.core.groupSize(req.group) === 0) throw new CarpNodeError(`--group: no vhid is in group ${JSON.stringify(req.group)}`, "usage");
    const source = req.group !== undefined ? `group:${req.group}` : "user";
    const reason = req.group !== undefined ? `carp set --group ${req.group} --demote` : "carp set --demote";
    const err = this.core.handleInput({ kind: "demotion", source, delta: req.delta, reason, ...(req.group !== undefined ? { group: req.group } : {}) }, this.now());
    if (err) throw new CarpNodeError(`--demote: ${err}`, "usage");
    this.pump();
    this.log.info(`${req.group !== undefined ? `group ${req.group}` : "global"} demotion ${req.delta >= 0 ? "+" : ""}${req.delta}`, { event: "set", group: req.group });
    return this.status();
  }

  private async interfaceFacts(ifname: string): Promise<{ mac: string | null; addresses: string[] }> {
    const info = await interfaceInfo(ifname);
    if (!info.ok) {
      if (info.code === "ENODEV") throw new CarpNodeError(`--interface: no such interface ${JSON.stringify(ifname)}`, "usage");
      throw new CarpNodeError(info.error, "runtime");
    }
    return { mac: info.value.mac, addresses: info.value.addresses.map((a) => a.address) };
  }

  private loadDevd(path: string) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      throw new CarpNodeError(`--devd-conf: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, "usage");
    }
    const d = parseDevdConf(text);
    if (!d.ok) throw new CarpNodeError(`--devd-conf ${path}: ${d.error}`, "usage");
    for (const n of d.value.notes) this.log.debug(`devd.conf: ${n}`);
    return new DevdRunner(d.value, {
      onResult: (r) => {
        const ok = r.code === 0 && !r.error;
        this.log.log(ok ? "info" : "warn", `devd action "${r.command}" for ${r.event.system} ${r.event.subsystem} ${r.event.type}: ${r.error ?? (r.timedOut ? "timed out" : `exit ${r.code ?? r.signal}`)}`, { event: "devd", command: r.command, code: r.code });
      },
    });
  }

  private async openInterface(ifname: string, list: VhidConfig[], facts: { mac: string | null; addresses: string[] }): Promise<IfRt> {
    const link = new LinkWatcher(ifname, { ignoreIfState: list.every((v) => v.ignoreIfState) });
    const ifr: IfRt = { name: ifname, vhids: new Map(), socks: {}, link, announcer: new Announcer(ifname, facts.mac), own: ownAddresses(facts.addresses, list) };
    this.ifs.set(ifname, ifr);
    for (const v of list) ifr.vhids.set(v.vhid, newVhidRt(v));
    for (const rt of ifr.vhids.values()) this.attachVmac(ifr, rt);
    ensureSockets(ifr, (i, b) => this.onPackets(i, b));
    // Open the injection handle now, so the first GARP after a takeover does not pay for opening it.
    const pre = ifr.announcer.prepare(list.flatMap((v) => v.addresses));
    if (pre) this.log.warn(pre);
    link.on("error", (m: string) => this.log.warn(m)); // before start(): see vipWatcher
    const st = await link.start();
    if (!st.up) this.log.warn(`${ifname}: link is down (${st.reason}); vhids wait in INIT`, { event: "link", interface: ifname, up: false });
    link.on("change", (s) => {
      this.log.info(`${ifname}: link ${s.up ? "up" : `down (${s.reason})`}`, { event: "link", interface: ifname, up: s.up });
      if (!this.started || this.stopping) return;
      this.core.handleInput({ kind: "link", ifname, up: s.up }, this.now());
      this.pump();
    });
    return ifr;
  }

  private startVhid(ifr: IfRt, rt: VhidRt, now: number): void {
    const v = rt.cfg;
    // antiReplay: the counters kept by the last run (see replay.ts); a first start begins below 2^48 so the
    // counter never runs into 2^64.
    if (v.antiReplay) this.replay ??= new ReplayStore(this.opts.replayStateFile ?? `${this.config.control}.replay.json`);
    const floors = v.antiReplay ? this.replay!.floors(replayKey(rt.ref)) : undefined;
    const counter = v.antiReplay ? randomCounter() >> 16n : randomCounter();
    const r = this.core.add(ifr.name, vhidParams(v, ifr.own), { counter, linkUp: ifr.link.status.up || v.ignoreIfState, ...(floors ? { replay: floors } : {}) });
    if (!r.ok) throw new CarpNodeError(`--vhid ${v.vhid}: ${r.errors.join("; ")}`, "usage");
    this.log.info(`vhid ${v.vhid}@${ifr.name}: starting (advbase ${v.advbase} advskew ${v.advskew}${v.preempt ? " preempt" : ""}, ${v.semantics}, ${v.addresses.map((a) => `${a.address}/${a.prefix}`).join(" ")})`, { event: "start", interface: ifr.name, vhid: v.vhid });
    this.core.command(rt.ref, { op: "start" }, now);
    if (v.initialState === "master") this.core.command(rt.ref, { op: "force", state: "MASTER" }, now);
  }

  /** Graceful stop: bow-out advert from every MASTER, VIPs removed, -z downscripts, sockets closed. */
  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    const now = this.now();
    const prev = new Map<VhidRt, string>();
    for (const ifr of this.ifs.values()) for (const rt of ifr.vhids.values()) prev.set(rt, this.core.get(rt.ref)?.state ?? "INIT");
    this.stopping = true;
    for (const rt of prev.keys()) this.core.command(rt.ref, { op: "stop", graceful: true }, now);
    this.pump();
    await Promise.all([...prev].map(([rt, st]) => rt.chain.then(() => this.hooks.shutdown(rt.hook, st as "INIT" | "BACKUP" | "MASTER"))));
    // Hooks and devd actions get up to 10 s to finish (each also has its own timeout).
    let cap: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([this.hooks.idle(), this.devd?.idle(), ...[...this.faults.values()].map((f) => f.chain)]), new Promise((r) => (cap = setTimeout(r, 10_000)))]);
    clearTimeout(cap);
    this.closeAll();
    this.started = false;
    this.log.info("stopped", { event: "stopped" });
    await this.syslog?.close();
    this.syslog = null;
    this.emit("stopped");
  }

  private closeAll(): void {
    this.checks?.stop();
    this.checks = null;
    this.metrics?.close();
    this.metrics = null;
    this.timer.stop();
    for (const ifr of this.ifs.values()) {
      for (const rt of ifr.vhids.values()) this.detachVmac(rt);
      closeInterface(ifr);
    }
    this.ifs.clear();
    this.vipWatcher.stop();
  }

  // ---- virtual MAC mode ---------------------------------------------------------------------

  /** Creates (or adopts) the vhid's macvlan, checks (or fixes) its sysctls, follows its link events. Throws CarpNodeError. */
  private attachVmac(ifr: IfRt, rt: VhidRt): void {
    const v = rt.cfg;
    if (!v.vmac) return;
    const r = VirtualMacLink.ensure(ifr.name, vmacName(v), v.vhid);
    if (!r.ok) throw new CarpNodeError(`vhid ${v.vhid}@${ifr.name}: ${r.error}`, r.code === "EEXIST" ? "usage" : "runtime");
    const link = r.value;
    rt.vmac = { link, announcer: new Announcer(ifr.name, link.mac), frames: new VmacFrameSender(ifr.name, link.mac) };
    for (const e of link.quiet()) this.log.warn(e);
    this.log.info(`vhid ${v.vhid}@${ifr.name}: virtual MAC ${link.mac} on ${link.name} (${link.adopted ? "adopted from an earlier run" : "created"}), down until MASTER`, { event: "vmac", interface: ifr.name, vhid: v.vhid, carp: link.name });
    const checks = checkSysctls(vmacRules(ifr.name, link.name, v.addresses.some((a) => a.family === 6)));
    if (this.config.fixSysctls) {
      const wrong = checks.filter((c) => !c.ok && c.value !== null).map((c) => `${c.key}=${c.set} (was ${c.value})`);
      for (const e of fixSysctls(checks)) this.log.error(e);
      if (wrong.length) this.log.info(`set ${wrong.join(", ")}`, { event: "sysctl" });
    }
    for (const c of checks) if (!c.ok) this.log.warn(describeCheck(c), { event: "sysctl", key: c.key, value: c.value, set: c.set });
    if (!this.vmacEvents) {
      const ev = NetlinkEvents.acquire();
      if (!ev.ok) this.log.warn(`${link.name}: devd IFNET events will not follow the link: ${ev.error}`);
      else {
        this.vmacEvents = ev.value;
        ev.value.on("event", this.onVmacLink);
      }
    }
    this.vmacUp.set(link.ifindex, false);
  }

  private detachVmac(rt: VhidRt): void {
    if (!rt.vmac) return;
    rt.vmac.announcer.close();
    rt.vmac.frames.close();
    this.vmacUp.delete(rt.vmac.link.ifindex);
    const r = rt.vmac.link.remove();
    if (!r.ok) this.log.warn(r.error);
    rt.vmac = undefined;
    if (this.vmacUp.size === 0 && this.vmacEvents) {
      this.vmacEvents.off("event", this.onVmacLink);
      this.vmacEvents.release();
      this.vmacEvents = null;
    }
  }

  /** The kernel's link events of our macvlans become devd IFNET <carpN> LINK_UP/LINK_DOWN. */
  private readonly onVmacLink = (e: NetlinkEvent): void => {
    if (e.type !== "link" || !this.vmacUp.has(e.link.ifindex)) return;
    const up = e.kind === "new" && e.link.up && e.link.lowerUp;
    if (this.vmacUp.get(e.link.ifindex) === up) return;
    this.vmacUp.set(e.link.ifindex, up);
    this.log.debug(`${e.link.name}: link ${up ? "up" : "down"} (kernel)`, { event: "vmacLink", carp: e.link.name, up });
    const devd = this.devd;
    if (!devd) return;
    const at = [...this.ifs.values()].flatMap((i) => [...i.vhids.values()]).find((r) => r.vmac?.link.ifindex === e.link.ifindex);
    const ev = ifnetEvent(e.link.name, up);
    if (at) this.effects.after(at, () => void devd.dispatch(ev));
    else void devd.dispatch(ev);
  };

  get running(): boolean {
    return this.started && !this.stopping;
  }

  // ---- inputs ---------------------------------------------------------------------------------

  private onPackets(ifr: IfRt, batch: ReceivedPacket[]): void {
    if (!this.started || this.stopping) return;
    // The adverts count from their kernel receive time (the newest packet's), not from when we woke up.
    const now = this.now() - (batch.length ? this.rxClock.age(batch[batch.length - 1].time) : 0);
    receivePackets(ifr, batch, {
      stats: this.carpstats,
      advert: (ifname, pkt) => {
        const ref = { ifname, vhid: pkt.header.vhid };
        const before = this.core.get(ref)?.stats.badreplay ?? 0;
        this.core.handleInput({ kind: "advert", ifname, ...pkt }, now);
        this.carpstats.badreplay += (this.core.get(ref)?.stats.badreplay ?? 0) - before;
      },
      vrrp: (ifname, from, vrid, version, configured) => this.onVrrp(ifname, from, vrid, version, configured),
      vrrpPeer: (ifname, from, vrid, checksum) =>
        this.log.info(`${ifname}: VRRPv3 peer ${from} (vrid ${vrid}) uses the ${checksum === "pseudo" ? "RFC 5798 checksum (with pseudo-header)" : "VRRPv2-style checksum (no pseudo-header, keepalived v3_checksum_as_v2)"}`, { event: "vrrp-peer", interface: ifname, from, vrid, checksum }),
      drop: (ifname, reason, vhid, detail) => this.log.debug(`${ifname}: dropped advertisement (${reason}): ${detail}`, { event: "drop", interface: ifname, reason, vhid }),
    });
    this.pump();
  }

  /** A VRRP router on protocol 112: counted (carpstats vrrp); one log line per source and vrid we also use. */
  private onVrrp(ifname: string, from: string, vrid: number, version: 2 | 3, configured: boolean): void {
    const key = `${ifname} ${from} ${vrid}`;
    if (!configured) {
      this.log.debug(`${ifname}: VRRPv${version} advert from ${from} (vrid ${vrid}) ignored`, { event: "vrrp", interface: ifname, from, vrid });
      return;
    }
    if (this.vrrpSeen.has(key)) return;
    this.vrrpSeen.add(key);
    this.log.warn(`VRRP router ${from} uses vrid ${vrid} on this link (${ifname}, VRRPv${version}); vhid ${vrid} ignores its adverts`, { event: "vrrp", interface: ifname, from, vrid, version });
  }

  /** antiReplay: records counters that passed the kept ceiling (a write per REPLAY_RESERVE adverts). */
  private keepReplay(): void {
    const store = this.replay!;
    for (const ifr of this.ifs.values()) {
      for (const rt of ifr.vhids.values()) {
        if (!rt.cfg.antiReplay) continue;
        const s = this.core.get(rt.ref);
        if (!s) continue;
        const warned = s.replay.warned;
        store.update(replayKey(rt.ref), s.replay.high, warned.length ? `vhid ${rt.ref.vhid}@${rt.ref.ifname}: adverts from ${warned.join(", ")} did not carry rising counters` : null);
      }
    }
    if (store.error !== this.replayError) {
      this.replayError = store.error;
      if (store.error) this.log.error(store.error);
    }
  }

  /**
   * The daemon is dying (uncaught exception, unhandled rejection, a start that failed half way): bow out
   * of every MASTER vhid and delete the VIPs it manages, synchronously, so that no address stays on this
   * host that nobody owns. The caller exits right after. Returns one line saying what was done, or null
   * when `onlyIfMaster` and no vhid is MASTER (nothing to undo).
   */
  abort(why: string, onlyIfMaster = false): string | null {
    if (this.aborted) return null;
    if (onlyIfMaster && ![...this.ifs.values()].some((i) => [...i.vhids.values()].some((rt) => this.core.get(rt.ref)?.state === "MASTER"))) return null;
    this.aborted = true;
    this.stopping = true;
    const now = this.now();
    const drop: { ifname: string; vips: VhidRt["cfg"]["addresses"] }[] = [];
    let bowOuts = 0;
    for (const ifr of this.ifs.values()) {
      for (const rt of ifr.vhids.values()) {
        if (this.core.get(rt.ref)?.state !== "MASTER") continue;
        if (rt.cfg.manageVip) drop.push({ ifname: vipInterface(ifr, rt), vips: rt.cfg.addresses }); // vmac: the macvlan, also removed by closeAll
        this.core.command(rt.ref, { op: "stop", graceful: true }, now);
        for (let t = this.core.pollTransmit(); t; t = this.core.pollTransmit()) {
          if (!t.bowOut) continue;
          const pkt = encodeAdvert(rt, t, rt.pkt[t.family]);
          if (sendAdvert(ifr, rt, t.family, pkt, this.carpstats).ok) bowOuts++;
        }
      }
    }
    const r = removeVipsNow(drop);
    this.closeAll();
    const line = `${why}; ${bowOuts} bow-out advert(s) sent, VIPs removed: ${r.removed.join(" ") || "none"}${r.errors.length ? `; could not remove: ${r.errors.join("; ")}` : ""}`;
    this.log.error(line, { event: "abort", removed: r.removed, errors: r.errors });
    return line;
  }

  /** The core's deadlines fell due (see timer.ts for the batched advert pass). */
  private onWake(w: Wake): void {
    if (!this.started || this.stopping) return;
    this.core.handleTimeout(w.now, w.advertiseUntil);
    this.pump(w.sendAt);
  }

  /** A VIP of a MASTER vhid vanished (someone ran `ip addr del`): put it back (then GARP/NA). */
  private onAddressRemoved(ev: AddressEvent): void {
    this.publishVip(ev, "remove");
    if (!this.started || this.stopping) return;
    const ifr = this.ifs.get(ev.ifname) ?? [...this.ifs.values()].find((i) => [...i.vhids.values()].some((r) => r.vmac?.link.name === ev.ifname));
    if (!ifr) return;
    for (const rt of ifr.vhids.values()) {
      if ((rt.vmac?.link.name ?? ifr.name) !== ev.ifname) continue;
      if (!rt.cfg.manageVip || this.core.get(rt.ref)?.state !== "MASTER") continue;
      const vip = rt.cfg.addresses.find((a) => a.address === ev.address && a.prefix === ev.prefix);
      if (vip) this.effects.readd(ifr, rt, vip);
    }
  }

  // ---- outputs --------------------------------------------------------------------------------

  private rtOf(ref: VhidRef): { ifr: IfRt; rt: VhidRt } | undefined {
    const ifr = this.ifs.get(ref.ifname);
    const rt = ifr?.vhids.get(ref.vhid);
    return ifr && rt ? { ifr, rt } : undefined;
  }

  /**
   * Drains the core's queues until they are empty, then re-plans the timer. Adverts go out first, back
   * to back (encoded and signed before `sendAt`, the deadline of a timer pass woken early); an advert
   * the core queued after effects of its vhid (ucarp: VIPs and GARP, then the advert) waits for them
   * on the vhid's chain. Effects run on their vhid's chain in order; events follow.
   */
  private pump(sendAt?: number): void {
    for (;;) {
      const transmits: Transmit[] = [];
      const effects: Effect[] = [];
      const events: Event[] = [];
      for (let t = this.core.pollTransmit(); t; t = this.core.pollTransmit()) transmits.push(t);
      for (let f = this.core.pollEffect(); f; f = this.core.pollEffect()) effects.push(f);
      for (let e = this.core.pollEvent(); e; e = this.core.pollEvent()) events.push(e);
      if (transmits.length + effects.length + events.length === 0) break;
      const firstEffect = new Map<string, number>();
      for (const f of effects) if (!firstEffect.has(vhidKeyOf(f.ref))) firstEffect.set(vhidKeyOf(f.ref), f.seq);
      const now: Transmit[] = [];
      const later: Transmit[] = [];
      for (const t of transmits) ((firstEffect.get(vhidKeyOf(t.ref)) ?? Infinity) < t.seq ? later : now).push(t);
      this.sendNow(now, sendAt);
      sendAt = undefined;
      // Effects and the adverts that wait for them, in the core's order, onto each vhid's chain.
      const ordered: (Transmit | Effect)[] = [...effects, ...later].sort((a, b) => a.seq - b.seq);
      for (const x of ordered) {
        const at = this.rtOf(x.ref);
        if (!at) continue;
        if ("kind" in x) this.effects.run(at.ifr, at.rt, x);
        else this.effects.after(at.rt, () => this.sendLater(x));
      }
      const stepTs = epochMs(); // transitions are logged with the time of the step, not of the log line
      for (const e of events) this.onEvent(e, stepTs);
      if (events.some((e) => e.kind !== "log")) this.checkFaults();
    }
    if (this.replay) this.keepReplay();
    if (this.started && !this.stopping) this.timer.reschedule();
  }

  /** Sends adverts back to back (after `sendAt` when given) and feeds the send results to the core. */
  private sendNow(list: Transmit[], sendAt?: number): void {
    if (list.length === 0) return;
    const used = new Set<Buffer>();
    const pkts: Buffer[] = [];
    const rts: { ifr: IfRt; rt: VhidRt }[] = [];
    list = list.filter((t) => this.rtOf(t.ref) !== undefined);
    for (const t of list) {
      const at = this.rtOf(t.ref)!;
      // Encode and sign now, so that after the wait only the sends are left.
      const own = at.rt.pkt[t.family];
      const pkt = encodeAdvert(at.rt, t, used.has(own) ? Buffer.alloc(own.length) : own);
      used.add(pkt);
      pkts.push(pkt);
      rts.push(at);
    }
    // Wait out what is left of the lead (at most ADVERT_LEAD_MS + the timer's coalescing window).
    if (sendAt !== undefined && sendAt - this.now() <= ADVERT_LEAD_MS + 1) waitUntil(this.now, sendAt);
    const outcomes = pkts.map((p, i) => sendAdvert(rts[i].ifr, rts[i].rt, list[i].family, p, this.carpstats));
    const now = this.now();
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i];
      if (!o.ok) this.log.warn(`vhid ${list[i].ref.vhid}@${list[i].ref.ifname}: ${o.message}`, { event: "senderr", interface: list[i].ref.ifname, vhid: list[i].ref.vhid, code: o.code });
      this.core.handleInput({ kind: "sendResult", ref: list[i].ref, ok: o.ok }, now);
    }
  }

  /** An advert that waited for its vhid's effects: sent only if the vhid is still MASTER (or bows out). */
  private sendLater(t: Transmit): void {
    if (!this.started || (!t.bowOut && this.core.get(t.ref)?.state !== "MASTER")) return;
    this.sendNow([t]);
    this.pump();
  }

  private onEvent(e: Event, ts: number): void {
    switch (e.kind) {
      case "transition": {
        const at = this.rtOf(e.ref);
        if (!at) return;
        const { ifr, rt } = at;
        const v = rt.cfg;
        const lm = this.core.get(e.ref)?.lastMaster;
        // lastMasterAt: when the last advert from the previous master arrived (epoch ms), for failover timing.
        this.log.info(`vhid ${v.vhid}@${ifr.name}: ${e.from} -> ${e.to} (${e.reason})`, {
          ts, event: "transition", interface: ifr.name, vhid: v.vhid, from: e.from, to: e.to, reason: e.reason,
          ...(lm ? { lastMasterAt: Math.round(epochMs(lm.at) * 1000) / 1000, lastMaster: lm.address } : {}),
        });
        this.emit("transition", { interface: ifr.name, vhid: v.vhid, from: e.from, to: e.to, reason: e.reason, ts });
        this.events.publish({ type: "transition", interface: ifr.name, vhid: v.vhid, from: e.from, to: e.to, reason: e.reason }, ts);
        // devd and scripts run after this vhid's effects (the VIPs are in place or gone); shutdown uses -z rules.
        const devd = this.devd;
        // Virtual MAC mode: IFNET LINK_UP/LINK_DOWN come from the macvlan's kernel link events (onVmacLink).
        const dv = rt.vmac ? { vhid: v.vhid, interface: v.interface } : v;
        if (devd) this.effects.after(rt, () => { for (const ev of eventsForTransition(dv, e.from, e.to)) void devd.dispatch(ev); });
        if (this.stopping) return;
        const hook = rt.hook;
        void rt.chain.then(() => this.hooks.transition(hook, { from: e.from, to: e.to, reason: e.reason, initial: e.neutral }));
        return;
      }
      case "demotion":
        this.log.warn(`demotion ${e.delta > 0 ? "+" : ""}${e.delta} (${e.source}): ${e.reason}; global demotion now ${e.value}`, { event: "demote", delta: e.delta, source: e.source, value: e.value });
        this.events.publish({ type: "demotion", source: e.source, delta: e.delta, value: e.value, reason: e.reason, ...("group" in e && typeof e.group === "string" ? { group: e.group } : {}) }, ts);
        return;
      case "log": {
        const where = e.ref ? `@${e.ref.ifname}` : "";
        const msg = e.ref && e.message.startsWith("vhid ") ? e.message.replace(/^vhid (\d+)/, `vhid $1${where}`) : e.message;
        this.log.log(e.level, msg, e.ref ? { interface: e.ref.ifname, vhid: e.ref.vhid } : {});
        return;
      }
    }
  }

  /** A VIP of one of our vhids appeared or vanished on its interface (netlink). */
  private publishVip(ev: AddressEvent, op: "add" | "remove"): void {
    // A vhid's VIPs live on its parent, or on its vmac interface (carp0) in virtual MAC mode.
    for (const ifr of this.ifs.values()) {
      for (const rt of ifr.vhids.values()) {
        if (vipInterface(ifr, rt) !== ev.ifname) continue;
        if (rt.cfg.addresses.some((a) => a.address === ev.address && a.prefix === ev.prefix)) {
          this.events.publish({ type: "vip", interface: ifr.name, vhid: rt.cfg.vhid, op, address: ev.address, prefix: ev.prefix });
        }
      }
    }
  }

  /**
   * keepalived FAULT: a vhid whose link is down, or whose demotion holds it at the maximum skew (it cannot
   * win against a healthy peer), is in fault. Entering it publishes a fault event and runs the fault script
   * (after the vhid's effects); leaving it publishes the end of the fault.
   */
  private checkFaults(): void {
    if (!this.started || this.stopping) return;
    for (const s of this.core.status().vhids) {
      const at = this.rtOf({ ifname: s.ifname, vhid: s.vhid });
      if (!at || !s.running) continue;
      const maxed = s.demotion.total > 0 && (s.semantics === "openbsd" ? s.demoteByte >= 255 : s.effectiveAdvskew >= MAX_SKEW);
      const reason = !s.linkUp ? `${s.ifname}: link down` : maxed ? `demoted to the maximum (demotion ${s.demotion.total}, advskew ${s.effectiveAdvskew})` : null;
      const key = vhidKeyOf(at.rt.ref);
      const f = this.faults.get(key) ?? { reason: null, chain: Promise.resolve() };
      this.faults.set(key, f);
      if ((f.reason === null) === (reason === null)) continue;
      f.reason = reason;
      this.events.publish({ type: "fault", interface: s.ifname, vhid: s.vhid, active: reason !== null, reason: reason ?? "can be MASTER again" });
      if (reason === null) {
        this.log.info(`vhid ${s.vhid}@${s.ifname}: fault cleared`, { event: "fault", interface: s.ifname, vhid: s.vhid, active: false });
        continue;
      }
      this.log.warn(`vhid ${s.vhid}@${s.ifname}: fault: ${reason}`, { event: "fault", interface: s.ifname, vhid: s.vhid, active: true, reason });
      const file = at.rt.cfg.faultscript;
      if (file === undefined) continue;
      const { rt } = at;
      const state = s.state;
      f.chain = Promise.all([f.chain, rt.chain]).then(async () => {
        for (const inv of faultInvocations(rt.hook, file, state, reason)) {
          this.onHookResult(await runScript(inv, rt.cfg.hookTimeoutMs, { vhid: rt.cfg.vhid, interface: rt.ref.ifname, to: "FAULT" }));
        }
      });
    }
  }

  private async startMetrics(cfg: Config): Promise<void> {
    const { MetricsServer } = await import("./metrics.js"); // node:http only when metrics are on (start-up time)
    const m = new MetricsServer(cfg.metrics!, () => this.metricsSnapshot());
    const err = await m.start();
    if (err) throw new CarpNodeError(`--metrics: ${err}`, "runtime");
    this.metrics = m;
    this.log.info(`metrics at http://${cfg.metrics!.host.includes(":") ? `[${cfg.metrics!.host}]` : cfg.metrics!.host}:${m.port}/metrics`, { event: "metrics" });
  }

  /** What /metrics and `carp status --prometheus` render. */
  metricsSnapshot(): MetricsInput {
    const checks = this.checks?.reports().filter((c) => c.up !== null).map((c) => ({ name: c.name, up: c.up === true }));
    return { status: this.status(), transitions: this.events.transitionCounts(), ...(checks ? { checks } : {}) };
  }

  private onHookResult(r: HookResult): void {
    const ok = r.code === 0 && !r.error;
    this.log.log(ok ? "info" : "warn", `vhid ${r.vhid}@${r.interface}: ${r.file} ${r.args.join(" ")}: ${r.error ?? (r.timedOut ? "timed out" : `exit ${r.code ?? r.signal}`)} (${r.durationMs} ms)`, { event: "hook", vhid: r.vhid, interface: r.interface, file: r.file, code: r.code, to: r.to });
    this.emit("hook", r);
  }

  // ---- control ------------------------------------------------------------------------------

  private findVhid(vhid: number, ifname?: string): { ifr: IfRt; rt: VhidRt } {
    const hits = [...this.ifs.values()].filter((i) => i.vhids.has(vhid) && (ifname === undefined || i.name === ifname));
    if (hits.length === 0) throw new CarpNodeError(`--vhid: no vhid ${vhid}${ifname ? ` on ${ifname}` : ""} configured`, "usage");
    if (hits.length > 1) throw new CarpNodeError(`--vhid: vhid ${vhid} exists on ${hits.map((h) => h.name).join(", ")}; add --interface`, "usage");
    return { ifr: hits[0], rt: hits[0].vhids.get(vhid)! };
  }

  /** Applies `carp set` changes at once, all or none. Throws CarpNodeError naming the flag on bad values. */
  set(req: SetRequest): VhidReport {
    const { ifr, rt } = this.findVhid(req.vhid, req.interface);
    const err = this.core.command(rt.ref, {
      op: "set",
      ...(req.advbase !== undefined ? { advbase: req.advbase } : {}),
      ...(req.advskew !== undefined ? { advskew: req.advskew } : {}),
      ...(req.preempt !== undefined ? { preempt: req.preempt } : {}),
      ...(req.demote !== undefined ? { demote: req.demote } : {}),
      ...(req.state !== undefined ? { state: req.state === "master" ? ("MASTER" as const) : ("BACKUP" as const) } : {}),
    }, this.now());
    if (err) throw new CarpNodeError(`--${err}`, "usage");
    this.pump();
    this.checkFaults(); // a vhid's own demotion may have reached (or left) the maximum
    const changes = Object.entries(req).filter(([k, v]) => k !== "vhid" && k !== "interface" && v !== undefined).map(([k, v]) => `${k} ${v}`);
    this.log.info(`vhid ${req.vhid}@${ifr.name}: set ${changes.join(", ")}`, { event: "set", interface: ifr.name, vhid: req.vhid });
    return this.report(rt);
  }

  /** ucarp SIGUSR2: every MASTER becomes BACKUP (it may win again after master-down). */
  forceBackup(): void {
    const now = this.now();
    for (const ifr of this.ifs.values()) {
      for (const rt of ifr.vhids.values()) {
        if (this.core.get(rt.ref)?.state !== "MASTER") continue;
        const err = this.core.command(rt.ref, { op: "force", state: "BACKUP" }, now);
        if (err) this.log.warn(`vhid ${rt.cfg.vhid}@${ifr.name}: ${err}`);
      }
    }
    this.pump();
  }

  /**
   * Applies a new configuration (SIGHUP), as planReload() decides: unchanged vhids keep their state;
   * advbase/advskew/preempt/demote changes are applied as one set (MASTER stays MASTER); other changes
   * rebuild the vhid; removed vhids stop gracefully (bow-out when MASTER); a changed global demotion is
   * applied to the ledger.
   */
  async reload(next: Config): Promise<string[]> {
    const done: string[] = [];
    for (const v of next.vhids) buildAuth(v); // validate before touching anything
    const plan = planReload(this.config, next);
    if (plan.devdChanged) this.devd = next.devdConf !== undefined ? this.loadDevd(next.devdConf) : null;
    this.log.format = next.logFormat;
    this.log.debugEnabled = next.debug;
    if (plan.facilityChanged) {
      await this.syslog?.close();
      this.syslog = null;
      this.openSyslog(next.facility);
    }
    const now = this.now();
    for (const [old, rebuilt] of [...plan.remove.map((o) => [o, false] as const), ...plan.rebuild.map((r) => [r.old, true] as const)]) {
      const at = this.rtOf({ ifname: old.interface, vhid: old.vhid });
      if (!at) continue;
      this.core.remove(at.rt.ref, now, true);
      this.pump();
      await at.rt.chain;
      at.ifr.vhids.delete(old.vhid);
      this.detachVmac(at.rt);
      done.push(`vhid ${vhidKey(old)}: ${rebuilt ? `rebuilt (${plan.rebuild.find((r) => r.old === old)?.why.join(", ")} changed)` : "removed"}`);
    }
    if (plan.demotion !== undefined) {
      this.core.handleInput({ kind: "demotion", source: "config", value: plan.demotion, reason: "configured demotion" }, now);
      done.push(`global demotion ${plan.demotion}`);
    }
    for (const { next: nv, set, changed } of plan.keep) {
      const at = this.rtOf({ ifname: nv.interface, vhid: nv.vhid });
      if (!at) continue;
      at.rt.cfg = nv;
      if (changed.length === 0) continue;
      if (Object.keys(set).length) {
        const err = this.core.command(at.rt.ref, { op: "set", ...set }, now);
        if (err) throw new CarpNodeError(`--${err}`, "usage");
      }
      if (changed.includes("garpRefreshMs")) this.effects.garpRefreshChanged(at.ifr, at.rt);
      done.push(`vhid ${vhidKey(nv)}: updated (${changed.join(", ")})`);
    }
    for (const [nv, added] of [...plan.rebuild.map((r) => [r.next, false] as const), ...plan.add.map((a) => [a, true] as const)]) {
      let ifr = this.ifs.get(nv.interface);
      if (!ifr) {
        ifr = await this.openInterface(nv.interface, [nv], await this.interfaceFacts(nv.interface));
      } else {
        ifr.vhids.set(nv.vhid, newVhidRt(nv));
        this.attachVmac(ifr, ifr.vhids.get(nv.vhid)!);
        ensureSockets(ifr, (i, b) => this.onPackets(i, b));
      }
      this.startVhid(ifr, ifr.vhids.get(nv.vhid)!, now);
      if (added) done.push(`vhid ${vhidKey(nv)}: added`);
    }
    if (JSON.stringify(next.metrics) !== JSON.stringify(this.config.metrics)) {
      this.metrics?.close();
      this.metrics = null;
      if (next.metrics) await this.startMetrics(next).catch((e: Error) => this.log.error(e.message));
      done.push(next.metrics ? `metrics on ${next.metrics.host}:${next.metrics.port}` : "metrics off");
    }
    if (JSON.stringify([this.config.checks, this.config.track, this.config.vhids.map((v) => v.track)]) !== JSON.stringify([next.checks, next.track, next.vhids.map((v) => v.track)])) {
      // Checks changed: the old ones stop and give their demotion back, the new ones start fresh.
      this.checks?.stop();
      this.checks = null;
      for (const e of this.core.status().ledger) if (e.source.startsWith("check:")) this.core.handleInput({ kind: "demotion", source: e.source, value: 0, reason: "checks reloaded", ...(e.group !== undefined ? { group: e.group } : {}) }, now);
      await this.startChecks(next);
      done.push("checks restarted");
    }
    this.config = next;
    this.pump();
    this.log.info(`configuration reloaded${done.length ? ": " + done.join("; ") : " (no vhid changed)"}`, { event: "reload" });
    return done;
  }

  // ---- status -------------------------------------------------------------------------------

  private report(rt: VhidRt): VhidReport {
    return vhidReport(findStatus(this.core.status(), rt)!, rt, this.now(), this.core.demotionOf(rt.ref)?.entries);
  }

  status(): NodeStatus {
    const cs = this.core.status();
    const now = this.now();
    const vhids: VhidReport[] = [];
    for (const ifr of this.ifs.values()) {
      for (const rt of ifr.vhids.values()) {
        const s = findStatus(cs, rt);
        if (s) vhids.push(vhidReport(s, rt, now, this.core.demotionOf(rt.ref)?.entries));
      }
    }
    // The ledger's sum, negative values included (a negative global demotion is a preference).
    return { pid: process.pid, startedAt: this.startedAt, globalDemotion: cs.globalDemotion, ledger: ledgerReport(cs.ledger), carpstats: { ...this.carpstats }, vhids, checks: this.checks?.reports() ?? [] };
  }

  /** One line per vhid, as ucarp's SIGUSR1 logs it. */
  logStatus(): void {
    for (const v of this.status().vhids) this.log.info(statusLine(v), { event: "status", interface: v.interface, vhid: v.vhid, state: v.state });
  }
}

const replayKey = (r: VhidRef) => `${r.ifname}/${r.vhid}`;
const vhidKeyOf = (r: VhidRef) => `${r.vhid}@${r.ifname}`;
