// Many vhids in one process sharing FreeBSD's global demotion (net.inet.carp.demotion). Still pure:
// every method takes `now` and returns actions tagged with their vhid.
import type { Action, Command, Input, ReceivedAdvert, Result, VhidParams, VhidState, VhidStatus } from "./types.js";
import { createVhid, status as vhidStatus, step, type VhidInit } from "./vhid.js";

export interface TaggedAction {
  vhid: number;
  action: Action;
}

export interface ClusterResult {
  actions: TaggedAction[];
  error?: string;
}

/** One contributor to the global demotion: who, how much, why, since when. */
export interface DemotionEntry {
  source: string; // "user", "ifdown:vhid 3", "senderr:vhid 3", or any name a caller uses
  value: number;
  reason: string;
  since: number;
}

export interface ClusterStatus {
  globalDemotion: number;
  ledger: DemotionEntry[];
  badvhid: number; // adverts for a vhid this cluster does not have
  vhids: VhidStatus[];
}

export class Cluster {
  private readonly states = new Map<number, VhidState>();
  private readonly ledger = new Map<string, DemotionEntry>();
  private badvhid = 0;

  /** The current global demotion: the sum of the ledger (may be negative; each vhid clamps). */
  get globalDemotion(): number {
    let sum = 0;
    for (const e of this.ledger.values()) sum += e.value;
    return sum;
  }

  /** Adds a vhid in INIT. Start it with command(vhid, { op: "start" }). */
  add(params: VhidParams, init: Omit<VhidInit, "globalDemotion">): Result<VhidState> {
    if (this.states.has(params?.vhid)) return { ok: false, errors: [`vhid ${params.vhid} already exists`] };
    const r = createVhid(params, { ...init, globalDemotion: this.globalDemotion });
    if (r.ok) this.states.set(r.value.params.vhid, r.value);
    return r;
  }

  /** Stops (graceful: bow-out if MASTER) and forgets a vhid; its fault demotion is given back. */
  remove(vhid: number, now: number, graceful = true): ClusterResult {
    const r = this.input(vhid, { kind: "command", command: { op: "stop", graceful } }, now);
    if (!r.error) this.states.delete(vhid);
    return r;
  }

  get(vhid: number): VhidState | undefined {
    return this.states.get(vhid);
  }

  vhids(): number[] {
    return [...this.states.keys()].sort((a, b) => a - b);
  }

  /** Feeds one input to one vhid, then applies any fault demotion it reported to every vhid. */
  input(vhid: number, input: Input, now: number): ClusterResult {
    const s = this.states.get(vhid);
    if (!s) return { actions: [], error: `no vhid ${vhid}` };
    const r = step(s, input, now);
    if (r.error) return { actions: [], error: r.error };
    this.states.set(vhid, r.state);
    const out: TaggedAction[] = r.actions.map((action) => ({ vhid, action }));
    let changed = false;
    for (const a of r.actions) {
      if (a.kind !== "demote") continue;
      this.adjustLedger(`${a.source}:vhid ${vhid}`, a.delta, a.reason, now);
      changed = true;
    }
    if (changed) out.push(...this.broadcastDemotion(now));
    return { actions: out };
  }

  /** Routes a received advert by its vhid. Unknown vhid: counted as badvhid, no actions. */
  receive(pkt: ReceivedAdvert, now: number): ClusterResult {
    if (!this.states.has(pkt.header.vhid)) {
      this.badvhid++;
      return { actions: [] };
    }
    return this.input(pkt.header.vhid, { kind: "advert", ...pkt }, now);
  }

  /** A command for one vhid. */
  command(vhid: number, command: Command, now: number): ClusterResult {
    return this.input(vhid, { kind: "command", command }, now);
  }

  /** The same command for every vhid (ascending vhid order); stops at the first error. */
  commandAll(command: Command, now: number): ClusterResult {
    const actions: TaggedAction[] = [];
    for (const v of this.vhids()) {
      const r = this.input(v, { kind: "command", command }, now);
      if (r.error) return { actions, error: r.error };
      actions.push(...r.actions);
    }
    return { actions };
  }

  /** Link state of the interface carrying these vhids (all of them when `vhids` is omitted). */
  link(up: boolean, now: number, vhids: number[] = this.vhids()): ClusterResult {
    const actions: TaggedAction[] = [];
    for (const v of vhids) {
      const r = this.input(v, { kind: "link", up }, now);
      if (r.error) return { actions, error: r.error };
      actions.push(...r.actions);
    }
    return { actions };
  }

  /**
   * Adds delta to the global demotion, like writing net.inet.carp.demotion on FreeBSD (writes add).
   * Every MASTER advertises at once when the value changes.
   */
  adjustGlobalDemotion(delta: number, now: number, source = "user", reason = "user requested"): ClusterResult {
    if (!Number.isInteger(delta)) return { actions: [], error: "demotion must be an integer" };
    if (delta === 0) return { actions: [] };
    this.adjustLedger(source, delta, reason, now);
    return { actions: this.broadcastDemotion(now) };
  }

  /** Sets one ledger source to an absolute value (e.g. a health check's contribution). */
  setDemotionSource(source: string, value: number, now: number, reason = "user requested"): ClusterResult {
    if (!Number.isInteger(value)) return { actions: [], error: "demotion must be an integer" };
    const cur = this.ledger.get(source)?.value ?? 0;
    return this.adjustGlobalDemotion(value - cur, now, source, reason);
  }

  status(): ClusterStatus {
    return {
      globalDemotion: this.globalDemotion,
      ledger: [...this.ledger.values()].map((e) => ({ ...e })),
      badvhid: this.badvhid,
      vhids: this.vhids().map((v) => vhidStatus(this.states.get(v)!)),
    };
  }

  private adjustLedger(source: string, delta: number, reason: string, now: number): void {
    const e = this.ledger.get(source);
    const value = (e?.value ?? 0) + delta;
    if (value === 0) this.ledger.delete(source);
    else this.ledger.set(source, { source, value, reason, since: e?.since ?? now });
  }

  private broadcastDemotion(now: number): TaggedAction[] {
    const value = this.globalDemotion;
    const out: TaggedAction[] = [];
    for (const v of this.vhids()) {
      const r = step(this.states.get(v)!, { kind: "globalDemotion", value }, now);
      this.states.set(v, r.state);
      for (const action of r.actions) out.push({ vhid: v, action });
    }
    return out;
  }
}
