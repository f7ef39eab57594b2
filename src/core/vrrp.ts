// VRRPv3 rules (RFC 5798 / RFC 9568 §6) beside the CARP semantics: priority instead of advskew, an
// interval in centiseconds that a BACKUP learns from the MASTER, priority 0 as the bow-out, and the
// higher primary address winning a tie. Pure functions over numbers; vhid.ts applies them.
import { ipToBytes } from "../protocol/addr.js";
import type { IpFamily } from "../protocol/types.js";

export const VRRP_OWNER = 255; // the address owner's priority: MASTER at once on start
export const VRRP_BOW_OUT = 0; // priority 0: "the master stops, take over after Skew_Time"
export const VRRP_MAX_INTERVAL_CS = 4095;
const US_PER_CS = 10_000;

/** A version-3 vhid's own settings. */
export interface VrrpParams {
  priority: number; // 1..255 (255 = address owner)
  intervalCs: number; // Advertisement_Interval, 1..4095 centiseconds
}

/** What a received VRRPv3 advert says, beside the vrid. */
export interface VrrpAdvertInfo {
  priority: number;
  intervalCs: number; // Max Adver Int
}

/** Checks a VrrpParams value; returns one-line messages. */
export function vrrpParamsErrors(v: VrrpParams): string[] {
  const e: string[] = [];
  if (!v || typeof v !== "object") return ["vrrp must be { priority, intervalCs }"];
  if (!Number.isInteger(v.priority) || v.priority < 1 || v.priority > VRRP_OWNER) e.push(`vrrp priority must be an integer 1..255, got ${String(v.priority)}`);
  if (!Number.isInteger(v.intervalCs) || v.intervalCs < 1 || v.intervalCs > VRRP_MAX_INTERVAL_CS) e.push(`vrrp interval must be an integer 1..4095 centiseconds, got ${String(v.intervalCs)}`);
  return e;
}

/**
 * The priority this vhid advertises and compares with: the configured one lowered by the demotion
 * (raised by a negative one), clamped to 1..254. The owner (255) keeps 255 while not demoted.
 */
export function vrrpEffectivePriority(priority: number, demotion: number): number {
  if (priority === VRRP_OWNER && demotion <= 0) return VRRP_OWNER;
  return Math.min(254, Math.max(1, priority - demotion));
}

/** Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256, in µs (truncated to whole µs). */
export function vrrpSkewUs(priority: number, masterIntervalCs: number): number {
  return Math.floor(((256 - priority) * masterIntervalCs * US_PER_CS) / 256);
}

/** Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time, in µs. */
export function vrrpMasterDownUs(priority: number, masterIntervalCs: number): number {
  return 3 * masterIntervalCs * US_PER_CS + vrrpSkewUs(priority, masterIntervalCs);
}

export const vrrpIntervalUs = (cs: number): number => cs * US_PER_CS;

/** Compares two primary addresses of a family as unsigned numbers: >0 when a is higher. */
export function compareAddress(a: string, b: string): number {
  const x = ipToBytes(a);
  const y = ipToBytes(b);
  if (!x || !y || x.length !== y.length) return 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** Our primary address for a family: the first own IPv4 address, IPv6 the link-local one (RFC 9568 §5.1.2.1). */
export function primaryAddress(own: readonly string[], family: IpFamily): string | undefined {
  if (family === 4) return own.find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
  const v6 = own.filter((a) => a.includes(":"));
  return v6.find((a) => a.toLowerCase().startsWith("fe80:")) ?? v6[0];
}

export type VrrpMasterDecision =
  | { kind: "advertise" } // a bow-out from another router: send an advert now, reset the timer
  | { kind: "stepDown"; why: "higherPriority" | "higherAddress" }
  | { kind: "stay" };

/** RFC 9568 §6.4.3: a MASTER receiving an advert. */
export function vrrpDecideAsMaster(ours: { priority: number; address?: string }, theirs: { priority: number; from: string }): VrrpMasterDecision {
  if (theirs.priority === VRRP_BOW_OUT) return { kind: "advertise" };
  if (theirs.priority > ours.priority) return { kind: "stepDown", why: "higherPriority" };
  if (theirs.priority === ours.priority && (ours.address === undefined || compareAddress(theirs.from, ours.address) > 0)) {
    return { kind: "stepDown", why: "higherAddress" };
  }
  return { kind: "stay" };
}

export type VrrpBackupDecision =
  | { kind: "bowOut" } // master-down timer := Skew_Time
  | { kind: "restart" } // learn the interval, master-down timer := Master_Down_Interval
  | { kind: "discard" }; // preempt and a lower priority: let the master-down timer run out

/** RFC 9568 §6.4.2: a BACKUP receiving an advert. */
export function vrrpDecideAsBackup(ours: { priority: number; preempt: boolean }, theirs: { priority: number }): VrrpBackupDecision {
  if (theirs.priority === VRRP_BOW_OUT) return { kind: "bowOut" };
  if (!ours.preempt || theirs.priority >= ours.priority) return { kind: "restart" };
  return { kind: "discard" };
}
