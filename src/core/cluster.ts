// Every vhid of one process (keyed by interface + vhid: vhid numbers are per interface) behind a
// quinn-style boundary: inputs go in with handleInput/handleTimeout, timers are deadlines the caller
// learns from pollTimeout(), and the outputs come out of three ordered queues (pollTransmit, pollEffect,
// pollEvent). One demotion ledger for the whole process. Still pure: every call takes `now`.
import type { Action, ClusterInput, Command, Effect, Event, Result, TimerName, Transmit, VhidParams, VhidRef, VhidState, VhidStatus } from "./types.js";
import { createVhid, status as vhidStatus, step, type VhidInit } from "./vhid.js";

/** A timer handled this late (ms) or less runs at its deadline (no drift); a later one at `now`. */
export const MAX_CATCH_UP_MS = 100;

/** One contributor to the global demotion: who, how much, why, since when (and which vhid caused it). */
export interface DemotionEntry {
  source: string; // "config", "user", "ifdown:eth0/3", "senderr:eth0/3", "vipadd:eth0/3", or any caller's name
  value: number;
  reason: string;
  since: number;
  ref?: VhidRef; // the vhid a fault entry comes from
  group?: string; // applies only to vhids in this demotion group (OpenBSD carpdemote); none = every vhid
}

/** Why a vhid advertises the skew it does: the global entries plus its own demotion. */
export interface DemotionView {
  total: number;
  global: number; // the ledger entries that apply to this vhid (unscoped plus its groups)
  vhid: number;
  entries: DemotionEntry[]; // those ledger entries, then the vhid's own ("vhid") when non-zero
}

export interface ClusterStatus {
  globalDemotion: number;
  ledger: DemotionEntry[];
  badvhid: number; // adverts for a vhid this cluster does not have
  vhids: (VhidStatus & { ifname: string })[];
}

/** A FIFO that does not shift arrays (a pass of 255 vhids queues hundreds of items). */
class Queue<T> {
  private items: T[] = [];
  private head = 0;
  push(x: T): void {
    this.items.push(x);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return x;
  }
  get length(): number {
    return this.items.length - this.head;
  }
}

interface Entry {
  ref: VhidRef;
  state: VhidState;
}

const keyOf = (r: VhidRef) => `${r.vhid}@${r.ifname}`;
const refName = (r: VhidRef) => (r.ifname ? `${r.ifname}/${r.vhid}` : `vhid ${r.vhid}`);
const toRef = (r: VhidRef | number): VhidRef => (typeof r === "number" ? { ifname: "", vhid: r } : r);
const byRef = (a: Entry, b: Entry) => (a.ref.ifname < b.ref.ifname ? -1 : a.ref.ifname > b.ref.ifname ? 1 : a.ref.vhid - b.ref.vhid);

export class Cluster {
  private readonly entries = new Map<string, Entry>();
  private sorted: Entry[] | null = [];
  private readonly ledger = new Map<string, DemotionEntry>();
  private readonly transmits = new Queue<Transmit>();
  private readonly effects = new Queue<Effect>();
  private readonly events = new Queue<Event>();
  private seq = 0;
  private badvhid = 0;

  /** The current global demotion: the sum of the unscoped ledger entries (may be negative; each vhid clamps). */
  get globalDemotion(): number {
    let sum = 0;
    for (const e of this.ledger.values()) if (e.group === undefined) sum += e.value;
    return sum;
  }

  /** The ledger's demotion for a vhid in `groups`: unscoped entries plus those of its groups. */
  demotionFor(groups: readonly string[]): number {
    let sum = 0;
    for (const e of this.ledger.values()) if (e.group === undefined || groups.includes(e.group)) sum += e.value;
    return sum;
  }

  /** How many vhids are in demotion group `name`. */
  groupSize(name: string): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.state.params.groups.includes(name)) n++;
    return n;
  }

  /** Adds a vhid in INIT on `ifname` ("" when there is only one). Start it with a "start" command. */
  add(ifname: string, params: VhidParams, init: Omit<VhidInit, "globalDemotion">): Result<VhidState> {
    const ref = { ifname, vhid: params?.vhid };
    if (this.entries.has(keyOf(ref))) return { ok: false, errors: [`vhid ${params.vhid}${ifname ? ` on ${ifname}` : ""} already exists`] };
    const r = createVhid(params, { ...init, globalDemotion: this.demotionFor(Array.isArray(params?.groups) ? params.groups : []) });
    if (r.ok) {
      this.entries.set(keyOf(ref), { ref: { ifname, vhid: r.value.params.vhid }, state: r.value });
      this.sorted = null;
    }
    return r;
  }

  /** Stops (graceful: bow-out if MASTER) and forgets a vhid; its fault demotions are given back. */
  remove(ref: VhidRef | number, now: number, graceful = true): string | undefined {
    const r = toRef(ref);
    const err = this.handleInput({ kind: "command", ref: r, command: { op: "stop", graceful } }, now);
    if (err) return err;
    this.entries.delete(keyOf(r));
    this.sorted = null;
    return undefined;
  }

  get(ref: VhidRef | number): VhidState | undefined {
    return this.entries.get(keyOf(toRef(ref)))?.state;
  }

  /** Every vhid, by interface then vhid. */
  refs(): VhidRef[] {
    return this.list().map((e) => e.ref);
  }

  /** Feeds one input. Returns an error message for a rejected input (nothing changed then). */
  handleInput(input: ClusterInput, now: number): string | undefined {
    switch (input.kind) {
      case "advert": {
        const e = this.entries.get(keyOf({ ifname: input.ifname, vhid: input.header.vhid }));
        if (!e) {
          this.badvhid++;
          return undefined;
        }
        return this.stepVhid(e, { kind: "advert", from: input.from, family: input.family, header: input.header, ...(input.vrrp ? { vrrp: input.vrrp } : {}) }, now);
      }
      case "link":
        for (const e of this.list()) if (e.ref.ifname === input.ifname) this.stepVhid(e, { kind: "link", up: input.up }, now);
        return undefined;
      case "sendResult":
      case "vipResult":
      case "command": {
        const e = this.entries.get(keyOf(input.ref));
        if (!e) return `no vhid ${input.ref.vhid}${input.ref.ifname ? ` on ${input.ref.ifname}` : ""}`;
        if (input.kind === "sendResult") return this.stepVhid(e, { kind: "sendResult", ok: input.ok }, now);
        if (input.kind === "vipResult") return this.onVipResult(e, input, now);
        const err = this.stepVhid(e, { kind: "command", command: input.command }, now);
        if (!err && input.command.op === "stop") this.clearSource(`vipadd:${refName(e.ref)}`, `${refName(e.ref)}: stopped`, now);
        if (!err && input.command.op === "set" && input.command.groups) this.broadcastDemotion(now); // new groups: new ledger value
        return err;
      }
      case "demotion": {
        const prev = this.ledger.get(input.source);
        const cur = prev?.value ?? 0;
        const v = input.value !== undefined ? input.value - cur : input.delta;
        if (!Number.isInteger(v)) return "demotion must be an integer";
        if (input.group !== undefined && (typeof input.group !== "string" || input.group === "")) return "group must be a name";
        if (prev && cur !== 0 && prev.group !== input.group) return `demotion source ${input.source} belongs to ${prev.group ? `group ${prev.group}` : "every vhid"}`;
        if (v === 0) {
          // Same value, new reason (a check's last output line): keep `since`.
          if (prev && input.reason !== undefined) prev.reason = input.reason;
          return undefined;
        }
        this.adjustLedger(input.source, v!, input.reason ?? "user requested", now, undefined, input.group);
        this.broadcastDemotion(now);
        return undefined;
      }
      default:
        return `unknown input kind ${String((input as { kind: unknown }).kind)}`;
    }
  }

  /** Shorthand for a command input. */
  command(ref: VhidRef | number, command: Command, now: number): string | undefined {
    return this.handleInput({ kind: "command", ref: toRef(ref), command }, now);
  }

  /**
   * Runs every timer whose deadline is <= now (advertise timers also up to `advertiseUntil`, for a
   * caller that prepares a big advert pass ahead of time), in deadline order. Each runs with `now` = its
   * own deadline unless that is more than MAX_CATCH_UP_MS ago, so periodic adverts do not drift by the
   * caller's wake-up lateness.
   */
  handleTimeout(now: number, advertiseUntil = now): void {
    const due: { e: Entry; timer: TimerName; at: number }[] = [];
    for (const e of this.list()) {
      const t = e.state.timers;
      for (const timer of ["advertise", "masterDown4", "masterDown6"] as const) {
        const at = t[timer];
        if (at !== undefined && (at <= now || (timer === "advertise" && at <= advertiseUntil))) due.push({ e, timer, at });
      }
    }
    due.sort((a, b) => a.at - b.at);
    for (const d of due) {
      if (d.e.state.timers[d.timer] !== d.at || !this.entries.has(keyOf(d.e.ref))) continue; // changed by an earlier one
      this.stepVhid(d.e, { kind: "timer", timer: d.timer }, now - d.at <= MAX_CATCH_UP_MS ? d.at : now);
    }
  }

  /** The earliest deadline of any vhid, or undefined when no timer runs. */
  pollTimeout(): number | undefined {
    let min: number | undefined;
    for (const e of this.entries.values()) {
      const t = e.state.timers;
      for (const at of [t.advertise, t.masterDown4, t.masterDown6]) if (at !== undefined && (min === undefined || at < min)) min = at;
    }
    return min;
  }

  /** The earliest advertise deadline, or undefined. */
  nextAdvertise(): number | undefined {
    let min: number | undefined;
    for (const e of this.entries.values()) {
      const at = e.state.timers.advertise;
      if (at !== undefined && (min === undefined || at < min)) min = at;
    }
    return min;
  }

  /** How many advertise deadlines are <= until (to size the lead of a batched advert pass). */
  advertsDue(until: number): number {
    let n = 0;
    for (const e of this.entries.values()) {
      const at = e.state.timers.advertise;
      if (at !== undefined && at <= until) n++;
    }
    return n;
  }

  pollTransmit(): Transmit | undefined {
    return this.transmits.shift();
  }

  pollEffect(): Effect | undefined {
    return this.effects.shift();
  }

  pollEvent(): Event | undefined {
    return this.events.shift();
  }

  /** "Why is this vhid demoted": the global ledger plus the vhid's own demotion. */
  demotionOf(ref: VhidRef | number): DemotionView | undefined {
    const e = this.entries.get(keyOf(toRef(ref)));
    if (!e) return undefined;
    const groups = e.state.params.groups;
    const global = this.demotionFor(groups);
    const own = e.state.params.demote;
    const entries = [...this.ledger.values()].filter((x) => x.group === undefined || groups.includes(x.group)).map((x) => ({ ...x }));
    if (own !== 0) entries.push({ source: "vhid", value: own, reason: "configured or set for this vhid", since: 0, ref: e.ref });
    return { total: global + own, global, vhid: own, entries };
  }

  status(): ClusterStatus {
    return {
      globalDemotion: this.globalDemotion,
      ledger: [...this.ledger.values()].map((e) => ({ ...e })),
      badvhid: this.badvhid,
      vhids: this.list().map((e) => ({ ...vhidStatus(e.state), ifname: e.ref.ifname })),
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  private list(): Entry[] {
    if (!this.sorted) this.sorted = [...this.entries.values()].sort(byRef);
    return this.sorted;
  }

  private stepVhid(e: Entry, input: Parameters<typeof step>[1], now: number): string | undefined {
    const r = step(e.state, input, now);
    if (r.error) return r.error;
    e.state = r.state;
    let demoted = false;
    for (const a of r.actions) {
      if (a.kind === "demote") {
        this.adjustLedger(`${a.source}:${refName(e.ref)}`, a.delta, a.reason, now, e.ref);
        demoted = true;
      } else this.route(e.ref, a);
    }
    if (demoted) this.broadcastDemotion(now);
    return undefined;
  }

  /** One action of a step into its queue; `seq` keeps the step's order across queues. */
  private route(ref: VhidRef, a: Action): void {
    const seq = ++this.seq;
    switch (a.kind) {
      case "send":
        this.transmits.push({ ref, seq, family: a.family, advert: a.advert, bowOut: a.bowOut });
        return;
      case "vips":
        this.effects.push({ kind: "vips", ref, seq, op: a.op });
        return;
      case "announce":
        this.effects.push({ kind: "announce", ref, seq, why: a.why, families: a.families });
        return;
      case "transition":
        this.events.push({ kind: "transition", ref, from: a.from, to: a.to, reason: a.reason, neutral: a.neutral });
        return;
      case "log":
        this.events.push({ kind: "log", ref, level: a.level, message: a.message });
        return;
      case "demote":
        return; // handled by stepVhid
    }
  }

  /** A VIP that cannot be added demotes like senderr (named "vipadd:<vhid>"); a later success undoes it. */
  private onVipResult(e: Entry, r: Extract<ClusterInput, { kind: "vipResult" }>, now: number): string | undefined {
    const source = `vipadd:${refName(e.ref)}`;
    if (r.op !== "add") {
      if (!r.ok) this.events.push({ kind: "log", ref: e.ref, level: "warn", message: `${refName(e.ref)}: cannot remove a VIP: ${r.error ?? "failed"}` });
      return undefined;
    }
    if (r.ok) {
      this.clearSource(source, `${refName(e.ref)}: VIPs added`, now);
      return undefined;
    }
    const value = e.state.params.senderrDemotion;
    if (this.ledger.has(source) || value === 0) return undefined;
    this.adjustLedger(source, value, `${refName(e.ref)}: cannot add a VIP: ${r.error ?? "failed"}`, now, e.ref);
    this.broadcastDemotion(now);
    return undefined;
  }

  private clearSource(source: string, reason: string, now: number): void {
    const cur = this.ledger.get(source);
    if (!cur) return;
    this.adjustLedger(source, -cur.value, reason, now, cur.ref);
    this.broadcastDemotion(now);
  }

  private adjustLedger(source: string, delta: number, reason: string, now: number, ref?: VhidRef, group?: string): void {
    const e = this.ledger.get(source);
    const value = (e?.value ?? 0) + delta;
    if (value === 0) this.ledger.delete(source);
    else this.ledger.set(source, { source, value, reason, since: e?.since ?? now, ...(ref ? { ref } : {}), ...(group !== undefined ? { group } : {}) });
    this.events.push({ kind: "demotion", source, delta, value: this.globalDemotion, reason, ...(group !== undefined ? { group } : {}) });
  }

  /** Every vhid learns its new ledger value (unscoped + its groups); a MASTER advertises at once when it changed. */
  private broadcastDemotion(now: number): void {
    for (const e of this.list()) {
      const value = this.demotionFor(e.state.params.groups);
      if (e.state.globalDemotion === value) continue;
      const r = step(e.state, { kind: "globalDemotion", value }, now);
      e.state = r.state;
      for (const a of r.actions) this.route(e.ref, a);
    }
  }
}
