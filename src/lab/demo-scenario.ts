// The demo scenario (`carp demo`): two of our nodes and optionally a ucarp node sharing one VIP in a
// lab, an observer capturing adverts and running `carp inspect --summary`; then election, crash of
// the master, preemptive return, graceful handover. Every phase checks its outcome on the wire
// (capture) and from the observer's ARP view, and records measured times. Rendering is elsewhere.
import { AdvertCapture, measureTakeover, type Advert } from "./capture.js";
import { LabNode, carpCli, type NodeKind } from "./nodes.js";
import type { LabProcess } from "./proc.js";
import { LabError, sleep } from "./sys.js";
import { Lab, type LabHost } from "./topology.js";

export const DEMO_PREFIX = "carpdemo-";
export const DEMO_VIP = "198.51.100.100";
export const DEMO_VHID = 1;
export const DEMO_PASS = "carpdemo";
const ADVBASE = 1;

export interface DemoOptions {
  /** Seconds the steady state is shown before the master is killed. */
  steadySeconds: number;
  /** Add a ucarp node (h3) when true. */
  ucarp: boolean;
  /** Keep the capture as a pcap file at this path. */
  pcapFile?: string;
  /** Namespace prefix; default carpdemo-<pid>-. */
  prefix?: string;
  onEvent?: (e: DemoEvent) => void;
}

export type PhaseName = "topology" | "election" | "steady" | "failover" | "preempt" | "handover" | "cleanup";

export interface PhaseResult {
  phase: PhaseName;
  ok: boolean;
  /** One line saying what happened (or what failed). */
  detail: string;
  /** Measured numbers, ms. */
  measured?: Record<string, number>;
}

export type DemoEvent =
  | { kind: "phase"; phase: PhaseName; title: string }
  | { kind: "result"; result: PhaseResult }
  | { kind: "transition"; t: number; node: string; to: string }
  | { kind: "note"; text: string };

export interface NodeRow {
  name: string;
  impl: NodeKind;
  addr: string;
  mac: string;
  advskew: number;
  state: string;
  adverts: number;
  /** ms since this node's last advert, or null. */
  lastAdvertAgo: number | null;
  hasVip: boolean;
}

export interface Snapshot {
  phase: PhaseName | null;
  rows: NodeRow[];
  vip: string;
  /** Name of the host answering ARP for the VIP as seen by the observer (or the MAC, or null). */
  vipOwner: string | null;
  adverts: number;
}

export interface DemoReport {
  startedAt: string;
  prefix: string;
  vip: string;
  vhid: number;
  nodes: { name: string; impl: NodeKind; addr: string; advskew: number; preempt: boolean }[];
  phases: PhaseResult[];
  adverts: Record<string, number>;
  inspect: { problems: number; master: string | null; transitions: number; packets: number; interval_mean_s: number | null; problemList: string[] } | null;
  /** The last node to advertise in the capture (the master at the end, as seen on the wire). */
  finalMaster: string | null;
  ok: boolean;
}

/** FreeBSD/ucarp master-down time for a backup: 3 × advbase + advskew / 256 seconds. */
export function masterDownMs(advbase: number, advskew: number): number {
  return (3 * advbase + advskew / 256) * 1000;
}

export class DemoScenario {
  lab: Lab | null = null;
  readonly nodes: LabNode[] = [];
  obs: LabHost | null = null;
  capture: AdvertCapture | null = null;
  inspect: LabProcess | null = null;
  phase: PhaseName | null = null;
  vipOwner: string | null = null;
  readonly results: PhaseResult[] = [];
  private probing = false;
  /** advskew each node was started with (the handover changes h1's). */
  private initialSkew = new Map<string, number>();
  private readonly startedAt = new Date();

  constructor(readonly opts: DemoOptions) {}

  private emit(e: DemoEvent): void {
    if (this.phase === "cleanup" && e.kind === "transition") return;
    this.opts.onEvent?.(e);
  }

  private node(name: string): LabNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new LabError(`no node ${name}`);
    return n;
  }

  private start(phase: PhaseName, title: string): void {
    this.phase = phase;
    this.emit({ kind: "phase", phase, title });
  }

  private finish(result: PhaseResult): PhaseResult {
    this.results.push(result);
    this.emit({ kind: "result", result });
    return result;
  }

  /** Runs every phase in order; stops at the first failed phase. Always tears the lab down. */
  async run(): Promise<DemoReport> {
    try {
      const phases: [PhaseName, string, () => Promise<PhaseResult>][] = [
        ["topology", "building the namespaces", () => this.topology()],
        ["election", "starting the nodes; waiting for one master", () => this.election()],
        ["steady", `steady state for ${this.opts.steadySeconds} s`, () => this.steady()],
        ["failover", "the master dies: SIGKILL and its link cut, as in a power loss", () => this.failover()],
        ["preempt", "bringing h1 back (preempt)", () => this.preempt()],
        ["handover", "graceful handover: carp set --advskew 200 on h1", () => this.handover()],
      ];
      for (const [name, title, fn] of phases) {
        this.start(name, title);
        let r: PhaseResult;
        try {
          r = await fn();
        } catch (e) {
          r = { phase: name, ok: false, detail: e instanceof Error ? e.message.split("\n")[0] : String(e) };
        }
        this.finish(r);
        if (!r.ok) break;
      }
      await this.stopObserver();
    } finally {
      this.teardown();
    }
    return this.report();
  }

  // ---------------------------------------------------------------- phases

  private async topology(): Promise<PhaseResult> {
    const prefix = this.opts.prefix ?? `${DEMO_PREFIX}${process.pid}-`;
    const lab = Lab.create({ prefix });
    this.lab = lab;
    // ucarp without preempt: with it, ucarp also preempts h1's advskew-200 adverts during the handover
    // and, as it steps down only on its next poll() wakeup, overlaps h2 as a second master for ~1 s.
    const spec: [string, NodeKind, number, boolean][] = [
      ["h1", "carp", 0, true],
      ["h2", "carp", 50, true],
    ];
    if (this.opts.ucarp) spec.push(["h3", "ucarp", 100, false]);
    spec.forEach(([name, kind, advskew, preempt], i) => {
      const h = lab.addHost(name, { addrs: [`198.51.100.${11 + i}/24`] });
      this.nodes.push(new LabNode(kind, h, { vhid: DEMO_VHID, vip: `${DEMO_VIP}/24`, password: DEMO_PASS, advbase: ADVBASE, advskew, preempt }));
      this.initialSkew.set(name, advskew);
    });
    this.obs = lab.addHost("obs", { addrs: ["198.51.100.2/24"] });
    return {
      phase: "topology",
      ok: true,
      detail: `bridge + ${this.nodes.length} nodes + observer in namespaces ${prefix}{sw,${[...lab.hosts.keys()].join(",")}}; VIP ${DEMO_VIP}, vhid ${DEMO_VHID}`,
    };
  }

  private async election(): Promise<PhaseResult> {
    const obs = this.obs!;
    this.capture = await AdvertCapture.start(obs, { pcapFile: this.opts.pcapFile });
    this.inspect = obs.spawn(process.execPath, [carpCli(), "inspect", "--interface", obs.ifname, "--summary", "--json", "--pass", DEMO_PASS, "--vip", `${DEMO_VHID}=${DEMO_VIP}`]);
    const t0 = Date.now();
    await Promise.all(this.nodes.map((n) => this.startNode(n)));
    this.startProbing();
    const h1 = this.node("h1");
    const ok = await this.waitStates({ h1: "MASTER", ...Object.fromEntries(this.others("h1").map((n) => [n.name, "BACKUP"])) }, 12000);
    if (!ok) return { phase: "election", ok: false, detail: `no single master after 12 s: ${this.states()}` };
    const owner = await this.waitOwner("h1", 3000);
    const t = h1.transitions.find((x) => x.to === "MASTER")?.t ?? Date.now();
    return {
      phase: "election",
      ok: owner,
      detail: owner
        ? `h1 (lowest advskew) MASTER ${fmtS(t - t0)} after start; ${this.others("h1").map((n) => n.name).join(", ")} BACKUP; observer's ARP for ${DEMO_VIP} answered by h1`
        : `h1 is MASTER but the observer's ARP for ${DEMO_VIP} is answered by ${this.vipOwner ?? "nobody"}`,
      measured: { electionMs: t - t0 },
    };
  }

  private async steady(): Promise<PhaseResult> {
    const since = Date.now();
    await sleep(this.opts.steadySeconds * 1000);
    const h1 = this.node("h1");
    const ads = this.capture!.select((a) => a.vhid === DEMO_VHID, since);
    const fromH1 = ads.filter((a) => a.src === h1.host.addr);
    const others = ads.filter((a) => a.src !== h1.host.addr);
    const expect = Math.floor(this.opts.steadySeconds / ADVBASE);
    const ok = fromH1.length >= Math.max(1, expect - 1) && others.length === 0 && (await h1.poll()) === "MASTER";
    const gaps = fromH1.slice(1).map((a, i) => a.t - fromH1[i].t);
    const mean = gaps.length ? gaps.reduce((s, g) => s + g, 0) / gaps.length : NaN;
    return {
      phase: "steady",
      ok,
      detail: ok
        ? `${fromH1.length} advert${fromH1.length === 1 ? "" : "s"} from h1 in ${this.opts.steadySeconds} s${gaps.length ? ` (mean interval ${fmtS(mean)})` : ""}, none from the backups`
        : `expected ~${expect} adverts from h1 only, saw ${fromH1.length} from h1 and ${others.length} from others; ${this.states()}`,
      measured: gaps.length ? { meanIntervalMs: mean } : undefined,
    };
  }

  private async failover(): Promise<PhaseResult> {
    const h1 = this.node("h1");
    const h2 = this.node("h2");
    const killedAt = Date.now();
    // A crashed process leaves its VIP on the interface; a dead host does not answer ARP at all.
    this.lab!.linkDown("h1");
    await h1.kill();
    const first = await this.capture!.waitFor((a) => a.vhid === DEMO_VHID && a.src !== h1.host.addr, 10000, killedAt).catch(() => null);
    if (!first) return { phase: "failover", ok: false, detail: `no node took over within 10 s: ${this.states()}` };
    if (first.src !== h2.host.addr) return { phase: "failover", ok: false, detail: `${this.nameOf(first.src)} advertised first, expected h2 (advskew 50)` };
    const m = measureTakeover(this.capture!.adverts, DEMO_VHID, h2.host.addr, killedAt);
    const owner = await this.waitOwner("h2", 3000);
    const vipMoved = Date.now() - killedAt;
    const expected = masterDownMs(ADVBASE, h2.opts.advskew ?? 0);
    const gap = m?.gapMs ?? first.t - killedAt;
    const ok = owner && (await this.waitStates({ h2: "MASTER" }, 2000));
    return {
      phase: "failover",
      ok,
      detail: ok
        ? `h2 took over: ${fmtS(gap)} from h1's last advert to h2's first (protocol master-down 3×${ADVBASE} + 50/256 = ${fmtS(expected)}); observer's ARP answered by h2 ${fmtS(vipMoved)} after the kill`
        : `h2 advertised but ${owner ? `reports ${h2.state}` : `the VIP is answered by ${this.vipOwner ?? "nobody"}`}`,
      measured: { takeoverMs: gap, masterDownMs: expected, killToFirstAdvertMs: first.t - killedAt },
    };
  }

  private async preempt(): Promise<PhaseResult> {
    const h1 = this.node("h1");
    const t0 = Date.now();
    this.lab!.linkUp("h1");
    await this.startNode(h1);
    const ok = await this.waitStates({ h1: "MASTER", h2: "BACKUP" }, 10000);
    if (!ok) return { phase: "preempt", ok: false, detail: `h1 did not take the VIP back within 10 s: ${this.states()}` };
    const back = h1.transitions.filter((x) => x.t >= t0 && x.to === "MASTER").at(-1)?.t ?? Date.now();
    const owner = await this.waitOwner("h1", 3000);
    const firstAd = this.capture!.select((a) => a.src === h1.host.addr && a.vhid === DEMO_VHID, t0)[0];
    const intruders = await this.settled(h1, firstAd?.t ?? back);
    if (owner && intruders) return { phase: "preempt", ok: false, detail: `h1 took over but ${intruders} kept advertising` };
    return {
      phase: "preempt",
      ok: owner,
      detail: owner
        ? `h1 back (link up, restarted): BACKUP, heard h2's slower advert (advskew 50 > 0) and preempted ${fmtS(back - t0)} after start; VIP answered by h1 again`
        : `h1 is MASTER but the VIP is answered by ${this.vipOwner ?? "nobody"}`,
      measured: { preemptMs: back - t0, ...(firstAd ? { firstAdvertMs: firstAd.t - t0 } : {}) },
    };
  }

  private async handover(): Promise<PhaseResult> {
    const h1 = this.node("h1");
    const h2 = this.node("h2");
    const t0 = Date.now();
    h1.setAdvskew(200);
    const first = await this.capture!.waitFor((a) => a.vhid === DEMO_VHID && a.src === h2.host.addr, 5000, t0).catch(() => null);
    if (!first) return { phase: "handover", ok: false, detail: `h2 did not take over within 5 s: ${this.states()}` };
    const ok = await this.waitStates({ h2: "MASTER", h1: "BACKUP" }, 3000);
    const owner = ok && (await this.waitOwner("h2", 3000));
    const lastH1 = this.capture!.select((a) => a.src === h1.host.addr && a.t < first.t).at(-1);
    const intruders = await this.settled(h2, first.t);
    if (owner && intruders) return { phase: "handover", ok: false, detail: `h2 took over but ${intruders} kept advertising` };
    return {
      phase: "handover",
      ok: owner,
      detail: owner
        ? `h1 advertised advskew 200, h2 (advskew 50, preempt) took over ${fmtS(first.t - t0)} after the command${lastH1 ? `, ${fmtS(first.t - lastH1.t)} after h1's advert` : ""}; no gap in adverts; h1 BACKUP`
        : `after the handover: ${this.states()}, VIP answered by ${this.vipOwner ?? "nobody"}`,
      measured: { handoverMs: first.t - t0 },
    };
  }

  // ---------------------------------------------------------------- helpers

  private async startNode(n: LabNode): Promise<void> {
    await n.start();
    const seen = n.transitions.length;
    const proc = n.proc!;
    // Report transitions as they appear in the node's log.
    let idx = seen;
    proc.on("line", () => {
      while (idx < n.transitions.length) {
        const tr = n.transitions[idx++];
        this.emit({ kind: "transition", t: tr.t, node: n.name, to: tr.to });
      }
    });
  }

  /**
   * Waits until 2.6 s after a takeover at `t` and returns the names of other nodes still advertising
   * more than 1 s after it (a second master), or null when only `master` did.
   */
  private async settled(master: LabNode, t: number): Promise<string | null> {
    await sleep(Math.max(0, t + 2600 - Date.now()));
    const late = this.capture!.select((a) => a.vhid === DEMO_VHID && a.src !== master.host.addr, t + 1000);
    return late.length ? [...new Set(late.map((a) => this.nameOf(a.src)))].join(", ") : null;
  }

  private others(name: string): LabNode[] {
    return this.nodes.filter((n) => n.name !== name);
  }

  private states(): string {
    return this.nodes.map((n) => `${n.name} ${n.refresh()}`).join(", ");
  }

  nameOf(ip: string): string {
    return this.nodes.find((n) => n.host.addr === ip)?.name ?? ip;
  }

  /** Polls the named nodes (ours through `carp status`, concurrently) until each is in its state. */
  private async waitStates(want: Record<string, string>, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    for (;;) {
      const got = await Promise.all(Object.keys(want).map((n) => this.node(n).poll()));
      if (Object.values(want).every((s, i) => got[i] === s)) return true;
      if (Date.now() >= end) return false;
      await sleep(100);
    }
  }

  private async probeOwner(): Promise<string | null> {
    const mac = await this.obs!.resolve(DEMO_VIP, 400);
    this.vipOwner = mac ? (this.nodes.find((n) => n.host.mac === mac)?.name ?? mac) : null;
    return this.vipOwner;
  }

  private async waitOwner(name: string, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if ((await this.probeOwner()) === name) return true;
      await sleep(100);
    }
    return false;
  }

  /** Background ARP probe for the live table (every 500 ms). */
  private startProbing(): void {
    this.probing = true;
    const loop = async () => {
      while (this.probing && this.obs) {
        await this.probeOwner().catch(() => null);
        await sleep(500);
      }
    };
    void loop();
  }

  private inspectSummary: DemoReport["inspect"] = null;

  private async stopObserver(): Promise<void> {
    this.probing = false;
    const p = this.inspect;
    if (p?.running) {
      p.signal("SIGINT");
      const timer = setTimeout(() => p.signal("SIGKILL"), 3000);
      await p.exited;
      clearTimeout(timer);
      const out = p.lines.filter((l) => l.stream === "stdout").map((l) => l.text).join("\n");
      const start = out.indexOf("{");
      try {
        const s = JSON.parse(out.slice(start)) as {
          problems: number;
          packets: { total: number };
          vhids: { vhid: number; master: { ip: string } | null; transitions: number; interval: { mean_s: number | null }; problems: { code: string; message: string }[] }[];
          other_problems: { code: string; message: string }[];
        };
        const v = s.vhids.find((x) => x.vhid === DEMO_VHID);
        this.inspectSummary = {
          problems: s.problems,
          packets: s.packets.total,
          master: v?.master ? this.nameOf(v.master.ip) : null,
          transitions: v?.transitions ?? 0,
          interval_mean_s: v?.interval.mean_s ?? null,
          problemList: [...(v?.problems ?? []), ...s.other_problems].map((p) => `${p.code}: ${p.message}`),
        };
      } catch {
        this.emit({ kind: "note", text: `carp inspect gave no summary: ${p.tail(1)}` });
      }
    }
    await this.capture?.stop();
  }

  private teardown(): void {
    this.probing = false;
    const lab = this.lab;
    if (!lab) return;
    this.start("cleanup", "removing the namespaces");
    const names = [lab.switchNs, ...[...lab.hosts.values()].map((h) => h.ns)];
    lab.destroy();
    this.finish({ phase: "cleanup", ok: true, detail: `removed ${names.length} namespaces (${lab.prefix}*) and their processes` });
  }

  /** Live view for the table. */
  snapshot(): Snapshot {
    const now = Date.now();
    const ads = this.capture?.adverts ?? [];
    return {
      phase: this.phase,
      vip: DEMO_VIP,
      vipOwner: this.vipOwner,
      adverts: ads.length,
      rows: this.nodes.map((n) => {
        const mine = ads.filter((a) => a.src === n.host.addr);
        const last: Advert | undefined = mine.at(-1);
        let hasVip = false;
        try {
          hasVip = n.host.has(DEMO_VIP);
        } catch {
          /* lab gone */
        }
        return {
          name: n.name,
          impl: n.kind,
          addr: n.host.addr,
          mac: n.host.mac,
          advskew: n.opts.advskew ?? 0,
          state: n.state,
          adverts: mine.length,
          lastAdvertAgo: last ? now - last.t : null,
          hasVip,
        };
      }),
    };
  }

  report(): DemoReport {
    const adverts: Record<string, number> = {};
    for (const n of this.nodes) adverts[n.name] = this.capture?.select((a) => a.src === n.host.addr).length ?? 0;
    const ok = this.results.length > 0 && this.results.every((r) => r.ok) && this.results.some((r) => r.phase === "handover");
    return {
      startedAt: this.startedAt.toISOString(),
      prefix: this.lab?.prefix ?? "",
      vip: DEMO_VIP,
      vhid: DEMO_VHID,
      nodes: this.nodes.map((n) => ({ name: n.name, impl: n.kind, addr: n.host.addr, advskew: this.initialSkew.get(n.name) ?? n.opts.advskew ?? 0, preempt: n.opts.preempt === true })),
      phases: this.results,
      adverts,
      inspect: this.inspectSummary,
      finalMaster: (() => {
        const last = this.capture?.adverts.filter((a) => a.vhid === DEMO_VHID).at(-1);
        return last ? this.nameOf(last.src) : null;
      })(),
      ok,
    };
  }
}

export function fmtS(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
