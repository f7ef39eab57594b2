// A deterministic discrete-event simulator: N nodes, each a Cluster, whose send actions are delivered
// to the other nodes' inputs with a chosen latency and loss. Virtual time only; used by the tests, the
// "dry-run election" view and the demo. Pure: no clock, no Math.random (loss uses a seeded PRNG).
import type { CarpHeader, IpFamily } from "../protocol/types.js";
import { Cluster } from "./cluster.js";
import type { Action, AdvertOut, CarpState, Command, Result, VhidParams } from "./types.js";

export interface SimNodeConfig {
  name: string;
  address4?: string;
  address6?: string;
  vhids: VhidParams[]; // ownAddresses defaults to this node's addresses
  seed?: bigint; // counter start (default: derived from the name); vhid n uses seed + n
}

export interface Delivery {
  from: string; // node names
  to: string;
  t: number;
  vhid: number;
  family: IpFamily;
}

export type LossFn = (d: Delivery) => boolean;

export interface SimOptions {
  latencyMs?: number | ((d: Delivery) => number); // default 1
  loss?: LossFn; // true = drop
  loopback?: boolean; // also deliver a node's adverts to itself (as multicast loopback would)
}

export interface TransitionRecord {
  t: number;
  node: string;
  vhid: number;
  from: CarpState;
  to: CarpState;
  reason: string;
}

export interface ActionRecord {
  t: number;
  node: string;
  vhid: number;
  action: Action;
}

export type NodeState = CarpState | "DEAD";

/** mulberry32: a tiny seeded PRNG, so loss patterns are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A default counter seed per node name (FNV-1a), so OpenBSD cookies differ between nodes. */
function nameSeed(name: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const ch of Buffer.from(name)) h = ((h ^ BigInt(ch)) * 0x100000001b3n) & 0xffffffffffffn;
  return h << 8n;
}

/** Drops each delivery with probability `rate`, reproducibly. */
export function seededLoss(rate: number, seed: number): LossFn {
  const rnd = seededRandom(seed);
  return () => rnd() < rate;
}

type Event =
  | { t: number; seq: number; kind: "wake"; node: string; gen: number }
  | { t: number; seq: number; kind: "deliver"; node: string; from: string; family: IpFamily; advert: AdvertOut }
  | { t: number; seq: number; kind: "script"; fn: (sim: Simulator) => void };

interface SimNode {
  cfg: SimNodeConfig;
  cluster: Cluster;
  alive: boolean;
  linkUp: boolean;
  wake: number; // generation of the node's one pending wake-up (at its cluster's pollTimeout()); 0 = none
}

export class Simulator {
  now = 0;
  readonly transitions: TransitionRecord[] = [];
  readonly actions: ActionRecord[] = [];
  private readonly nodes = new Map<string, SimNode>();
  private readonly queue: Event[] = [];
  private seq = 0;
  private gen = 0;
  // timeline[node][vhid] = [{t, state}], for dual-master measurement
  private readonly timeline = new Map<string, { t: number; state: NodeState }[]>();

  constructor(private readonly opts: SimOptions = {}) {}

  addNode(cfg: SimNodeConfig): Result<void> {
    if (this.nodes.has(cfg.name)) return { ok: false, errors: [`node ${cfg.name} exists`] };
    const built = this.build(cfg);
    if (!built.ok) return built;
    this.nodes.set(cfg.name, { cfg, cluster: built.value, alive: true, linkUp: true, wake: 0 });
    for (const p of cfg.vhids) this.mark(cfg.name, p.vhid, "INIT");
    return { ok: true, value: undefined };
  }

  /** Starts every vhid of a node now. */
  start(name: string): void {
    const n = this.node(name);
    for (const r of n.cluster.refs()) n.cluster.command(r, { op: "start" }, this.now);
    this.apply(n);
  }

  /** Crash: no bow-out, timers gone, nothing received. */
  kill(name: string): void {
    const n = this.node(name);
    n.alive = false;
    n.wake = 0;
    for (const r of n.cluster.refs()) this.mark(name, r.vhid, "DEAD");
  }

  /** Restart a killed (or running) node as a fresh process with optional parameter changes, and start it. */
  revive(name: string, patch: Partial<VhidParams> = {}): Result<void> {
    const n = this.node(name);
    const cfg = { ...n.cfg, vhids: n.cfg.vhids.map((p) => ({ ...p, ...patch, vhid: p.vhid })) };
    const built = this.build(cfg);
    if (!built.ok) return built;
    n.cfg = cfg;
    n.cluster = built.value;
    n.alive = true;
    n.linkUp = true;
    n.wake = 0;
    for (const r of n.cluster.refs()) this.mark(name, r.vhid, "INIT");
    this.start(name);
    return { ok: true, value: undefined };
  }

  /** A command for one vhid of a node; returns the core's error, if any. */
  command(name: string, vhid: number, command: Command): string | undefined {
    const n = this.node(name);
    const err = n.cluster.command(vhid, command, this.now);
    this.apply(n);
    return err;
  }

  /** Adds delta to the node's "user" global demotion source. */
  adjustGlobalDemotion(name: string, delta: number): string | undefined {
    const n = this.node(name);
    const err = n.cluster.handleInput({ kind: "demotion", source: "user", delta }, this.now);
    this.apply(n);
    return err;
  }

  link(name: string, up: boolean): void {
    const n = this.node(name);
    n.linkUp = up;
    n.cluster.handleInput({ kind: "link", ifname: "", up }, this.now);
    this.apply(n);
  }

  /** Schedule a scenario step at absolute virtual time t. */
  at(t: number, fn: (sim: Simulator) => void): void {
    this.push({ t, seq: 0, kind: "script", fn });
  }

  /** Process every event with time <= t, then set now = t. */
  runUntil(t: number): void {
    while (this.queue.length && this.queue[0].t <= t) {
      const e = this.queue.shift()!;
      this.now = e.t;
      this.handle(e);
    }
    this.now = t;
  }

  cluster(name: string): Cluster {
    return this.node(name).cluster;
  }

  state(name: string, vhid: number): NodeState {
    const n = this.node(name);
    if (!n.alive) return "DEAD";
    return n.cluster.get(vhid)?.state ?? "INIT";
  }

  masters(vhid: number): string[] {
    return [...this.nodes.keys()].filter((k) => this.state(k, vhid) === "MASTER");
  }

  /** Total virtual ms in [from, to) during which two or more nodes were MASTER of `vhid`. */
  dualMasterMs(vhid: number, from = 0, to = this.now): number {
    const points = new Set<number>([from, to]);
    for (const [key, tl] of this.timeline) if (key.endsWith(`#${vhid}`)) for (const p of tl) points.add(p.t);
    const ts = [...points].filter((t) => t >= from && t <= to).sort((a, b) => a - b);
    let total = 0;
    for (let i = 0; i + 1 < ts.length; i++) {
      if (this.mastersAt(vhid, ts[i]) >= 2) total += ts[i + 1] - ts[i];
    }
    return total;
  }

  /** Time of the first transition of node/vhid to `to` at or after `after`. */
  firstTransition(name: string, vhid: number, to: CarpState, after = 0): TransitionRecord | undefined {
    return this.transitions.find((r) => r.node === name && r.vhid === vhid && r.to === to && r.t >= after);
  }

  // ---- internals ----------------------------------------------------------------------------

  private build(cfg: SimNodeConfig): Result<Cluster> {
    const c = new Cluster();
    const own = [cfg.address4, cfg.address6].filter((a): a is string => !!a);
    for (const p of cfg.vhids) {
      const r = c.add("", { ...p, ownAddresses: p.ownAddresses ?? own }, { counter: (cfg.seed ?? nameSeed(cfg.name)) + BigInt(p.vhid) });
      if (!r.ok) return { ok: false, errors: r.errors.map((e) => `${cfg.name} vhid ${p.vhid}: ${e}`) };
    }
    return { ok: true, value: c };
  }

  private node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`simulator: no node ${name}`); // a scenario bug, not user input
    return n;
  }

  private mastersAt(vhid: number, t: number): number {
    let count = 0;
    for (const [key, tl] of this.timeline) {
      if (!key.endsWith(`#${vhid}`)) continue;
      let st: NodeState = "INIT";
      for (const p of tl) if (p.t <= t) st = p.state;
      if (st === "MASTER") count++;
    }
    return count;
  }

  private mark(name: string, vhid: number, state: NodeState): void {
    const key = `${name}#${vhid}`;
    const tl = this.timeline.get(key) ?? [];
    tl.push({ t: this.now, state });
    this.timeline.set(key, tl);
  }

  private push(e: Event): void {
    e.seq = ++this.seq;
    // keep the queue sorted by (t, seq): binary search for the insertion point
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const q = this.queue[mid];
      if (q.t < e.t || (q.t === e.t && q.seq < e.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, e);
  }

  private handle(e: Event): void {
    if (e.kind === "script") return e.fn(this);
    const n = this.node(e.node);
    if (!n.alive) return;
    if (e.kind === "wake") {
      if (n.wake !== e.gen) return; // superseded by a newer wake-up
      n.wake = 0;
      n.cluster.handleTimeout(this.now);
      this.apply(n);
      return;
    }
    if (!n.linkUp) return;
    const header: CarpHeader = {
      version: 2,
      type: 1,
      vhid: e.advert.vhid,
      advskew: e.advert.advskew,
      authlen: 7,
      demote: e.advert.demote,
      advbase: e.advert.advbase,
      checksum: 0,
      counter: e.advert.counter,
      hmac: Buffer.alloc(20),
    };
    n.cluster.handleInput({ kind: "advert", ifname: "", from: e.from, family: e.family, header }, this.now);
    this.apply(n);
  }

  /** Drains the node's queues (adverts delivered, everything recorded) and plans its next wake-up. */
  private apply(n: SimNode): void {
    const name = n.cfg.name;
    const c = n.cluster;
    const rec = (vhid: number, action: Action) => this.actions.push({ t: this.now, node: name, vhid, action });
    for (let t = c.pollTransmit(); t; t = c.pollTransmit()) {
      rec(t.ref.vhid, { kind: "send", family: t.family, advert: t.advert, bowOut: t.bowOut });
      this.deliver(n, t.family, t.advert);
    }
    for (let f = c.pollEffect(); f; f = c.pollEffect()) {
      rec(f.ref.vhid, f.kind === "vips" ? { kind: "vips", op: f.op } : { kind: "announce", why: f.why, families: f.families });
    }
    for (let ev = c.pollEvent(); ev; ev = c.pollEvent()) {
      if (ev.kind === "transition") {
        rec(ev.ref.vhid, { kind: "transition", from: ev.from, to: ev.to, reason: ev.reason, neutral: ev.neutral });
        this.transitions.push({ t: this.now, node: name, vhid: ev.ref.vhid, from: ev.from, to: ev.to, reason: ev.reason });
        this.mark(name, ev.ref.vhid, ev.to);
      } else if (ev.kind === "log") rec(ev.ref?.vhid ?? 0, { kind: "log", level: ev.level, message: ev.message });
    }
    const at = c.pollTimeout();
    if (at === undefined || !n.alive) {
      n.wake = 0;
      return;
    }
    n.wake = ++this.gen;
    this.push({ t: Math.max(at, this.now), seq: 0, kind: "wake", node: name, gen: n.wake });
  }

  private deliver(src: SimNode, family: IpFamily, advert: AdvertOut): void {
    const from = family === 4 ? src.cfg.address4 : src.cfg.address6;
    if (!from) return;
    for (const [name, dst] of this.nodes) {
      if (dst === src && !this.opts.loopback) continue;
      const d: Delivery = { from: src.cfg.name, to: name, t: this.now, vhid: advert.vhid, family };
      if (this.opts.loss?.(d)) continue;
      const lat = this.opts.latencyMs ?? 1;
      const latency = typeof lat === "function" ? lat(d) : lat;
      this.push({ t: this.now + latency, seq: 0, kind: "deliver", node: name, from, family, advert });
    }
  }
}
