// The comparison rules applied when a valid advertisement arrives (carp-protocol.md §4.2, §4.3).
// Pure functions over plain numbers: the Vhid machine, the inspector's "who would win" view and the
// simulator share them.
import type { PeerSemantics } from "../protocol/types.js";
import { advertTimeUs, BOW_OUT } from "./timing.js";
import { isIPv4 } from "./params.js";

/** Our side of a comparison. */
export interface OurSide {
  advbase: number;
  advskew: number; // the skew this semantics compares with (freebsd demoted, openbsd raw, ucarp suppressed)
  demote: number; // OpenBSD demote count D (0 elsewhere)
  willTimeOutUs: number | null; // threshold of the "master will time out" rule; null = rule off
  preempt: boolean;
  address4?: string; // ucarp --srcip, for the tie-break
  tieBreakOrder?: "little" | "big";
}

/** The sender's advertised values. */
export interface TheirSide {
  from: string;
  advbase: number;
  advskew: number;
  demote: number;
}

export type MasterDecision =
  | { kind: "stay"; reassert: boolean; why: "lessFrequent" | "wonTieBreak" | "moreDemoted" }
  | { kind: "stepDown"; why: "moreFrequent" | "equal" | "lostTieBreak" | "lessDemoted"; extraAdvert: boolean };

export type BackupDecision =
  | { kind: "takeover"; why: "preempt" | "moreDemoted" | "willTimeOut" }
  | { kind: "restart" };

/** Our own rank key for the ucarp tie-break: the u32 read in the chosen host byte order. */
export function ipTieKey(addr: string, order: "little" | "big" = "little"): number | null {
  if (!isIPv4(addr)) return null;
  const o = addr.split(".").map(Number);
  const bytes = order === "little" ? [o[3], o[2], o[1], o[0]] : o;
  return ((bytes[0] << 24) >>> 0) + (bytes[1] << 16) + (bytes[2] << 8) + bytes[3];
}

export function isBowOut(advbase: number, advskew: number): boolean {
  return advbase === BOW_OUT && advskew === BOW_OUT;
}

/** MASTER heard another master. */
export function decideAsMaster(sem: PeerSemantics, ours: OurSide, theirs: TheirSide): MasterDecision {
  const S = advertTimeUs(ours.advbase, ours.advskew);
  const H = advertTimeUs(theirs.advbase, theirs.advskew);
  switch (sem) {
    case "freebsd": // the demote byte is ignored; no tie-break: on equal both step down
      if (S > H) return { kind: "stepDown", why: "moreFrequent", extraAdvert: false };
      if (S === H) return { kind: "stepDown", why: "equal", extraAdvert: false };
      return { kind: "stay", reassert: false, why: "lessFrequent" };
    case "openbsd": {
      const d = theirs.demote;
      const D = Math.min(ours.demote, 255);
      if (d < D) return { kind: "stepDown", why: "lessDemoted", extraAdvert: false };
      if (S > H && d <= D) return { kind: "stepDown", why: "moreFrequent", extraAdvert: false };
      if (S === H && d <= D) return { kind: "stepDown", why: "equal", extraAdvert: false };
      return { kind: "stay", reassert: false, why: d > D ? "moreDemoted" : "lessFrequent" };
    }
    case "ucarp": {
      if (S > H) return { kind: "stepDown", why: "moreFrequent", extraAdvert: true };
      if (S < H) return { kind: "stay", reassert: true, why: "lessFrequent" };
      const mine = ours.address4 ? ipTieKey(ours.address4, ours.tieBreakOrder) : null;
      const peer = ipTieKey(theirs.from, ours.tieBreakOrder);
      if (mine === null || peer === null) return { kind: "stepDown", why: "equal", extraAdvert: true };
      if (peer < mine) return { kind: "stepDown", why: "lostTieBreak", extraAdvert: true };
      // peer > mine: we keep the role and re-announce. (peer === mine cannot happen: that is our own packet.)
      return { kind: "stay", reassert: peer > mine, why: "wonTieBreak" };
    }
  }
}

/** BACKUP heard a master. */
export function decideAsBackup(sem: PeerSemantics, ours: OurSide, theirs: TheirSide): BackupDecision {
  const S = advertTimeUs(ours.advbase, ours.advskew);
  const H = advertTimeUs(theirs.advbase, theirs.advskew);
  const willTimeOut = ours.willTimeOutUs !== null && ours.willTimeOutUs < H;
  if (sem === "openbsd") {
    const d = theirs.demote;
    const D = Math.min(ours.demote, 255);
    if (ours.preempt && S < H && d >= D) return { kind: "takeover", why: "preempt" };
    if (d > D) return { kind: "takeover", why: "moreDemoted" };
    if (willTimeOut) return { kind: "takeover", why: "willTimeOut" };
    return { kind: "restart" };
  }
  if (ours.preempt && S < H) return { kind: "takeover", why: "preempt" };
  if (willTimeOut) return { kind: "takeover", why: "willTimeOut" };
  return { kind: "restart" };
}

/** One contender in a "who would win" prediction. */
export interface Candidate {
  id: string;
  address?: string;
  advbase: number;
  advskew: number; // as advertised
  demote?: number;
}

export interface Prediction {
  winner: string | null; // null: a tie the protocol leaves to a master-down race
  ranking: string[]; // best first
  tied: string[]; // ids sharing the best rank (length > 1 only on an unresolved tie)
  explanation: string;
}

/**
 * Steady-state winner with preemption (or a fresh election): lowest demote (openbsd), then most
 * frequent advertisement, then for ucarp the lower raw-compared source address. Without preempt a
 * live master keeps the role; use decideAsBackup for that question.
 */
export function predictWinner(sem: PeerSemantics, cands: Candidate[], tieBreakOrder: "little" | "big" = "little"): Prediction {
  const key = (c: Candidate): [number, number, number] => [
    sem === "openbsd" ? Math.min(c.demote ?? 0, 255) : 0,
    advertTimeUs(c.advbase, c.advskew),
    sem === "ucarp" ? (c.address ? ipTieKey(c.address, tieBreakOrder) ?? 0 : 0) : 0,
  ];
  const cmp = (a: Candidate, b: Candidate): number => {
    const ka = key(a);
    const kb = key(b);
    return ka[0] - kb[0] || ka[1] - kb[1] || ka[2] - kb[2];
  };
  const sorted = [...cands].sort((a, b) => cmp(a, b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (sorted.length === 0) return { winner: null, ranking: [], tied: [], explanation: "no candidates" };
  const best = sorted[0];
  const tied = sorted.filter((c) => cmp(c, best) === 0).map((c) => c.id);
  const desc = (c: Candidate) =>
    `${c.id} (advbase ${c.advbase} advskew ${c.advskew}${sem === "openbsd" ? ` demote ${c.demote ?? 0}` : ""})`;
  if (tied.length > 1) {
    return {
      winner: null,
      ranking: sorted.map((c) => c.id),
      tied,
      explanation: `tie between ${tied.join(", ")}: equal advertisements, both step down and the first master-down timer wins`,
    };
  }
  const second = sorted[1];
  let why = "the only candidate";
  if (second) {
    const [a, b] = [key(best), key(second)];
    why =
      a[0] !== b[0]
        ? `lower demote count than ${desc(second)}`
        : a[1] !== b[1]
          ? `more frequent advertisements than ${desc(second)}`
          : `wins ucarp's source-address tie-break against ${desc(second)}`;
  }
  return { winner: best.id, ranking: sorted.map((c) => c.id), tied, explanation: `${desc(best)}: ${why}` };
}

/**
 * Whether the sender of `advert` takes over from the master that sent `master` at once: the master
 * steps down on hearing it (decideAsMaster), and the sender, itself advertising, would not step down on
 * hearing the master. Equal adverts without a tie-break (FreeBSD, OpenBSD, ucarp over IPv6) make both
 * step down: nobody takes over at once and the first master-down timer wins (as predictWinner says).
 */
export function takesOver(
  sem: PeerSemantics,
  master: TheirSide,
  advert: TheirSide,
  tieBreakOrder: "little" | "big" = "little",
): boolean {
  const side = (s: TheirSide): OurSide => ({
    advbase: s.advbase,
    advskew: s.advskew,
    demote: s.demote,
    willTimeOutUs: null,
    preempt: true,
    address4: isIPv4(s.from) ? s.from : undefined,
    tieBreakOrder,
  });
  return decideAsMaster(sem, side(master), advert).kind === "stepDown" && decideAsMaster(sem, side(advert), master).kind === "stay";
}
