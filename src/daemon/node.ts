// CarpNode: the running daemon (and the embeddable API). The only place with real time: it owns the
// timers (absolute deadlines on the monotonic clock from the core's "arm" actions), the raw sockets (one
// per interface and family), the VIPs, GARP/NA, hooks and devd actions. Packets go socket -> receiveCarp()
// (checksum, vhid, version, TTL, HMAC) -> Cluster (the sans-I/O core) -> actions, executed here in a fixed
// order: adverts first, then timers, then VIPs and GARP/NA, then logs, devd and hooks (hooks never delay
// an advert). One Cluster per interface (vhid numbers are per interface); fault demotions are shared.
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

import { Cluster, type Action, type AdvertOut, type CarpState, type TaggedAction, type TimerName, type VhidParams, type VhidStatus } from "../core/index.js";
import { CARP_AUTHLEN, CARP_HEADER_LEN, CARP_VERSION, CARP_TYPE_ADVERTISEMENT, carpFinishChecksum } from "../protocol/carp.js";
import { CarpAuth, isHmacError } from "../protocol/hmac.js";
import { receiveCarp, type ReceiveVhid } from "../protocol/receive.js";
import type { CarpReason, IpFamily } from "../protocol/types.js";
import { CarpSocket, type ReceivedPacket } from "../host/rawsock.js";
import { LinkWatcher } from "../host/link.js";
import { VipManager, VipWatcher, type AddressEvent } from "../host/vips.js";
import { HookRunner, type HookConfig, type HookResult } from "../host/hooks.js";
import { DevdRunner, eventsForTransition, parseDevdConf } from "../host/devd.js";
import type { Config, VhidConfig } from "./config.js";
import { Announcer, interfaceInfo } from "./l2.js";
import { Logger, epochMs, type LogEntry } from "./log.js";
import { DeadlineScheduler } from "./scheduler.js";
import { SyslogWriter } from "./syslog.js";

/** carpstats, as `netstat -s -p carp` shows them (daemon-wide). */
export interface CarpStats {
  ipackets: number;
  ipackets6: number;
  badlen: number;
  badsum: number;
  badver: number;
  badttl: number;
  badvhid: number;
  badauth: number;
  opackets: number;
  opackets6: number;
  senderr: number;
  ownloops: number;
}

export interface VhidReport {
  interface: string;
  vhid: number;
  state: CarpState;
  reason: string;
  /** Epoch ms of the last state change, or null. */
  since: number | null;
  advbase: number;
  advskew: number;
  effectiveAdvskew: number;
  demotion: { global: number; vhid: number; total: number };
  preempt: boolean;
  semantics: string;
  addresses: string[];
  manageVip: boolean;
  linkUp: boolean;
  lastMaster: { address: string; family: IpFamily; at: number; agoMs: number; advbase: number; advskew: number; bowOut: boolean } | null;
  counters: VhidStatus["stats"] & { badttl: number; badauth: number; badver: number; badsum: number };
}

export interface NodeStatus {
  pid: number;
  startedAt: number;
  globalDemotion: number;
  carpstats: CarpStats;
  vhids: VhidReport[];
}

export interface SetRequest {
  vhid: number;
  interface?: string;
  advskew?: number;
  advbase?: number;
  state?: "master" | "backup";
  preempt?: boolean;
  demote?: number;
}

export interface TransitionEvent {
  interface: string;
  vhid: number;
  from: CarpState;
  to: CarpState;
  reason: string;
  ts: number;
}

/** An error with an exit-code class: "usage" (bad input, exit 2) or "runtime" (exit 1). */
export class CarpNodeError extends Error {
  constructor(
    message: string,
    readonly kind: "usage" | "runtime",
  ) {
    super(message);
    this.name = "CarpNodeError";
  }
}

export interface CarpNodeOptions {
  /** Where log lines go; default stdout. */
  logSink?: (line: string) => void;
  /** VIP ownership record; default `<control path>.vips.json` (e.g. /run/carp/carp.sock.vips.json). */
  vipStateFile?: string;
  /** The monotonic clock in ms (default performance.now); timers are armed against it. */
  now?: () => number;
  /** Syslog socket for --facility output (default $CARP_SYSLOG_SOCKET or /dev/log). */
  syslogSocket?: string;
}

interface VhidRt {
  cfg: VhidConfig;
  auth: CarpAuth;
  hook: HookConfig;
  rx: { badttl: number; badauth: number; badver: number; badsum: number };
  vipChain: Promise<unknown>;
  /** Reused for every advert of this vhid, one per family (the socket copies it synchronously). */
  pkt: Record<IpFamily, Buffer>;
  sendOpts: Partial<Record<IpFamily, { dst?: string; src?: string }>>;
}

interface TimerRef {
  ifr: IfRt;
  vhid: number;
  timer: TimerName;
  /** The core's deadline (the scheduler may wake earlier, see ADVERT_LEAD_MS). */
  at: number;
}

/**
 * Advertise timers that fall due together wake up to ADVERT_LEAD_MS (ADVERT_STEP_MS per advert) before
 * their deadline: the core steps of the whole pass run first (with `now` = the deadline), then the
 * daemon waits out the rest of the lead and sends every advert of the pass back to back, so the wire
 * timing does not carry the cost of 255 core steps. Master-down timers are never early.
 */
const ADVERT_LEAD_MS = 5;
const ADVERT_STEP_MS = 0.02;


interface IfRt {
  name: string;
  cluster: Cluster;
  vhids: Map<number, VhidRt>;
  socks: Partial<Record<IpFamily, CarpSocket>>;
  link: LinkWatcher;
  announcer: Announcer;
  own: string[];
}

const zeroStats = (): CarpStats => ({
  ipackets: 0, ipackets6: 0, badlen: 0, badsum: 0, badver: 0, badttl: 0, badvhid: 0, badauth: 0,
  opackets: 0, opackets6: 0, senderr: 0, ownloops: 0,
});

const randomCounter = (): bigint => randomBytes(8).readBigUInt64BE(0);

/** The addresses a vhid hashes: ucarp peers hash exactly its first IPv4 address, kernels all of them. */
function hashedAddresses(v: VhidConfig): { v4: string[]; v6: string[] } {
  const v4 = v.addresses.filter((a) => a.family === 4).map((a) => a.address);
  const v6 = v.addresses.filter((a) => a.family === 6).map((a) => a.address);
  if (v.semantics === "ucarp") return { v4: v4.slice(0, 1), v6: [] };
  return { v4, v6 };
}

function vhidParams(v: VhidConfig, own: string[]): VhidParams {
  const h = hashedAddresses(v);
  return {
    vhid: v.vhid,
    advbase: v.advbase,
    advskew: v.advskew,
    preempt: v.preempt,
    semantics: v.semantics,
    deadratio: v.deadratio,
    demote: v.demote,
    vips: { v4: h.v4.length, v6: h.v6.length },
    ownAddresses: own,
    neutral: v.neutral,
    unicast: v.peer !== undefined || v.peer6 !== undefined,
    ignoreIfState: v.ignoreIfState,
  };
}

/** Fields whose change needs the vhid rebuilt (new auth, sockets or hooks) rather than a core command. */
function structuralKey(v: VhidConfig): string {
  const { advskew: _a, advbase: _b, preempt: _p, demote: _d, ...rest } = v;
  return JSON.stringify({ ...rest, password: v.password.toString("hex") });
}

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
  private readonly ifs = new Map<string, IfRt>();
  private readonly vips: VipManager;
  private readonly vipWatcher = new VipWatcher();
  private readonly hooks: HookRunner;
  private devd: DevdRunner | null = null;
  private started = false;
  private stopping = false;
  private startedAt = 0;
  private readonly now: () => number;
  private readonly timers: DeadlineScheduler<TimerRef>;
  private syslog: SyslogWriter | null = null;

  constructor(config: Config, private readonly opts: CarpNodeOptions = {}) {
    super();
    this.config = config;
    this.now = opts.now ?? (() => performance.now());
    this.timers = new DeadlineScheduler<TimerRef>((due) => this.onTimers(due), this.now, { perEntryMs: ADVERT_STEP_MS, maxMs: ADVERT_LEAD_MS });
    this.log = new Logger(config.logFormat, config.debug, opts.logSink, (e) => {
      this.syslog?.write(e.level, e.msg);
      this.emit("log", e);
    });
    this.openSyslog(config.facility);
    this.vips = new VipManager({ stateFile: opts.vipStateFile ?? `${config.control}.vips.json` });
    this.hooks = new HookRunner({ onResult: (r) => this.onHookResult(r) });
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
    const infos = new Map<string, Awaited<ReturnType<typeof interfaceInfo>>>();
    for (const ifname of byIf.keys()) {
      const info = await interfaceInfo(ifname);
      if (!info.ok) {
        if (info.code === "ENODEV") throw new CarpNodeError(`--interface: no such interface ${JSON.stringify(ifname)}`, "usage");
        throw new CarpNodeError(info.error, "runtime");
      }
      infos.set(ifname, info);
    }
    for (const v of cfg.vhids) this.buildAuth(v); // throws on address sets a peer type cannot hash

    // VIPs of ours left behind by a crash (this instance's state file, or labels of our vhids) go before
    // anything else. Another carp instance on this host (ucarp-style, one process per vhid) keeps its VIPs.
    const stale = await this.vips.removeStale({ own: cfg.vhids.map((v) => ({ ifname: v.interface, vhid: v.vhid })) });
    if (stale.ok) for (const r of stale.value.removed) this.log.info(`removed stale VIP ${r.address}/${r.prefix} from ${r.ifname} (vhid ${r.vhid})`, { event: "staleVip", interface: r.ifname, vhid: r.vhid, address: r.address });
    else if (stale.code === "EPERM") throw new CarpNodeError(`${stale.error}`, "usage");

    try {
      for (const [ifname, list] of byIf) {
        const info = infos.get(ifname)!;
        if (!info.ok) continue;
        await this.openInterface(ifname, list, info.value.mac, info.value.addresses.map((a) => a.address));
      }
    } catch (e) {
      this.closeAll();
      throw e;
    }
    await this.vipWatcher.start().catch(() => undefined);
    this.vipWatcher.on("removed", (ev: AddressEvent) => this.onAddressRemoved(ev));
    this.vipWatcher.on("error", (msg: string) => this.log.warn(msg));
    this.started = true;

    const now = this.now();
    for (const ifr of this.ifs.values()) {
      for (const [vhid, rt] of ifr.vhids) this.startVhid(ifr, vhid, rt.cfg, now);
    }
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

  private buildAuth(v: VhidConfig): CarpAuth {
    const h = hashedAddresses(v);
    if (v.semantics === "ucarp" && h.v4.length === 0) {
      throw new CarpNodeError(`--addr: vhid ${v.vhid}: ucarp peers need an IPv4 virtual address (use --semantics freebsd for IPv6-only)`, "usage");
    }
    const a = CarpAuth.create({ vhid: v.vhid, v4: h.v4, v6: h.v6, password: v.password, semantics: v.semantics });
    if (isHmacError(a)) throw new CarpNodeError(`--addr: vhid ${v.vhid}: ${a.error}`, "usage");
    return a;
  }

  private hookConfig(v: VhidConfig): HookConfig {
    return {
      interface: v.interface, vhid: v.vhid, addresses: v.addresses, upscript: v.upscript, downscript: v.downscript,
      xparam: v.xparam, neutral: v.neutral, shutdownScript: v.shutdownScript, hookMode: v.hookMode, hookTimeoutMs: v.hookTimeoutMs,
    };
  }

  private async openInterface(ifname: string, list: VhidConfig[], mac: string | null, addrs: string[]): Promise<void> {
    const vipSet = new Set(list.flatMap((v) => v.addresses.map((a) => a.address)));
    const own = addrs.filter((a) => !vipSet.has(a));
    for (const v of list) {
      if (v.srcip && !own.includes(v.srcip)) own.unshift(v.srcip);
      else if (v.srcip) own.splice(own.indexOf(v.srcip), 1), own.unshift(v.srcip);
    }
    const link = new LinkWatcher(ifname, { ignoreIfState: list.every((v) => v.ignoreIfState) });
    const ifr: IfRt = {
      name: ifname,
      cluster: new Cluster(),
      vhids: new Map(),
      socks: {},
      link,
      announcer: new Announcer(ifname, mac),
      own,
    };
    this.ifs.set(ifname, ifr);
    for (const v of list) this.addVhidRt(ifr, v);
    this.ensureSockets(ifr);
    // Open the injection handle now, so the first GARP after a takeover does not pay for pcap_activate.
    const pre = ifr.announcer.prepare();
    if (pre) this.log.warn(pre);
    const st = await link.start();
    if (!st.up) this.log.warn(`${ifname}: link is down (${st.reason}); vhids wait in INIT`, { event: "link", interface: ifname, up: false });
    link.on("change", (s) => {
      this.log.info(`${ifname}: link ${s.up ? "up" : `down (${s.reason})`}`, { event: "link", interface: ifname, up: s.up });
      this.exec(ifr, ifr.cluster.link(s.up, this.now()).actions);
    });
    link.on("error", (m: string) => this.log.warn(m));
  }

  private addVhidRt(ifr: IfRt, v: VhidConfig): void {
    ifr.vhids.set(v.vhid, {
      cfg: v,
      auth: this.buildAuth(v),
      hook: this.hookConfig(v),
      rx: { badttl: 0, badauth: 0, badver: 0, badsum: 0 },
      vipChain: Promise.resolve(),
      pkt: { 4: Buffer.alloc(CARP_HEADER_LEN), 6: Buffer.alloc(CARP_HEADER_LEN) },
      sendOpts: {
        4: { ...(v.peer ? { dst: v.peer } : {}), ...(v.srcip ? { src: v.srcip } : {}) },
        6: { ...(v.peer6 ? { dst: v.peer6 } : {}), ...(v.srcip6 ? { src: v.srcip6 } : {}) },
      },
    });
  }

  /** One socket per family that some vhid on the interface needs. */
  private ensureSockets(ifr: IfRt): void {
    const cfgs = [...ifr.vhids.values()].map((r) => r.cfg);
    for (const family of [4, 6] as const) {
      const need = cfgs.filter((v) => hashedAddresses(v)[family === 4 ? "v4" : "v6"].length > 0);
      if (need.length === 0 || ifr.socks[family]) continue;
      const group = family === 4 ? need[0].mcast : need[0].mcast6;
      try {
        const s = new CarpSocket({ interface: ifr.name, family, group });
        s.on("packets", (batch) => this.onPackets(ifr, batch));
        ifr.socks[family] = s;
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        const msg = err.message.split("\n")[0];
        if (/EPERM|EACCES|not permitted/i.test(msg) || err.code === "EPERM") {
          throw new CarpNodeError(`--interface ${ifr.name}: cannot open a raw IPv${family} socket: ${msg} (needs root or CAP_NET_RAW)`, "usage");
        }
        if (/ENODEV|No such device/i.test(msg)) throw new CarpNodeError(`--interface: no such interface ${JSON.stringify(ifr.name)}`, "usage");
        throw new CarpNodeError(`--interface ${ifr.name}: cannot open a raw IPv${family} socket: ${msg}`, "runtime");
      }
    }
  }

  private startVhid(ifr: IfRt, vhid: number, v: VhidConfig, now: number): void {
    const r = ifr.cluster.add(vhidParams(v, ifr.own), { counter: randomCounter(), linkUp: ifr.link.status.up || v.ignoreIfState });
    if (!r.ok) throw new CarpNodeError(`--vhid ${vhid}: ${r.errors.join("; ")}`, "usage");
    if (this.config.demotion !== 0 && ifr.cluster.globalDemotion === 0) {
      this.exec(ifr, ifr.cluster.adjustGlobalDemotion(this.config.demotion, now, "config", "configured demotion").actions);
    }
    this.log.info(`vhid ${vhid}@${ifr.name}: starting (advbase ${v.advbase} advskew ${v.advskew}${v.preempt ? " preempt" : ""}, ${v.semantics}, ${v.addresses.map((a) => `${a.address}/${a.prefix}`).join(" ")})`, { event: "start", interface: ifr.name, vhid });
    this.exec(ifr, ifr.cluster.command(vhid, { op: "start" }, now).actions);
    if (v.initialState === "master") this.exec(ifr, ifr.cluster.command(vhid, { op: "force", state: "MASTER" }, now).actions);
  }

  /** Graceful stop: bow-out advert from every MASTER, VIPs removed, -z downscripts, sockets closed. */
  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    const now = this.now();
    const shutdowns: Promise<unknown>[] = [];
    for (const ifr of this.ifs.values()) {
      for (const [vhid, rt] of ifr.vhids) {
        const prev = ifr.cluster.get(vhid)?.state ?? "INIT";
        this.exec(ifr, ifr.cluster.command(vhid, { op: "stop", graceful: true }, now).actions);
        shutdowns.push(rt.vipChain.then(() => this.hooks.shutdown(rt.hook, prev)));
      }
    }
    await Promise.all(shutdowns);
    // Hooks and devd actions get up to 10 s to finish (each also has its own timeout).
    let cap: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([this.hooks.idle(), this.devd?.idle()]), new Promise((r) => (cap = setTimeout(r, 10_000)))]);
    clearTimeout(cap);
    this.closeAll();
    this.started = false;
    this.log.info("stopped", { event: "stopped" });
    await this.syslog?.close();
    this.syslog = null;
    this.emit("stopped");
  }

  private closeAll(): void {
    this.timers.clear();
    for (const ifr of this.ifs.values()) {
      for (const s of Object.values(ifr.socks)) s?.close();
      ifr.link.stop();
      ifr.announcer.close();
    }
    this.ifs.clear();
    this.vipWatcher.stop();
  }

  get running(): boolean {
    return this.started && !this.stopping;
  }

  // ---- receive --------------------------------------------------------------------------------

  private onPackets(ifr: IfRt, batch: ReceivedPacket[]): void {
    if (this.stopping) return;
    const now = this.now();
    for (const p of batch) {
      if (p.family === 4) this.carpstats.ipackets++;
      else this.carpstats.ipackets6++;
      if (ifr.own.includes(p.src)) {
        this.carpstats.ownloops++;
        continue;
      }
      const lookup = (vhid: number): ReceiveVhid | undefined => {
        const rt = ifr.vhids.get(vhid);
        if (!rt || !ifr.cluster.get(vhid)) return undefined;
        const unicast = p.family === 4 ? rt.cfg.peer !== undefined : rt.cfg.peer6 !== undefined;
        // FreeBSD checks the TTL only for multicast destinations; OpenBSD and ucarp always.
        return { auth: rt.auth, ttlPolicy: rt.cfg.semantics === "freebsd" || unicast ? "multicast" : "always", multicastDestination: !unicast };
      };
      const r = receiveCarp(p.data, { ttl: p.ttl, dst: p.dst }, lookup);
      if (!r.ok) {
        this.reject(ifr, r.reason, r.header?.vhid, `${p.src}: ${r.detail}`);
        continue;
      }
      const res = ifr.cluster.receive({ from: p.src, family: p.family, header: r.header }, now);
      this.exec(ifr, res.actions);
    }
  }

  private reject(ifr: IfRt, reason: CarpReason, vhid: number | undefined, detail: string): void {
    this.carpstats[reason]++;
    const rt = vhid !== undefined ? ifr.vhids.get(vhid) : undefined;
    if (rt && reason in rt.rx) rt.rx[reason as keyof VhidRt["rx"]]++;
    this.log.debug(`${ifr.name}: dropped advertisement (${reason}): ${detail}`, { event: "drop", interface: ifr.name, reason, vhid });
  }

  // ---- actions --------------------------------------------------------------------------------

  /** Executes actions: adverts, then timers, then VIPs/announcements, then logs/devd/hooks. */
  private exec(ifr: IfRt, actions: TaggedAction[], sent: { vhid: number; ok: boolean }[] = []): void {
    if (actions.length === 0 && sent.length === 0) return;
    const stepTs = epochMs(); // transitions are logged with the time of the step, not of the log line
    // `sent`: adverts of these actions the caller already sent; their results are fed back below.
    const followUps = sent;
    const order: Record<Action["kind"], number> = { send: 0, arm: 1, disarm: 1, vips: 2, announce: 3, transition: 4, demote: 5, log: 6 };
    const sorted = actions.map((a, i) => ({ a, i })).sort((x, y) => order[x.a.action.kind] - order[y.a.action.kind] || x.i - y.i);
    for (const { a } of sorted) {
      const act = a.action;
      const rt = ifr.vhids.get(a.vhid);
      switch (act.kind) {
        case "send": {
          if (!rt) break;
          followUps.push({ vhid: a.vhid, ok: this.send(ifr, rt, act.family, act.advert) });
          break;
        }
        case "arm":
          this.arm(ifr, a.vhid, act.timer, act.at);
          break;
        case "disarm":
          this.disarm(ifr, a.vhid, act.timer);
          break;
        case "vips":
          if (rt) this.vipOp(ifr, rt, act.op);
          break;
        case "announce":
          if (rt) {
            // ucarp peers only advertise over IPv4, but our IPv6 VIPs of that vhid still need their NA.
            const fams: IpFamily[] = rt.cfg.semantics === "ucarp" ? [4, 6] : act.families;
            for (const err of ifr.announcer.announce(rt.cfg.addresses, fams)) this.log.warn(err);
            this.log.debug(`vhid ${a.vhid}@${ifr.name}: announced (${act.why})`);
          }
          break;
        case "transition":
          if (rt) this.onTransition(ifr, rt, act, stepTs);
          break;
        case "demote":
          this.log.warn(`demotion ${act.delta > 0 ? "+" : ""}${act.delta}: ${act.reason}`, { event: "demote", delta: act.delta, source: act.source });
          // Cluster applied it to its own vhids; other interfaces share the global demotion.
          for (const other of this.ifs.values()) {
            if (other !== ifr) this.exec(other, other.cluster.adjustGlobalDemotion(act.delta, this.now(), `${act.source}:vhid ${a.vhid}@${ifr.name}`, act.reason).actions);
          }
          break;
        case "log":
          this.log.log(act.level, act.message.startsWith("vhid ") ? act.message.replace(/^vhid (\d+)/, `vhid $1@${ifr.name}`) : act.message, { interface: ifr.name, vhid: a.vhid });
          break;
      }
    }
    for (const f of followUps) {
      if (!ifr.cluster.get(f.vhid)) continue;
      this.exec(ifr, ifr.cluster.input(f.vhid, { kind: "sendResult", ok: f.ok }, this.now()).actions);
    }
  }

  private send(ifr: IfRt, rt: VhidRt, family: IpFamily, ad: AdvertOut): boolean {
    return this.transmit(ifr, rt, family, this.encode(rt, family, ad), ad.vhid);
  }

  /** The signed advert, encoded in place into the vhid's own buffer for `family`: no allocation. */
  private encode(rt: VhidRt, family: IpFamily, ad: AdvertOut): Buffer {
    const pkt = rt.pkt[family];
    pkt[0] = (CARP_VERSION << 4) | CARP_TYPE_ADVERTISEMENT;
    pkt[1] = ad.vhid & 0xff;
    pkt[2] = ad.advskew & 0xff;
    pkt[3] = CARP_AUTHLEN;
    pkt[4] = ad.demote & 0xff;
    pkt[5] = ad.advbase & 0xff;
    pkt.writeBigUInt64BE(BigInt.asUintN(64, ad.counter), 8);
    rt.auth.signInto(pkt, pkt, 16, 8);
    carpFinishChecksum(pkt);
    return pkt;
  }

  private transmit(ifr: IfRt, rt: VhidRt, family: IpFamily, pkt: Buffer, vhid: number): boolean {
    const sock = ifr.socks[family];
    if (!sock) return false;
    const r = family === 4 && rt.cfg.nomcast && !rt.cfg.peer ? this.sendBroadcast(ifr, rt, pkt) : sock.send(pkt, rt.sendOpts[family]);
    if (r.ok) {
      if (family === 4) this.carpstats.opackets++;
      else this.carpstats.opackets6++;
      return true;
    }
    this.carpstats.senderr++;
    this.log.warn(`vhid ${vhid}@${ifr.name}: ${r.message}`, { event: "senderr", interface: ifr.name, vhid, code: r.code });
    return false;
  }

  /** --nomcast (ucarp -M): the advert goes to Ethernet broadcast, injected at layer 2; IP dst stays the group. */
  private sendBroadcast(ifr: IfRt, rt: VhidRt, pkt: Buffer): { ok: true } | { ok: false; code: string; message: string } {
    const src = rt.cfg.srcip ?? ifr.own.find((a) => a.includes("."));
    if (!src) return { ok: false, code: "EADDRNOTAVAIL", message: `--nomcast: no IPv4 source address on ${ifr.name}` };
    const err = ifr.announcer.sendBroadcastAdvert(pkt, src, rt.cfg.mcast);
    return err === null ? { ok: true } : { ok: false, code: "EIO", message: err };
  }

  private timerKey(ifr: IfRt, vhid: number, t: TimerName): string {
    return `${ifr.name}/${vhid}/${t}`;
  }

  private arm(ifr: IfRt, vhid: number, t: TimerName, at: number): void {
    this.timers.arm(this.timerKey(ifr, vhid, t), at, { ifr, vhid, timer: t, at }, t === "advertise");
  }

  /**
   * Timer expiries that fell due together. Each is fed to the core with `now` = its deadline (so the
   * next deadline is computed from it and intervals do not drift), or the real time when it fired more
   * than MAX_CATCH_UP_MS late. All core steps of the pass run first; then, once the latest deadline of
   * the pass is reached, every advert goes out back to back; only then the rest of the actions and the
   * send results.
   */
  private onTimers(due: { payload: TimerRef; now: number }[]): void {
    const steps: { ifr: IfRt; actions: TaggedAction[]; results: { vhid: number; ok: boolean }[] }[] = [];
    const out: { ifr: IfRt; rt: VhidRt; family: IpFamily; pkt: Buffer; vhid: number; results: { vhid: number; ok: boolean }[] }[] = [];
    let sendAt = -Infinity;
    for (const { payload: t, now } of due) {
      if (this.stopping || this.ifs.get(t.ifr.name) !== t.ifr || !t.ifr.cluster.get(t.vhid)) continue;
      const st = { ifr: t.ifr, actions: t.ifr.cluster.input(t.vhid, { kind: "timer", timer: t.timer }, now).actions, results: [] };
      steps.push(st);
      if (t.at > sendAt) sendAt = t.at;
      // Encode and sign now, so that after the wait only the sends are left.
      for (const a of st.actions) {
        if (a.action.kind !== "send") continue;
        const rt = t.ifr.vhids.get(a.vhid);
        if (rt) out.push({ ifr: t.ifr, rt, family: a.action.family, pkt: this.encode(rt, a.action.family, a.action.advert), vhid: a.vhid, results: st.results });
      }
    }
    // Wait out what is left of the lead (at most ADVERT_LEAD_MS + the scheduler's coalescing window).
    if (sendAt - this.now() <= ADVERT_LEAD_MS + 1) while (this.now() < sendAt);
    // Nothing allocated in this loop (a scavenge here would show up as jitter on the wire).
    const oks: boolean[] = new Array<boolean>(out.length).fill(false);
    for (let i = 0; i < out.length; i++) oks[i] = this.transmit(out[i].ifr, out[i].rt, out[i].family, out[i].pkt, out[i].vhid);
    for (let i = 0; i < out.length; i++) out[i].results.push({ vhid: out[i].vhid, ok: oks[i] });
    for (const st of steps) this.exec(st.ifr, st.actions.filter((a) => a.action.kind !== "send"), st.results);
  }

  private disarm(ifr: IfRt, vhid: number, t: TimerName): void {
    this.timers.disarm(this.timerKey(ifr, vhid, t));
  }

  private vipOp(ifr: IfRt, rt: VhidRt, op: "add" | "remove"): void {
    if (!rt.cfg.manageVip) return;
    rt.vipChain = rt.vipChain.then(async () => {
      for (const a of rt.cfg.addresses) {
        const r = op === "add" ? await this.vips.add(ifr.name, rt.cfg.vhid, a) : await this.vips.remove(ifr.name, a);
        if (!r.ok) this.log.error(`vhid ${rt.cfg.vhid}@${ifr.name}: ${r.error}`, { event: "vip", op, address: a.address });
        else if (r.value) this.log.debug(`vhid ${rt.cfg.vhid}@${ifr.name}: ${op === "add" ? "added" : "removed"} ${a.address}/${a.prefix}`, { event: "vip", op, address: a.address });
      }
    });
  }

  private onTransition(ifr: IfRt, rt: VhidRt, t: Extract<Action, { kind: "transition" }>, ts: number): void {
    const v = rt.cfg;
    const lm = ifr.cluster.get(v.vhid)?.lastMaster;
    // lastMasterAt: when the last advert from the previous master arrived (epoch ms), for failover timing.
    this.log.info(`vhid ${v.vhid}@${ifr.name}: ${t.from} -> ${t.to} (${t.reason})`, {
      ts, event: "transition", interface: ifr.name, vhid: v.vhid, from: t.from, to: t.to, reason: t.reason,
      ...(lm ? { lastMasterAt: Math.round(epochMs(lm.at) * 1000) / 1000, lastMaster: lm.address } : {}),
    });
    this.emit("transition", { interface: ifr.name, vhid: v.vhid, from: t.from, to: t.to, reason: t.reason, ts });
    if (this.devd) for (const ev of eventsForTransition(v, t.from, t.to)) void this.devd.dispatch(ev);
    // Scripts see the VIPs already in place (they run after our own add/remove); shutdown uses -z rules.
    if (this.stopping) return;
    const hook = rt.hook;
    rt.vipChain.then(() => this.hooks.transition(hook, { from: t.from, to: t.to, reason: t.reason, initial: t.neutral }));
  }

  private onHookResult(r: HookResult): void {
    const ok = r.code === 0 && !r.error;
    this.log.log(ok ? "info" : "warn", `vhid ${r.vhid}@${r.interface}: ${r.file} ${r.args.join(" ")}: ${r.error ?? (r.timedOut ? "timed out" : `exit ${r.code ?? r.signal}`)} (${r.durationMs} ms)`, { event: "hook", vhid: r.vhid, interface: r.interface, file: r.file, code: r.code, to: r.to });
    this.emit("hook", r);
  }

  /** A VIP of a MASTER vhid vanished (someone ran `ip addr del`): put it back. */
  private onAddressRemoved(ev: AddressEvent): void {
    if (this.stopping) return;
    const ifr = this.ifs.get(ev.ifname);
    if (!ifr) return;
    for (const [vhid, rt] of ifr.vhids) {
      if (!rt.cfg.manageVip || ifr.cluster.get(vhid)?.state !== "MASTER") continue;
      const vip = rt.cfg.addresses.find((a) => a.address === ev.address && a.prefix === ev.prefix);
      if (!vip) continue;
      rt.vipChain = rt.vipChain.then(async () => {
        if (ifr.cluster.get(vhid)?.state !== "MASTER") return;
        const r = await this.vips.add(ifr.name, vhid, vip);
        if (r.ok && r.value) this.log.warn(`vhid ${vhid}@${ifr.name}: VIP ${vip.address}/${vip.prefix} vanished while MASTER; re-added`, { event: "vipReadded", interface: ifr.name, vhid, address: vip.address });
        else if (!r.ok) this.log.error(`vhid ${vhid}@${ifr.name}: re-adding ${vip.address}: ${r.error}`);
      });
    }
  }

  // ---- control ------------------------------------------------------------------------------

  private findVhid(vhid: number, ifname?: string): IfRt {
    const hits = [...this.ifs.values()].filter((i) => i.vhids.has(vhid) && (ifname === undefined || i.name === ifname));
    if (hits.length === 0) throw new CarpNodeError(`--vhid: no vhid ${vhid}${ifname ? ` on ${ifname}` : ""} configured`, "usage");
    if (hits.length > 1) throw new CarpNodeError(`--vhid: vhid ${vhid} exists on ${hits.map((h) => h.name).join(", ")}; add --interface`, "usage");
    return hits[0];
  }

  /** Applies `carp set` changes at once. Throws CarpNodeError naming the flag on bad values. */
  set(req: SetRequest): VhidReport {
    const ifr = this.findVhid(req.vhid, req.interface);
    const now = this.now();
    const run = (flag: string, r: { actions: TaggedAction[]; error?: string }) => {
      if (r.error) throw new CarpNodeError(`${flag}: ${r.error}`, "usage");
      this.exec(ifr, r.actions);
    };
    const c = ifr.cluster;
    let advertNow = false;
    if (req.advbase !== undefined) {
      run("--advbase", c.command(req.vhid, { op: "setAdvbase", value: req.advbase }, now));
      advertNow = true;
    }
    if (req.advskew !== undefined) {
      run("--advskew", c.command(req.vhid, { op: "setAdvskew", value: req.advskew }, now));
      advertNow = true;
    }
    if (req.preempt !== undefined) run("--preempt", c.command(req.vhid, { op: "setPreempt", value: req.preempt }, now));
    if (req.demote !== undefined) run("--demote", c.command(req.vhid, { op: "demote", delta: req.demote }, now));
    if (req.state !== undefined) run("--state", c.command(req.vhid, { op: "force", state: req.state === "master" ? "MASTER" : "BACKUP" }, now));
    // A MASTER tells its peers about a new advbase/advskew now rather than at its next interval.
    if (advertNow) run("--advskew", c.command(req.vhid, { op: "advertise" }, now));
    const rt = ifr.vhids.get(req.vhid)!;
    const changes = Object.entries(req).filter(([k, v]) => k !== "vhid" && k !== "interface" && v !== undefined).map(([k, v]) => `${k} ${v}`);
    this.log.info(`vhid ${req.vhid}@${ifr.name}: set ${changes.join(", ")}`, { event: "set", interface: ifr.name, vhid: req.vhid });
    return this.report(ifr, rt);
  }

  /** ucarp SIGUSR2: every MASTER becomes BACKUP (it may win again after master-down). */
  forceBackup(): void {
    const now = this.now();
    for (const ifr of this.ifs.values()) {
      for (const vhid of ifr.vhids.keys()) {
        if (ifr.cluster.get(vhid)?.state !== "MASTER") continue;
        const r = ifr.cluster.command(vhid, { op: "force", state: "BACKUP" }, now);
        if (r.error) this.log.warn(`vhid ${vhid}@${ifr.name}: ${r.error}`);
        this.exec(ifr, r.actions);
      }
    }
  }

  /**
   * Applies a new configuration (SIGHUP). Unchanged vhids keep their state; advbase/advskew/preempt/demote
   * changes are applied as commands (MASTER stays MASTER); other changes rebuild the vhid; removed vhids
   * stop gracefully (bow-out when MASTER).
   */
  async reload(next: Config): Promise<string[]> {
    const done: string[] = [];
    const oldByKey = new Map(this.config.vhids.map((v) => [`${v.vhid}@${v.interface}`, v]));
    const newByKey = new Map(next.vhids.map((v) => [`${v.vhid}@${v.interface}`, v]));
    for (const v of next.vhids) this.buildAuth(v); // validate before touching anything
    if (next.devdConf !== this.config.devdConf) this.devd = next.devdConf !== undefined ? this.loadDevd(next.devdConf) : null;
    this.log.format = next.logFormat;
    this.log.debugEnabled = next.debug;
    if (next.facility !== this.config.facility) {
      await this.syslog?.close();
      this.syslog = null;
      this.openSyslog(next.facility);
    }
    const now = this.now();
    for (const [key, old] of oldByKey) {
      const nv = newByKey.get(key);
      if (nv && structuralKey(nv) === structuralKey(old)) continue;
      const ifr = this.ifs.get(old.interface)!;
      const rt = ifr.vhids.get(old.vhid)!;
      this.exec(ifr, ifr.cluster.remove(old.vhid, now, true).actions);
      for (const t of ["advertise", "masterDown4", "masterDown6"] as const) this.disarm(ifr, old.vhid, t);
      await rt.vipChain;
      ifr.vhids.delete(old.vhid);
      done.push(nv ? `vhid ${key}: rebuilt` : `vhid ${key}: removed`);
    }
    for (const [key, nv] of newByKey) {
      const old = oldByKey.get(key);
      let ifr = this.ifs.get(nv.interface);
      if (old && ifr?.vhids.has(nv.vhid)) {
        const req: SetRequest = { vhid: nv.vhid, interface: nv.interface };
        if (nv.advskew !== old.advskew) req.advskew = nv.advskew;
        if (nv.advbase !== old.advbase) req.advbase = nv.advbase;
        if (nv.preempt !== old.preempt) req.preempt = nv.preempt;
        if (nv.demote !== old.demote) req.demote = nv.demote - old.demote;
        if (Object.keys(req).length > 2) {
          this.set(req);
          done.push(`vhid ${key}: updated`);
        }
        ifr.vhids.get(nv.vhid)!.cfg = nv;
        continue;
      }
      if (!ifr) {
        const info = await interfaceInfo(nv.interface);
        if (!info.ok) throw new CarpNodeError(`--interface: no such interface ${JSON.stringify(nv.interface)}`, "usage");
        await this.openInterface(nv.interface, [nv], info.value.mac, info.value.addresses.map((a) => a.address));
        ifr = this.ifs.get(nv.interface)!;
      } else {
        this.addVhidRt(ifr, nv);
        this.ensureSockets(ifr);
      }
      this.startVhid(ifr, nv.vhid, nv, now);
      if (!old) done.push(`vhid ${key}: added`);
    }
    this.config = next;
    this.log.info(`configuration reloaded${done.length ? ": " + done.join("; ") : " (no vhid changed)"}`, { event: "reload" });
    return done;
  }

  // ---- status -------------------------------------------------------------------------------

  private report(ifr: IfRt, rt: VhidRt): VhidReport {
    const s = ifr.cluster.status().vhids.find((x) => x.vhid === rt.cfg.vhid)!;
    const now = this.now();
    return {
      interface: ifr.name,
      vhid: s.vhid,
      state: s.state,
      reason: s.reason,
      since: s.since === null ? null : epochMs(s.since),
      advbase: s.advbase,
      advskew: s.advskew,
      effectiveAdvskew: s.effectiveAdvskew,
      demotion: s.demotion,
      preempt: s.preempt,
      semantics: s.semantics,
      addresses: rt.cfg.addresses.map((a) => `${a.address}/${a.prefix}`),
      manageVip: rt.cfg.manageVip,
      linkUp: s.linkUp,
      lastMaster: s.lastMaster
        ? { address: s.lastMaster.address, family: s.lastMaster.family, at: epochMs(s.lastMaster.at), agoMs: Math.round(now - s.lastMaster.at), advbase: s.lastMaster.advbase, advskew: s.lastMaster.advskew, bowOut: s.lastMaster.bowOut }
        : null,
      counters: { ...s.stats, ...rt.rx },
    };
  }

  status(): NodeStatus {
    const vhids: VhidReport[] = [];
    let globalDemotion = 0;
    for (const ifr of this.ifs.values()) {
      globalDemotion = Math.max(globalDemotion, ifr.cluster.globalDemotion);
      for (const rt of ifr.vhids.values()) if (ifr.cluster.get(rt.cfg.vhid)) vhids.push(this.report(ifr, rt));
    }
    return { pid: process.pid, startedAt: this.startedAt, globalDemotion, carpstats: { ...this.carpstats }, vhids };
  }

  /** One line per vhid, as ucarp's SIGUSR1 logs it. */
  logStatus(): void {
    for (const v of this.status().vhids) {
      this.log.info(`${v.state} on ${v.interface} id ${v.vhid} (${v.reason}; advbase ${v.advbase} advskew ${v.effectiveAdvskew}${v.lastMaster ? `; last advert from ${v.lastMaster.address} ${v.lastMaster.agoMs} ms ago` : ""})`, { event: "status", interface: v.interface, vhid: v.vhid, state: v.state });
    }
  }
}
