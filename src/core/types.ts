// Plain data of the sans-I/O election core: parameters, inputs, actions, status. No behaviour here.
import type { CarpHeader, IpFamily, PeerSemantics } from "../protocol/types.js";
import type { VrrpAdvertInfo, VrrpParams } from "./vrrp.js";

export type CarpState = "INIT" | "BACKUP" | "MASTER";

/** Timers a vhid keeps as deadlines in its state (absolute, in the caller's ms clock). */
export type TimerName = "advertise" | "masterDown4" | "masterDown6";

/** Per-vhid configuration, as given by the user. Optional fields take the defaults in params.ts. */
export interface VhidParams {
  vhid: number; // 1..255
  advbase?: number; // 1..255 (openbsd and ucarp also 0); default 1
  advskew?: number; // 0..254 (ucarp 0..255); default 0
  preempt?: boolean; // default false
  semantics?: PeerSemantics; // default "freebsd"
  deadratio?: number; // ucarp master-down multiplier, default 3
  demote?: number; // per-vhid demotion added to the global one (may be negative); default 0
  vips: { v4: number; v6: number }; // how many virtual addresses of each family (adverts only for families > 0)
  ownAddresses?: string[]; // this host's real source addresses: adverts from them are our own, looped back
  neutral?: boolean; // ucarp --neutral: the initial INIT->BACKUP transition should not run hooks
  unicast?: boolean; // informational here (the TTL check happens before the core)
  ignoreIfState?: boolean; // ucarp --ignoreifstate: link events are ignored
  ifdownDemotion?: number; // default 240 (openbsd 1: its demotion is the demote byte)
  senderrDemotion?: number; // default 240 (openbsd 1)
  secondAnnounce?: boolean; // GARP/NA again two adverts after takeover; default true
  tieBreakOrder?: "little" | "big"; // ucarp IP tie-break compares raw u32 as host order; default "little" (x86)
  // Accept an advert only when its counter is above the highest this vhid sent or accepted (freebsd
  // semantics only: FreeBSD copies the counter of every valid advert and sends counter + 1). Default false.
  antiReplay?: boolean;
  groups?: string[]; // demotion groups (OpenBSD carpdemote): ledger entries of these groups also apply; default []
  preemptDelayMs?: number; // after start or after our demotion drops, do not preempt for this long; default 0
  startBackup?: boolean; // after start, never preempt a live master until we have been MASTER once; default false
  // VRRPv3 mode (vrrp.ts): priority and interval replace advbase/advskew, adverts carry `vrrp`. Default null (CARP).
  vrrp?: VrrpParams | null;
}

/** VhidParams with every default filled in and validated. */
export type ResolvedParams = Required<VhidParams>;

/** An advertisement to put on the wire; the host layer adds the HMAC and framing. */
export interface AdvertOut {
  vhid: number;
  advbase: number;
  advskew: number; // as advertised, demotion included
  demote: number; // byte 4: OpenBSD demote count, 0 otherwise
  counter: bigint;
  vrrp?: VrrpAdvertInfo; // VRRPv3 mode: priority (0 = bow-out) and interval to send
}

/** A received packet, already decoded, checksummed, TTL-checked and authenticated. */
export interface ReceivedAdvert {
  from: string;
  family: IpFamily;
  header: CarpHeader;
  vrrp?: VrrpAdvertInfo; // a VRRPv3 advert (header.vhid is its vrid; the rest of header is unused)
}

export type Command =
  | { op: "start" }
  | { op: "stop"; graceful?: boolean } // graceful: bow-out advert (255/255) first when MASTER
  | { op: "force"; state: "MASTER" | "BACKUP" }
  | { op: "setAdvskew"; value: number }
  | { op: "setAdvbase"; value: number }
  | { op: "setPreempt"; value: boolean }
  | { op: "demote"; delta: number } // per-vhid demotion += delta
  | { op: "setDemote"; value: number } // per-vhid demotion := value
  // A MASTER sends its adverts now and restarts its advertise interval (e.g. after setAdvskew/setAdvbase,
  // so peers learn the new values at once); in any other state it does nothing.
  | { op: "advertise" }
  // Several changes at once (`carp set`): every value is validated before any is applied, then a MASTER
  // advertises the new advbase/advskew at once and `state` is forced last.
  | {
      op: "set";
      advbase?: number;
      advskew?: number;
      preempt?: boolean;
      demote?: number;
      state?: "MASTER" | "BACKUP";
      /** Reload: new demotion groups (the ledger's value for them applies at once). */
      groups?: string[];
      /** Reload: a new preemptDelay (from the next hold; 0 lifts a running one). */
      preemptDelayMs?: number;
      /** Reload: startBackup (false lifts a pending boot hold; true applies from the next start). */
      startBackup?: boolean;
    };

export type Input =
  | ({ kind: "advert" } & ReceivedAdvert)
  | { kind: "timer"; timer: TimerName }
  | { kind: "link"; up: boolean }
  | { kind: "sendResult"; ok: boolean } // outcome of one advert send, for senderr demotion
  | { kind: "globalDemotion"; value: number } // the container's global demotion changed
  | { kind: "command"; command: Command };

export type AnnounceWhy = "takeover" | "delayed" | "reassert";

/**
 * What one step of one vhid produced, in the order it decided (vhid.ts). Timers are not actions: they
 * are deadlines in VhidState.timers. Cluster sorts these into its transmit, effect and event queues.
 */
export type Action =
  | { kind: "send"; family: IpFamily; advert: AdvertOut; bowOut: boolean }
  | { kind: "vips"; op: "add" | "remove" }
  | { kind: "announce"; why: AnnounceWhy; families: IpFamily[] } // GARP for v4, unsolicited NA for v6
  | { kind: "transition"; from: CarpState; to: CarpState; reason: string; neutral: boolean }
  // A fault demotion (ifdown/senderr) to apply to the GLOBAL demotion, like FreeBSD's carp_demote_adj.
  // The container applies it; a standalone runner must feed back a globalDemotion input itself.
  | { kind: "demote"; source: "ifdown" | "senderr"; delta: number; reason: string }
  | { kind: "log"; level: "info" | "warn" | "debug"; message: string };

export interface LastMaster {
  address: string;
  family: IpFamily;
  at: number;
  advbase: number;
  advskew: number;
  demote: number;
  bowOut: boolean;
  vrrp?: { priority: number; intervalCs: number }; // VRRPv3: what the last advert said
}

/** carpstats-like counters for what the core itself sees. */
export interface VhidStats {
  ipackets: number;
  ipackets6: number;
  opackets: number;
  opackets6: number;
  preempt: number; // times this vhid became MASTER (OpenBSD counts carps_preempt the same way)
  transitions: number;
  badvhid: number;
  ownLoops: number; // our own adverts looped back (ignored)
  badreplay: number; // antiReplay: authenticated adverts whose counter was not above the highest seen (ignored)
  bowOutsReceived: number;
  sendErrors: number;
}

/** antiReplay: the highest counter sent or accepted, and who sent adverts that were not above it. */
export interface ReplayState {
  readonly high: bigint; // adverts with counter <= high are refused
  readonly sendFloor: bigint; // adverts we send carry more than this (a restart's reserved ceiling)
  readonly refusedFrom: string | null; // source of the last refused advert
  readonly refusedRun: number; // refused adverts in a row from refusedFrom
  readonly refusedCounter: bigint | null; // counter of the last refused advert
  readonly warned: readonly string[]; // sources already reported as not increasing (one log line each)
}

/** Internal state of one vhid. Treat as read-only: step() returns a new object. */
export interface VhidState {
  readonly params: ResolvedParams;
  readonly state: CarpState;
  readonly reason: string;
  readonly since: number | null;
  readonly running: boolean; // started and not stopped by the user
  readonly linkUp: boolean;
  readonly everLeftInit: boolean; // for ucarp --neutral (only the first INIT->BACKUP is neutral)
  readonly globalDemotion: number;
  readonly seed: bigint; // caller-supplied random start / OpenBSD cookie
  readonly counter: bigint; // last counter sent or copied
  readonly counterFresh: boolean; // nothing sent or copied yet: next advert carries the seed
  readonly replay: ReplayState; // antiReplay bookkeeping (unused without it)
  readonly timers: Readonly<Partial<Record<TimerName, number>>>;
  readonly delayedAnnounce: number; // adverts left until the second announce; -1 = none pending
  readonly ifdownDemoted: boolean;
  readonly senderrDemoted: boolean;
  readonly sendErrors: number; // consecutive
  readonly sendSuccesses: number; // consecutive, counted only while senderr-demoted
  readonly bowOutFrom: string | null; // last advert heard in BACKUP was a bow-out from here
  readonly lastMaster: LastMaster | null;
  readonly stats: Readonly<VhidStats>;
  readonly preemptHoldUntil: number | null; // preemptDelay: no preemption before this time
  readonly bootHold: boolean; // startBackup: no preemption until MASTER once
  readonly vrrpMasterCs?: number; // VRRPv3: Master_Adver_Interval (learned from the MASTER), centiseconds
}

export interface StepResult {
  state: VhidState;
  actions: Action[];
  error?: string; // a rejected command, as a one-line message; state is unchanged then
}

export interface VhidStatus {
  vhid: number;
  semantics: PeerSemantics;
  state: CarpState;
  reason: string;
  since: number | null;
  advbase: number;
  advskew: number;
  effectiveAdvskew: number; // as advertised and used in comparisons
  demoteByte: number;
  demotion: { global: number; vhid: number; total: number };
  preempt: boolean;
  linkUp: boolean;
  running: boolean;
  counter: bigint;
  antiReplay: boolean;
  replayHigh: bigint; // highest counter sent or accepted (what a restart must not go below)
  replayWarning: string | null; // peers whose counters do not increase, or null
  timers: Partial<Record<TimerName, number>>;
  lastMaster: LastMaster | null;
  stats: VhidStats;
  preemptHoldUntil: number | null;
  bootHold: boolean;
  groups: string[];
  /** VRRPv3 mode: configured and effective priority, own and learned (Master_Adver_Interval) interval. */
  vrrp?: { priority: number; effectivePriority: number; intervalCs: number; masterIntervalCs: number; masterDownUs: number };
}

/** One vhid of a process: vhid numbers are per interface. `ifname` may be "" in single-interface uses. */
export interface VhidRef {
  ifname: string;
  vhid: number;
}

/** An advert to build, sign and send. `seq` orders it against effects of the same step (see Effect). */
export interface Transmit {
  ref: VhidRef;
  seq: number;
  family: IpFamily;
  advert: AdvertOut;
  bowOut: boolean;
}

/**
 * A host effect, in the order to run them. `seq` is shared with Transmit: an effect queued before a
 * transmit of the same vhid (ucarp: VIPs and GARP, then the first advert) must have run before that
 * transmit goes out; a transmit queued before an effect (kernels: advert, then VIPs) goes first.
 */
export type Effect =
  | { kind: "vips"; ref: VhidRef; seq: number; op: "add" | "remove" }
  | { kind: "announce"; ref: VhidRef; seq: number; why: AnnounceWhy; families: IpFamily[] };

/** Something that happened: hooks, devd, logs and metrics hang off these. */
export type Event =
  | { kind: "transition"; ref: VhidRef; from: CarpState; to: CarpState; reason: string; neutral: boolean }
  | { kind: "demotion"; source: string; delta: number; value: number; reason: string; group?: string } // global value after
  | { kind: "log"; ref?: VhidRef; level: "info" | "warn" | "debug"; message: string };

/** Inputs of the process-wide Cluster (see cluster.ts). */
export type ClusterInput =
  | ({ kind: "advert"; ifname: string } & ReceivedAdvert)
  | { kind: "link"; ifname: string; up: boolean }
  | { kind: "sendResult"; ref: VhidRef; ok: boolean }
  | { kind: "vipResult"; ref: VhidRef; op: "add" | "remove"; ok: boolean; error?: string }
  | { kind: "command"; ref: VhidRef; command: Command }
  // A named global demotion source: `value` sets it, `delta` adds to it (writes to the sysctl add).
  // `group`: the entry applies only to vhids in that demotion group (OpenBSD carpdemote), else to all.
  | { kind: "demotion"; source: string; value?: number; delta?: number; reason?: string; group?: string };

export type Result<T> = { ok: true; value: T } | { ok: false; errors: string[] };
