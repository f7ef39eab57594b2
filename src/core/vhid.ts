// One CARP state machine per vhid (carp-protocol.md §3, §4). step(state, input, now) returns a new
// state and the actions to perform, in the order to perform them; timers are deadlines in the state
// (state.timers), not actions. Nothing here reads a clock, draws random numbers or does I/O.
import type { IpFamily } from "../protocol/types.js";
import { decideAsBackup, decideAsMaster, isBowOut, type OurSide } from "./election.js";
import { advbaseError, advskewError, isIPv4, resolveParams } from "./params.js";
import { advertIntervalUs, BOW_OUT, MAX_SKEW, masterDownUs, usToMs, willTimeOutUs } from "./timing.js";
import {
  primaryAddress,
  VRRP_BOW_OUT,
  VRRP_OWNER,
  vrrpDecideAsBackup,
  vrrpDecideAsMaster,
  vrrpEffectivePriority,
  vrrpIntervalUs,
  vrrpMasterDownUs,
  vrrpSkewUs,
} from "./vrrp.js";
import type {
  Action,
  AdvertOut,
  CarpState,
  Command,
  Input,
  ReceivedAdvert,
  Result,
  StepResult,
  TimerName,
  VhidParams,
  VhidState,
  VhidStats,
  VhidStatus,
} from "./types.js";

const U64 = (1n << 64n) - 1n;
const SENDAD_MAX_ERRORS = 3; // CARP_SENDAD_MAX_ERRORS
const SENDAD_MIN_SUCCESS = 3; // CARP_SENDAD_MIN_SUCCESS
const MD_TIMER: Record<IpFamily, TimerName> = { 4: "masterDown4", 6: "masterDown6" };

export interface VhidInit {
  counter: bigint; // random 64-bit start (FreeBSD/ucarp) or replay cookie (OpenBSD), drawn by the caller
  linkUp?: boolean; // default true
  globalDemotion?: number; // default 0
  // antiReplay after a restart: refuse adverts up to `accept`, send above `send` (the reserved ceiling of
  // the state file). Default 0 for both (a first start knows nothing).
  replay?: { accept: bigint; send: bigint };
}

/** antiReplay: refused adverts in a row from one source before it is reported as not increasing. */
export const REPLAY_WARN_AFTER = 3;

const zeroStats = (): VhidStats => ({
  ipackets: 0,
  ipackets6: 0,
  opackets: 0,
  opackets6: 0,
  preempt: 0,
  transitions: 0,
  badvhid: 0,
  ownLoops: 0,
  badreplay: 0,
  bowOutsReceived: 0,
  sendErrors: 0,
});

/** A new vhid in INIT. Feed it { kind: "command", command: { op: "start" } } to run the election. */
export function createVhid(params: VhidParams, init: VhidInit): Result<VhidState> {
  const r = resolveParams(params);
  if (!r.ok) return r;
  const errors: string[] = [];
  if (typeof init?.counter !== "bigint" || init.counter < 0n || init.counter > U64) {
    errors.push("counter must be a bigint 0..2^64-1");
  }
  const rp = init?.replay ?? { accept: 0n, send: 0n };
  if ([rp.accept, rp.send].some((x) => typeof x !== "bigint" || x < 0n || x > U64)) errors.push("replay floors must be bigints 0..2^64-1");
  const g = init?.globalDemotion ?? 0;
  if (!Number.isInteger(g)) errors.push("globalDemotion must be an integer");
  if (errors.length) return { ok: false, errors };
  return {
    ok: true,
    value: {
      params: r.value,
      state: "INIT",
      reason: "created",
      since: null,
      running: false,
      linkUp: init.linkUp ?? true,
      everLeftInit: false,
      globalDemotion: g,
      seed: init.counter,
      counter: init.counter,
      counterFresh: true,
      replay: { high: rp.accept, sendFloor: rp.send, refusedFrom: null, refusedRun: 0, refusedCounter: null, warned: [] },
      timers: {},
      delayedAnnounce: -1,
      ifdownDemoted: false,
      senderrDemoted: false,
      sendErrors: 0,
      sendSuccesses: 0,
      bowOutFrom: null,
      lastMaster: null,
      stats: zeroStats(),
      preemptHoldUntil: null,
      bootHold: false,
      ...(r.value.vrrp ? { vrrpMasterCs: r.value.vrrp.intervalCs } : {}),
    },
  };
}

// ---- derived values -------------------------------------------------------------------------

/** Global + per-vhid demotion, unclamped. */
export function totalDemotion(s: VhidState): number {
  return s.globalDemotion + s.params.demote;
}

/**
 * The advskew this vhid advertises and compares with. freebsd: clamp(advskew + demotion, 0, 240)
 * (FB14 DEMOTE_ADVSKEW, with the PR 259528 clamp at 0). openbsd: raw advskew (demotion travels in the
 * demote byte). ucarp: raw unless demoted, then raised like its suppress-preempt (clamped to 240).
 */
export function effectiveAdvskew(s: VhidState): number {
  const { advskew, semantics } = s.params;
  const d = totalDemotion(s);
  if (semantics === "openbsd") return advskew;
  if (semantics === "ucarp" && d === 0) return advskew;
  return Math.min(MAX_SKEW, Math.max(0, advskew + d));
}

/** OpenBSD demote byte: the demotion count clamped to 0..255; 0 for the other semantics. */
export function demoteByte(s: VhidState): number {
  if (s.params.semantics !== "openbsd") return 0;
  return Math.min(255, Math.max(0, totalDemotion(s)));
}

function families(s: VhidState): IpFamily[] {
  const f: IpFamily[] = [];
  if (s.params.vips.v4 > 0) f.push(4);
  if (s.params.vips.v6 > 0) f.push(6);
  return f;
}

function ourSide(s: VhidState): OurSide {
  const p = s.params;
  // FreeBSD compares and runs the "will time out" rule with the demoted skew; OpenBSD with the raw
  // one; ucarp with the suppressed one. effectiveAdvskew already encodes exactly that.
  const skew = effectiveAdvskew(s);
  return {
    advbase: p.advbase,
    advskew: skew,
    demote: demoteByte(s),
    willTimeOutUs: willTimeOutUs(p.semantics, p.advbase, skew, p.deadratio),
    preempt: p.preempt,
    address4: p.ownAddresses.find(isIPv4),
    tieBreakOrder: p.tieBreakOrder,
  };
}

/** VRRPv3: the priority advertised and compared with (demotion lowers it), or null for a CARP vhid. */
export function vrrpPriority(s: VhidState): number | null {
  return s.params.vrrp ? vrrpEffectivePriority(s.params.vrrp.priority, totalDemotion(s)) : null;
}

/** Master-down timeout in µs: own advbase, raw advskew (ucarp: suppressed skew). VRRPv3: 3 * learned interval + skew. */
export function masterDownFor(s: VhidState): number {
  const p = s.params;
  if (p.vrrp) return vrrpMasterDownUs(vrrpPriority(s)!, s.vrrpMasterCs ?? p.vrrp.intervalCs);
  const skew = p.semantics === "ucarp" ? effectiveAdvskew(s) : p.advskew;
  return masterDownUs(p.semantics, p.advbase, skew, p.deadratio);
}

/** Advertisement interval in µs. `first`: the arming right after takeover, which FreeBSD does with the raw skew. */
export function advertIntervalFor(s: VhidState, first = false): number {
  const p = s.params;
  if (p.vrrp) return vrrpIntervalUs(p.vrrp.intervalCs);
  const skew = p.semantics === "openbsd" || (first && p.semantics === "freebsd") ? p.advskew : effectiveAdvskew(s);
  return advertIntervalUs(p.semantics, p.advbase, skew);
}

// ---- the step function ----------------------------------------------------------------------

/** Mutable working copy + collected actions for one step. */
class Step {
  s: { -readonly [K in keyof VhidState]: VhidState[K] };
  stats: VhidStats;
  timers: Partial<Record<TimerName, number>>;
  actions: Action[] = [];
  constructor(
    prev: VhidState,
    readonly now: number,
  ) {
    this.stats = { ...prev.stats };
    this.timers = { ...prev.timers };
    this.s = { ...prev, stats: this.stats, timers: this.timers };
  }
  get state(): VhidState {
    return this.s;
  }
  log(level: "info" | "warn" | "debug", message: string): void {
    this.actions.push({ kind: "log", level, message });
  }
  arm(timer: TimerName, us: number): void {
    this.timers[timer] = this.now + usToMs(us);
  }
  disarm(timer: TimerName): void {
    delete this.timers[timer];
  }
  disarmAll(): void {
    for (const t of ["advertise", "masterDown4", "masterDown6"] as const) this.disarm(t);
  }
  setState(to: CarpState, reason: string): void {
    const from = this.s.state;
    const neutral = from === "INIT" && to === "BACKUP" && this.s.params.neutral && !this.s.everLeftInit;
    if (to !== "INIT") this.s.everLeftInit = true;
    this.s.reason = reason;
    if (from === to) return;
    this.s.state = to;
    this.s.since = this.now;
    this.stats.transitions++;
    this.actions.push({ kind: "transition", from, to, reason, neutral });
  }
  nextCounter(): bigint {
    const s = this.s;
    if (s.params.semantics === "openbsd") return s.seed; // constant replay cookie
    if (s.params.antiReplay) {
      // Always above anything sent or accepted (and a restart's reserved ceiling); no wrap past 2^64-1.
      const r = s.replay;
      let next = s.counterFresh ? s.seed : s.counter + 1n;
      const floor = r.high > r.sendFloor ? r.high : r.sendFloor;
      if (next <= floor) next = floor + 1n;
      if (next > U64) next = U64;
      s.counter = next;
      s.counterFresh = false;
      s.replay = { ...r, high: next };
      return next;
    }
    s.counter = s.counterFresh ? s.seed : (s.counter + 1n) & U64;
    s.counterFresh = false;
    return s.counter;
  }
  /** One advert per family that has VIPs; counts the delayed announce like OpenBSD's carp_send_ad. */
  sendAdverts(bowOut = false): void {
    const s = this.s;
    for (const family of families(s)) {
      const advert: AdvertOut = {
        vhid: s.params.vhid,
        advbase: bowOut ? BOW_OUT : s.params.advbase,
        advskew: bowOut ? BOW_OUT : effectiveAdvskew(s),
        demote: demoteByte(s),
        counter: s.params.vrrp ? 0n : this.nextCounter(),
      };
      if (s.params.vrrp) advert.vrrp = { priority: bowOut ? VRRP_BOW_OUT : vrrpPriority(s)!, intervalCs: s.params.vrrp.intervalCs };
      if (family === 4) this.stats.opackets++;
      else this.stats.opackets6++;
      this.actions.push({ kind: "send", family, advert, bowOut });
    }
    if (bowOut) return;
    if (s.delayedAnnounce > 0) s.delayedAnnounce--;
    if (s.delayedAnnounce === 0) {
      s.delayedAnnounce = -1;
      this.actions.push({ kind: "announce", why: "delayed", families: families(s) });
    }
  }
  /** BACKUP timers: both families (af undefined) or just one. */
  armMasterDown(af?: IpFamily): void {
    for (const f of families(this.s)) if (af === undefined || af === f) this.arm(MD_TIMER[f], masterDownFor(this.s));
  }
  /** carp_setrun for a running vhid in INIT/BACKUP: INIT -> BACKUP when the link allows, timers on. */
  setrun(reason: string): void {
    const s = this.s;
    if (!s.running) return;
    if (!s.linkUp) {
      this.log("info", `vhid ${s.params.vhid}: waiting for the interface to come up`);
      return;
    }
    if (s.params.vrrp && s.state === "INIT") {
      s.vrrpMasterCs = s.params.vrrp.intervalCs; // RFC 9568 §6.4.1: Master_Adver_Interval := Advertisement_Interval
      if (vrrpPriority(s) === VRRP_OWNER) {
        this.becomeMaster(`${reason}; address owner (priority 255)`);
        return;
      }
    }
    if (s.state === "INIT") this.setState("BACKUP", reason);
    if (s.state === "BACKUP") this.armMasterDown();
  }
  /** BACKUP/INIT -> MASTER (carp_master_down_locked). */
  becomeMaster(reason: string): void {
    const s = this.s;
    this.disarm("masterDown4");
    this.disarm("masterDown6");
    this.setState("MASTER", reason);
    this.stats.preempt++;
    s.bowOutFrom = null;
    s.bootHold = false;
    const vips: Action = { kind: "vips", op: "add" };
    const announce: Action = { kind: "announce", why: "takeover", families: families(s) };
    s.delayedAnnounce = -1;
    // Every semantics in the kernels' order: the advert first (a backup learns of the new master at
    // once), then the address answers, then GARP/NA. ucarp runs its upscript and GARP before its first
    // advert, but nothing a ucarp peer checks on the wire depends on that local order.
    this.sendAdverts();
    this.actions.push(vips, announce);
    if (s.params.secondAnnounce) s.delayedAnnounce = 2;
    this.arm("advertise", advertIntervalFor(s, true));
  }
  /** MASTER -> BACKUP, timers restarted for both families. */
  becomeBackup(reason: string): void {
    this.disarm("advertise");
    this.s.delayedAnnounce = -1;
    this.actions.push({ kind: "vips", op: "remove" });
    this.setState("BACKUP", reason);
    this.armMasterDown();
  }
  /** Any state -> INIT, timers off, VIPs released. */
  becomeInit(reason: string): void {
    this.disarmAll();
    this.s.delayedAnnounce = -1;
    if (this.s.state === "MASTER") this.actions.push({ kind: "vips", op: "remove" });
    this.setState("INIT", reason);
  }
  demote(source: "ifdown" | "senderr", delta: number, reason: string): void {
    if (delta !== 0) this.actions.push({ kind: "demote", source, delta, reason });
  }
  result(error?: string): StepResult {
    return error === undefined ? { state: this.s, actions: this.actions } : { state: this.s, actions: this.actions, error };
  }
}

const describe = (from: string, advbase: number, advskew: number) => `${from} (advbase ${advbase} advskew ${advskew})`;

/** Feed one input at time `now` (ms). Returns the new state and what to do. */
export function step(prev: VhidState, input: Input, now: number): StepResult {
  const st = new Step(prev, now);
  switch (input.kind) {
    case "advert":
      onAdvert(st, input);
      return st.result();
    case "timer":
      onTimer(st, input.timer);
      return st.result();
    case "link":
      onLink(st, input.up);
      return st.result();
    case "sendResult":
      onSendResult(st, input.ok);
      return st.result();
    case "globalDemotion":
      if (!Number.isInteger(input.value)) return { state: prev, actions: [], error: "global demotion must be an integer" };
      if (input.value !== prev.globalDemotion) {
        // Less demoted (a check recovered): wait preemptDelay before taking the VIP back.
        if (input.value < prev.globalDemotion) holdPreemption(st);
        st.s.globalDemotion = input.value;
        advertiseNowIfMaster(st);
      }
      return st.result();
    case "command": {
      const err = onCommand(st, input.command);
      return err ? { state: prev, actions: [], error: err } : st.result();
    }
    default:
      return { state: prev, actions: [], error: `unknown input kind ${String((input as { kind: unknown }).kind)}` };
  }
}

/** A demotion change makes a MASTER advertise at once (FreeBSD carp_send_ad_all, OpenBSD carpdemote). */
function advertiseNowIfMaster(st: Step): void {
  if (st.s.state !== "MASTER") return;
  st.sendAdverts();
  st.arm("advertise", advertIntervalFor(st.s));
}

/** preemptDelay: no preemption (or OpenBSD demote takeover) for that long from now. */
function holdPreemption(st: Step): void {
  const ms = st.s.params.preemptDelayMs;
  if (ms > 0) st.s.preemptHoldUntil = st.now + ms;
}

/** Why a preemptive takeover must wait now (preemptDelay, startBackup), or null. */
function preemptionHeld(s: VhidState, now: number): string | null {
  if (s.bootHold) return "startBackup: not preempting a live master before our first time as MASTER";
  if (s.preemptHoldUntil !== null && now < s.preemptHoldUntil) return `preemptDelay: not preempting for ${((s.preemptHoldUntil - now) / 1000).toFixed(1)} s more`;
  return null;
}

function onAdvert(st: Step, pkt: ReceivedAdvert): void {
  const s = st.s;
  const p = s.params;
  const h = pkt.header;
  if (pkt.family === 4) st.stats.ipackets++;
  else st.stats.ipackets6++;
  // FreeBSD looks the vhid up among addresses of the packet's family: none of that family -> badvhid.
  if (h.vhid !== p.vhid || !families(s).includes(pkt.family)) {
    st.stats.badvhid++;
    return;
  }
  if (p.ownAddresses.includes(pkt.from) || (p.semantics === "openbsd" && h.counter === s.seed)) {
    st.stats.ownLoops++; // our own advert looped back: never an election input
    return;
  }
  if (p.vrrp || pkt.vrrp) {
    onVrrpAdvert(st, pkt);
    return;
  }
  if (p.antiReplay && !replayFresh(st, pkt)) return;
  // FreeBSD and ucarp store the peer's counter before running the state machine.
  if (p.semantics !== "openbsd") {
    s.counter = h.counter & U64;
    s.counterFresh = false;
  }
  const bowOut = isBowOut(h.advbase, h.advskew);
  if (bowOut) st.stats.bowOutsReceived++;
  s.lastMaster = {
    address: pkt.from,
    family: pkt.family,
    at: st.now,
    advbase: h.advbase,
    advskew: h.advskew,
    demote: h.demote,
    bowOut,
  };
  const theirs = { from: pkt.from, advbase: h.advbase, advskew: h.advskew, demote: h.demote };
  const peer = describe(pkt.from, h.advbase, h.advskew);
  if (s.state === "MASTER") {
    const d = decideAsMaster(p.semantics, ourSide(s), theirs);
    if (d.kind === "stepDown") {
      s.delayedAnnounce = -1;
      if (d.extraAdvert) st.sendAdverts(); // ucarp sends one more advert before it steps down
      const reason =
        d.why === "moreFrequent"
          ? `more frequent advertisement received from ${peer}`
          : d.why === "equal"
            ? `equal advertisement received from ${peer}`
            : d.why === "lostTieBreak"
              ? `equal advertisement from ${peer} wins the source-address tie-break`
              : `demoted by ${demoteByte(s)}: lower demote count ${h.demote} advertised by ${peer}`;
      const total = totalDemotion(s);
      const note = d.why !== "lessDemoted" && total !== 0 ? ` (we are demoted by ${total})` : "";
      st.becomeBackup(reason + note);
    } else if (d.reassert) {
      st.log("info", `vhid ${p.vhid}: keeping MASTER against ${peer}, re-announcing`);
      st.actions.push({ kind: "announce", why: "reassert", families: families(s) });
      if (p.secondAnnounce) s.delayedAnnounce = 2;
    }
    return;
  }
  if (s.state !== "BACKUP") return; // INIT ignores adverts
  let d = decideAsBackup(p.semantics, ourSide(s), theirs);
  if (d.kind === "takeover" && !bowOut && (d.why === "preempt" || d.why === "moreDemoted")) {
    const held = preemptionHeld(s, st.now);
    if (held) {
      st.log("debug", `vhid ${p.vhid}: ${held} (${peer})`);
      d = { kind: "restart" };
    }
  }
  if (d.kind === "restart") {
    s.bowOutFrom = bowOut ? pkt.from : null;
    st.armMasterDown(pkt.family);
    return;
  }
  const reason = bowOut
    ? `bow-out received from ${pkt.from}`
    : d.why === "preempt"
      ? `preempting a slower master ${peer}`
      : d.why === "moreDemoted"
        ? `taking over from more-demoted master ${peer} (demote ${h.demote} > ${demoteByte(s)})`
        : `master will time out: ${peer}`;
  st.becomeMaster(reason);
}

/** VRRPv3 (RFC 9568 §6.4.2, §6.4.3) for a version-3 vhid; a CARP advert there (or VRRP at a CARP vhid) is ignored. */
function onVrrpAdvert(st: Step, pkt: ReceivedAdvert): void {
  const s = st.s;
  const p = s.params;
  const v = pkt.vrrp;
  if (!p.vrrp || !v) {
    st.log("debug", `vhid ${p.vhid}: ${v ? "VRRPv3" : "CARP"} advert from ${pkt.from} ignored: this vhid speaks ${p.vrrp ? "VRRPv3" : "CARP"}`);
    return;
  }
  const bowOut = v.priority === VRRP_BOW_OUT;
  if (bowOut) st.stats.bowOutsReceived++;
  s.lastMaster = { address: pkt.from, family: pkt.family, at: st.now, advbase: 0, advskew: 0, demote: 0, bowOut, vrrp: { priority: v.priority, intervalCs: v.intervalCs } };
  const ours = vrrpPriority(s)!;
  const peer = `${pkt.from} (priority ${v.priority}, interval ${v.intervalCs} cs)`;
  if (s.state === "MASTER") {
    const d = vrrpDecideAsMaster({ priority: ours, address: primaryAddress(p.ownAddresses, pkt.family) }, { priority: v.priority, from: pkt.from });
    if (d.kind === "advertise") {
      st.sendAdverts();
      st.arm("advertise", advertIntervalFor(s));
    } else if (d.kind === "stepDown") {
      s.vrrpMasterCs = v.intervalCs;
      const note = totalDemotion(s) !== 0 ? ` (our priority ${ours}: demoted by ${totalDemotion(s)})` : "";
      st.becomeBackup(
        (d.why === "higherPriority" ? `higher priority advertised by ${peer}` : `equal priority from ${peer} with a higher primary address`) + note,
      );
    }
    return;
  }
  if (s.state !== "BACKUP") return;
  const d = vrrpDecideAsBackup({ priority: ours, preempt: p.preempt }, { priority: v.priority });
  if (d.kind === "bowOut") {
    s.bowOutFrom = pkt.from;
    // Master_Down_Timer := Skew_Time (of the interval we last learned), per family like the CARP timers.
    for (const f of [pkt.family]) st.arm(f === 4 ? "masterDown4" : "masterDown6", vrrpSkewUs(ours, s.vrrpMasterCs ?? p.vrrp.intervalCs));
  } else if (d.kind === "restart") {
    s.bowOutFrom = null;
    s.vrrpMasterCs = v.intervalCs;
    st.armMasterDown(pkt.family);
  } else {
    st.log("debug", `vhid ${p.vhid}: preempt: ignoring the lower priority master ${peer} (priority ${ours} here)`);
  }
}

/**
 * antiReplay: an authenticated advert counts only when its counter is above every counter this vhid sent
 * or accepted; otherwise it is a replay (or a rewritten copy: the HMAC does not cover advbase/advskew) and
 * changes nothing but badreplay. A source refused REPLAY_WARN_AFTER times in a row is reported once: its
 * counters do not increase (OpenBSD's constant cookie, ucarp's random counters) or someone replays them.
 */
function replayFresh(st: Step, pkt: ReceivedAdvert): boolean {
  const s = st.s;
  const r = s.replay;
  const c = pkt.header.counter;
  if (c > r.high) {
    s.replay = { ...r, high: c, refusedFrom: null, refusedRun: 0, refusedCounter: null };
    return true;
  }
  st.stats.badreplay++;
  const run = r.refusedFrom === pkt.from ? r.refusedRun + 1 : 1;
  let warned = r.warned;
  if (run >= REPLAY_WARN_AFTER && !warned.includes(pkt.from)) {
    warned = [...warned, pkt.from];
    const constant = r.refusedFrom === pkt.from && r.refusedCounter === c;
    const what = constant ? `repeat the constant counter ${c} (an OpenBSD peer's cookie?)` : `carry counters not above ${r.high}`;
    st.log(
      "warn",
      `vhid ${s.params.vhid}: antiReplay: ${REPLAY_WARN_AFTER} adverts in a row from ${pkt.from} ${what}: ignored; OpenBSD and ucarp peers cannot be used with antiReplay, or the adverts are replayed`,
    );
  }
  s.replay = { ...r, refusedFrom: pkt.from, refusedRun: run, refusedCounter: c, warned };
  return false;
}

function onTimer(st: Step, timer: TimerName): void {
  const s = st.s;
  if (s.timers[timer] === undefined) {
    st.log("debug", `vhid ${s.params.vhid}: stale ${timer} timer ignored`);
    return;
  }
  delete st.timers[timer];
  if (timer === "advertise") {
    if (s.state !== "MASTER") return;
    st.sendAdverts();
    st.arm("advertise", advertIntervalFor(s));
    return;
  }
  if (s.state !== "BACKUP") return;
  st.becomeMaster(s.bowOutFrom ? `master timed out after bow-out from ${s.bowOutFrom}` : "master timed out");
}

function onLink(st: Step, up: boolean): void {
  const s = st.s;
  const p = s.params;
  if (p.ignoreIfState) {
    st.log("debug", `vhid ${p.vhid}: link ${up ? "up" : "down"} ignored (ignoreIfState)`);
    return;
  }
  if (up === s.linkUp) return;
  s.linkUp = up;
  if (!up) {
    st.becomeInit("hardware interface down");
    if (!s.ifdownDemoted && p.ifdownDemotion > 0) {
      s.ifdownDemoted = true;
      st.demote("ifdown", p.ifdownDemotion, `vhid ${p.vhid}: hardware interface down`);
    }
    return;
  }
  if (s.ifdownDemoted) {
    s.ifdownDemoted = false;
    st.demote("ifdown", -p.ifdownDemotion, `vhid ${p.vhid}: hardware interface up`);
  }
  st.setrun("hardware interface up");
}

/** FreeBSD carp_send_ad_error: 3 consecutive errors demote, then 3 consecutive successes undo it. */
function onSendResult(st: Step, ok: boolean): void {
  const s = st.s;
  const p = s.params;
  if (!ok) {
    st.stats.sendErrors++;
    s.sendErrors++;
    s.sendSuccesses = 0;
    if (s.sendErrors === SENDAD_MAX_ERRORS && !s.senderrDemoted) {
      s.senderrDemoted = true;
      st.demote("senderr", p.senderrDemotion, `vhid ${p.vhid}: ${SENDAD_MAX_ERRORS} consecutive send errors`);
    }
    return;
  }
  if (s.senderrDemoted) {
    if (++s.sendSuccesses >= SENDAD_MIN_SUCCESS) {
      s.senderrDemoted = false;
      s.sendErrors = 0;
      s.sendSuccesses = 0;
      st.demote("senderr", -p.senderrDemotion, `vhid ${p.vhid}: sending works again`);
    }
  } else s.sendErrors = 0;
}

/** Returns an error message for a rejected command (the state is then left unchanged). */
function onCommand(st: Step, c: Command): string | undefined {
  const s = st.s;
  const p = s.params;
  switch (c?.op) {
    case "start":
      if (!s.running) {
        holdPreemption(st);
        s.bootHold = p.startBackup;
      }
      s.running = true;
      if (s.state === "INIT") st.setrun("initialization complete");
      return;
    case "stop": {
      if (c.graceful && s.state === "MASTER") {
        st.sendAdverts(true); // bow-out, one per family
        st.becomeInit("user requested stop (bow-out sent)");
      } else st.becomeInit("user requested stop");
      s.running = false;
      // A stopped vhid gives back the fault demotion it holds (FreeBSD: "vhid removed").
      if (s.ifdownDemoted) {
        s.ifdownDemoted = false;
        st.demote("ifdown", -p.ifdownDemotion, `vhid ${p.vhid}: stopped`);
      }
      if (s.senderrDemoted) {
        s.senderrDemoted = false;
        st.demote("senderr", -p.senderrDemotion, `vhid ${p.vhid}: stopped`);
      }
      s.sendErrors = 0;
      s.sendSuccesses = 0;
      return;
    }
    case "force":
      if (c.state !== "MASTER" && c.state !== "BACKUP") return `cannot force state ${String(c.state)}`;
      if (!s.linkUp && !p.ignoreIfState) return `vhid ${p.vhid}: cannot force ${c.state}: interface is down`;
      s.running = true;
      if (c.state === s.state) return;
      if (c.state === "MASTER") st.becomeMaster("user requested");
      else if (s.state === "MASTER") st.becomeBackup("user requested");
      else {
        st.setState("BACKUP", "user requested");
        st.armMasterDown();
      }
      return;
    case "setAdvskew": {
      if (p.vrrp) return `vhid ${p.vhid} speaks VRRPv3: it has a priority, not an advskew`;
      const e = advskewError(p.semantics, c.value);
      if (e) return e;
      s.params = { ...p, advskew: c.value };
      return;
    }
    case "setAdvbase": {
      if (p.vrrp) return `vhid ${p.vhid} speaks VRRPv3: it has an interval in centiseconds, not an advbase`;
      const e = advbaseError(p.semantics, c.value);
      if (e) return e;
      if (p.semantics === "ucarp" && c.value === 0 && p.advskew === 0) return "advbase and advskew cannot both be 0";
      s.params = { ...p, advbase: c.value };
      return;
    }
    case "setPreempt":
      if (typeof c.value !== "boolean") return "preempt must be true or false";
      s.params = { ...p, preempt: c.value };
      return;
    case "demote":
    case "setDemote": {
      const v = c.op === "demote" ? c.delta : c.value;
      if (!Number.isInteger(v)) return "demotion must be an integer";
      const next = c.op === "demote" ? p.demote + v : v;
      if (next === p.demote) return;
      s.params = { ...p, demote: next };
      st.log("info", `vhid ${p.vhid}: demotion ${p.demote} -> ${next}`);
      advertiseNowIfMaster(st);
      return;
    }
    case "advertise":
      if (s.running) advertiseNowIfMaster(st);
      return;
    case "set":
      return onSet(st, c);
    default:
      return `unknown command ${String((c as { op?: unknown })?.op)}`;
  }
}

/** `carp set`: validate every value, then apply them all (a bad advskew must not leave a new advbase). */
function onSet(st: Step, c: Extract<Command, { op: "set" }>): string | undefined {
  const s = st.s;
  const p = s.params;
  const advbase = c.advbase ?? p.advbase;
  const advskew = c.advskew ?? p.advskew;
  if (p.vrrp && (c.advbase !== undefined || c.advskew !== undefined)) return `vhid ${p.vhid} speaks VRRPv3: it has a priority and an interval, not advbase/advskew`;
  if (c.advbase !== undefined) {
    const e = advbaseError(p.semantics, c.advbase);
    if (e) return `advbase: ${e}`;
  }
  if (c.advskew !== undefined) {
    const e = advskewError(p.semantics, c.advskew);
    if (e) return `advskew: ${e}`;
  }
  if (p.semantics === "ucarp" && advbase === 0 && advskew === 0) return "advbase: advbase and advskew cannot both be 0";
  if (c.preempt !== undefined && typeof c.preempt !== "boolean") return "preempt: preempt must be true or false";
  if (c.demote !== undefined && !Number.isInteger(c.demote)) return "demote: demotion must be an integer";
  if (c.groups !== undefined && (!Array.isArray(c.groups) || c.groups.some((g) => typeof g !== "string" || g === ""))) return "groups: groups must be a list of names";
  if (c.preemptDelayMs !== undefined && (typeof c.preemptDelayMs !== "number" || !(c.preemptDelayMs >= 0) || !Number.isFinite(c.preemptDelayMs))) return "preemptDelay: must be a number >= 0";
  if (c.startBackup !== undefined && typeof c.startBackup !== "boolean") return "startBackup: must be true or false";
  if (c.state !== undefined) {
    if (c.state !== "MASTER" && c.state !== "BACKUP") return `state: cannot force state ${String(c.state)}`;
    if (!s.linkUp && !p.ignoreIfState) return `state: vhid ${p.vhid}: cannot force ${c.state}: interface is down`;
  }
  const demote = p.demote + (c.demote ?? 0);
  s.params = {
    ...p,
    advbase,
    advskew,
    preempt: c.preempt ?? p.preempt,
    demote,
    groups: c.groups ? [...c.groups] : p.groups,
    preemptDelayMs: c.preemptDelayMs ?? p.preemptDelayMs,
    startBackup: c.startBackup ?? p.startBackup,
  };
  if (c.preemptDelayMs === 0) s.preemptHoldUntil = null;
  if (c.startBackup === false) s.bootHold = false;
  if (demote !== p.demote) st.log("info", `vhid ${p.vhid}: demotion ${p.demote} -> ${demote}`);
  if (s.running && (c.advbase !== undefined || c.advskew !== undefined || demote !== p.demote)) advertiseNowIfMaster(st);
  if (c.state !== undefined) return onCommand(st, { op: "force", state: c.state });
  return undefined;
}

/** A snapshot for status displays, metrics and "why is this node MASTER?". */
export function status(s: VhidState): VhidStatus {
  return {
    vhid: s.params.vhid,
    semantics: s.params.semantics,
    state: s.state,
    reason: s.reason,
    since: s.since,
    advbase: s.params.advbase,
    advskew: s.params.advskew,
    effectiveAdvskew: effectiveAdvskew(s),
    demoteByte: demoteByte(s),
    demotion: { global: s.globalDemotion, vhid: s.params.demote, total: totalDemotion(s) },
    preempt: s.params.preempt,
    linkUp: s.linkUp,
    running: s.running,
    counter: s.counter,
    antiReplay: s.params.antiReplay,
    replayHigh: s.replay.high,
    ...(s.params.vrrp
      ? {
          vrrp: {
            priority: s.params.vrrp.priority,
            effectivePriority: vrrpPriority(s)!,
            intervalCs: s.params.vrrp.intervalCs,
            masterIntervalCs: s.vrrpMasterCs ?? s.params.vrrp.intervalCs,
            masterDownUs: masterDownFor(s),
          },
        }
      : {}),
    replayWarning: s.replay.warned.length ? `adverts from ${s.replay.warned.join(", ")} do not carry rising counters (antiReplay ignores them)` : null,
    timers: { ...s.timers },
    lastMaster: s.lastMaster ? { ...s.lastMaster } : null,
    stats: { ...s.stats },
    preemptHoldUntil: s.preemptHoldUntil,
    bootHold: s.bootHold,
    groups: [...s.params.groups],
  };
}
