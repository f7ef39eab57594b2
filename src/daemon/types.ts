// The daemon's public data: what status/set return, events, options and its error class.
import type { CarpState, VhidStatus } from "../core/index.js";
import type { IpFamily } from "../protocol/types.js";
import type { CheckReport } from "./checks.js";

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
  /** antiReplay: authenticated adverts whose counter was not above the highest seen (replayed or rewritten). */
  badreplay: number;
  /** VRRP advertisements on protocol 112 (counted apart from CARP; see the log for a vrid we also use). */
  vrrp: number;
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
  /** The last VIP add that failed (the vhid is demoted for it until an add succeeds), or null. */
  vipError: string | null;
  /** antiReplay on: the highest counter sent or accepted (decimal), and peers whose counters did not rise. */
  antiReplay?: { highest: string; warning: string | null };
  /** Demotion groups (user `group:` plus "check:NAME" for checks tracked by this vhid). */
  groups?: string[];
  /** One line: why this vhid is in its state (which demotion, which peer). */
  why?: string;
  /** Virtual MAC mode: the vhid's macvlan (carp0), its MAC and its link state as the kernel has it. */
  vmac?: { name: string; mac: string; up: boolean; operstate: string; error?: string };
  /**
   * VRRPv3 mode: priorities, own and learned interval (centiseconds), master-down in ms, the IPv4 checksum
   * variant sent, and the one each peer was seen using. No authentication: VRRPv3 has none.
   */
  vrrp?: {
    priority: number;
    effectivePriority: number;
    intervalCs: number;
    masterIntervalCs: number;
    masterDownMs: number;
    checksum: "pseudo" | "v2";
    peers: Record<string, "pseudo" | "v2">;
    lastPriority: number | null;
  };
}

/** One entry of the process's demotion ledger (`carp status --json`: "why is this node BACKUP"). */
export interface LedgerEntry {
  source: string;
  value: number;
  reason: string;
  /** Epoch ms since the source has been non-zero. */
  since: number;
  interface?: string;
  vhid?: number;
  /** Demotion group the entry applies to (none: every vhid). */
  group?: string;
}

export interface NodeStatus {
  pid: number;
  startedAt: number;
  globalDemotion: number;
  /** Every named source of the global demotion (config, user, ifdown, senderr, vipadd). */
  ledger: LedgerEntry[];
  carpstats: CarpStats;
  vhids: VhidReport[];
  /** Health checks and their last results (absent from daemons without checks). */
  checks?: CheckReport[];
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
  /** antiReplay counters kept across restarts; default `<control path>.replay.json`. */
  replayStateFile?: string;
  /** The monotonic clock in ms (default performance.now); timers are armed against it. */
  now?: () => number;
  /** Syslog socket for --facility output (default $CARP_SYSLOG_SOCKET or /dev/log). */
  syslogSocket?: string;
}

