// VhidParams defaults and validation (carp-protocol.md §5). Errors are returned as one-line messages.
import type { PeerSemantics } from "../protocol/types.js";
import type { ResolvedParams, Result, VhidParams } from "./types.js";
import { vrrpParamsErrors } from "./vrrp.js";

const SEMANTICS: readonly PeerSemantics[] = ["freebsd", "openbsd", "ucarp"];

const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

function checkRange(errors: string[], name: string, v: unknown, lo: number, hi: number): void {
  if (!isInt(v) || v < lo || v > hi) errors.push(`${name} must be an integer ${lo}..${hi}, got ${String(v)}`);
}

/** Checks one advbase value for a semantics; returns an error message or null. */
export function advbaseError(semantics: PeerSemantics, v: unknown): string | null {
  const lo = semantics === "freebsd" ? 1 : 0;
  const errors: string[] = [];
  checkRange(errors, "advbase", v, lo, 255);
  return errors[0] ?? null;
}

/** Checks one advskew value for a semantics; returns an error message or null. */
export function advskewError(semantics: PeerSemantics, v: unknown): string | null {
  const errors: string[] = [];
  checkRange(errors, "advskew", v, 0, semantics === "ucarp" ? 255 : 254);
  return errors[0] ?? null;
}

/** Fills defaults and validates. Unknown semantics, out-of-range numbers and impossible combos are errors. */
export function resolveParams(p: VhidParams): Result<ResolvedParams> {
  const errors: string[] = [];
  if (p === null || typeof p !== "object") return { ok: false, errors: ["params must be an object"] };
  const semantics = p.semantics ?? "freebsd";
  if (!SEMANTICS.includes(semantics)) {
    return { ok: false, errors: [`semantics must be one of ${SEMANTICS.join("|")}, got ${String(semantics)}`] };
  }
  const openbsd = semantics === "openbsd";
  const r: ResolvedParams = {
    vhid: p.vhid,
    advbase: p.advbase ?? 1,
    advskew: p.advskew ?? 0,
    preempt: p.preempt ?? false,
    semantics,
    deadratio: p.deadratio ?? 3,
    demote: p.demote ?? 0,
    vips: p.vips,
    ownAddresses: p.ownAddresses ?? [],
    neutral: p.neutral ?? false,
    unicast: p.unicast ?? false,
    ignoreIfState: p.ignoreIfState ?? false,
    ifdownDemotion: p.ifdownDemotion ?? (openbsd ? 1 : 240),
    senderrDemotion: p.senderrDemotion ?? (openbsd ? 1 : 240),
    secondAnnounce: p.secondAnnounce ?? true,
    tieBreakOrder: p.tieBreakOrder ?? "little",
    groups: p.groups ?? [],
    preemptDelayMs: p.preemptDelayMs ?? 0,
    startBackup: p.startBackup ?? false,
    antiReplay: p.antiReplay ?? false,
    vrrp: p.vrrp ?? null,
  };
  checkRange(errors, "vhid", r.vhid, 1, 255);
  const eb = advbaseError(semantics, r.advbase);
  if (eb) errors.push(eb);
  const es = advskewError(semantics, r.advskew);
  if (es) errors.push(es);
  if (semantics === "ucarp" && r.advbase === 0 && r.advskew === 0) errors.push("advbase and advskew cannot both be 0");
  checkRange(errors, "deadratio", r.deadratio, 1, 255);
  if (!isInt(r.demote)) errors.push(`demote must be an integer, got ${String(r.demote)}`);
  if (typeof r.preempt !== "boolean") errors.push("preempt must be true or false");
  if (!r.vips || typeof r.vips !== "object") errors.push("vips must be { v4: n, v6: n }");
  else {
    checkRange(errors, "vips.v4", r.vips.v4, 0, 65535);
    checkRange(errors, "vips.v6", r.vips.v6, 0, 65535);
    if (r.vips.v4 === 0 && r.vips.v6 === 0) {
      errors.push("a vhid needs at least one virtual address");
    }
  }
  if (!Array.isArray(r.ownAddresses) || r.ownAddresses.some((a) => typeof a !== "string")) {
    errors.push("ownAddresses must be a list of address strings");
  } else if (semantics === "ucarp" && !r.ownAddresses.some(isIPv4)) {
    errors.push("ucarp semantics needs an IPv4 own address (its --srcip) for the tie-break");
  }
  checkRange(errors, "ifdownDemotion", r.ifdownDemotion, 0, 65535);
  checkRange(errors, "senderrDemotion", r.senderrDemotion, 0, 65535);
  if (!Array.isArray(r.groups) || r.groups.some((g) => typeof g !== "string" || g === "")) errors.push("groups must be a list of names");
  if (typeof r.preemptDelayMs !== "number" || !(r.preemptDelayMs >= 0) || !Number.isFinite(r.preemptDelayMs)) errors.push(`preemptDelayMs must be a number >= 0, got ${String(r.preemptDelayMs)}`);
  if (typeof r.startBackup !== "boolean") errors.push("startBackup must be true or false");
  if (r.tieBreakOrder !== "little" && r.tieBreakOrder !== "big") errors.push('tieBreakOrder must be "little" or "big"');
  if (typeof r.antiReplay !== "boolean") errors.push("antiReplay must be true or false");
  else if (r.antiReplay && semantics !== "freebsd") {
    errors.push(`antiReplay needs freebsd semantics: ${semantics === "openbsd" ? "OpenBSD sends a constant cookie" : "ucarp sends random counters"}, not a rising counter`);
  }
  if (r.vrrp !== null) {
    errors.push(...vrrpParamsErrors(r.vrrp));
    if (semantics !== "freebsd") errors.push("vrrp needs freebsd semantics (the CARP flavour does not apply to VRRPv3)");
    if (r.antiReplay) errors.push("antiReplay is CARP only: VRRPv3 adverts carry no counter");
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: r };
}

/** Dotted-quad check (no leading zeros policing; the host layer parses addresses for real). */
export function isIPv4(a: string): boolean {
  const parts = a.split(".");
  return parts.length === 4 && parts.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255);
}
