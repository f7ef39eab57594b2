// Plain data of the inspector: one decoded packet (a "row", what --json prints per line), the
// announcements (GARP / unsolicited NA) used to infer VIP sets, and the per-vhid summary.
import type { CarpReason, PeerSemantics } from "../protocol/types.js";

export type RowKind = "carp" | "vrrp" | "invalid";
export type AuthVerdict = "ok" | "bad" | "unverified";
/** The carpstats reasons a row can carry (badvhid is not an error for a passive observer). */
export type RowError = Exclude<CarpReason, "badvhid">;

/** One protocol-112 packet, decoded and checked. Keys are the --json output keys. */
export interface Row {
  time: number; // epoch seconds
  src: string;
  dst: string;
  ttl: number;
  kind: RowKind;
  version: number | null;
  type: number | null;
  vhid: number | null; // CARP vhid or VRRP vrid
  advbase: number | null;
  advskew: number | null;
  demote: number | null;
  counter: string | null; // 16 hex digits
  hmac: string | null; // 40 hex digits
  checksum: "ok" | "bad" | null;
  auth: AuthVerdict;
  error: RowError | null;
  diagnosis: string | null;
  src_mac: string | null;
  dst_mac: string | null;
  vlan: number[] | null;
  family: 4 | 6;
  length: number; // protocol-112 payload bytes captured
  /** Non-fatal remarks (type ≠ 1, authlen ≠ 7, VRRP problems, invalid detail). */
  notes: string[];
  // VRRP only
  priority?: number;
  interval_cs?: number;
  addresses?: string[];
  auth_type?: number;
}

/** A gratuitous ARP or unsolicited NA: the address a node just claimed. */
export interface Announcement {
  time: number;
  kind: "garp" | "na";
  vip: string;
  mac: string; // the MAC claimed for the address
  src_mac: string | null;
  vlan: number[] | null;
}

/** What the user told us about one vhid (from --pass/--vip/--config). */
export interface VhidKeys {
  password?: Buffer; // raw bytes, made into the key by carpKey
  v4: string[];
  v6: string[];
  vipSource: "given" | "config" | "none";
  semantics: PeerSemantics;
}

export interface Problem {
  code:
    | "two-masters"
    | "vrrp-clash"
    | "ttl"
    | "replay"
    | "source-mac"
    | "advskew-tie"
    | "auth"
    | "checksum"
    | "invalid"
    | "arp-conflict";
  /**
   * error: the vhid does not work as configured (two masters, dropped or failing adverts);
   * warning: likely a mistake (advskew tie, replays, a wrong virtual MAC);
   * info: worth knowing, harmless on the wire (ucarp's or the interface's own source MAC).
   * --fail-on-problem counts errors and warnings.
   */
  severity: Severity;
  message: string;
}

export type Severity = "error" | "warning" | "info";

/** Two sources advertising at the same time: [start, end] is where both were advertising. */
export interface Overlap {
  /** The source that was advertising first, then the one that joined. */
  sources: [string, string];
  start: number;
  end: number;
  duration_s: number;
  /** Adverts of each (same order as `sources`) within [start, end]. */
  adverts: [number, number];
  /** Both kept advertising (2+ adverts each inside the overlap): a problem, not a handover. */
  two_masters: boolean;
}

export interface SourceView {
  ip: string;
  mac: string | null;
  adverts: number;
  first_seen: number;
  last_seen: number;
  advbase: number;
  advskew: number;
  demote: number;
  priority?: number;
}

export interface VhidView {
  vhid: number;
  protocol: "carp" | "vrrp";
  /** IPv4 and IPv6 adverts of one vhid are summarised separately. */
  family: 4 | 6;
  master: { ip: string; mac: string | null; since: number } | null;
  backups: string[];
  sources: SourceView[];
  advbase: number | null;
  advskew: number | null;
  demote: number | null;
  interval: { expected_s: number | null; mean_s: number | null; jitter_s: number | null; samples: number };
  transitions: number;
  transition_log: { time: number; from: string; to: string }[];
  /** Times two sources advertised at once (first 100): handover crossings and two-master episodes. */
  overlaps: Overlap[];
  /** Remarks that are not problems, e.g. "handover overlap 3.3 ms ...". */
  notes: string[];
  auth: {
    status: "ok" | "bad" | "unverified" | "mixed";
    ok: number;
    bad: number;
    unverified: number;
    vips: string[] | null;
    vips_source: "given" | "config" | "inferred" | null;
    diagnosis: string | null;
  };
  problems: Problem[];
  election: { winner: string | null; ranking: string[]; tied: string[]; explanation: string } | null;
}

export interface SummaryView {
  packets: { total: number; carp: number; vrrp: number; invalid: number; garp: number; na: number; skipped: number };
  vhids: VhidView[];
  /** Problems not tied to one vhid (invalid packets). */
  other_problems: Problem[];
  /** Problems with severity error or warning (what --fail-on-problem counts). */
  problems: number;
  /** Problems with severity info. */
  info: number;
  first_time: number | null;
  last_time: number | null;
}
