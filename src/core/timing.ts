// Interval arithmetic per semantics (carp-protocol.md §4.1). Everything in integer microseconds, the
// way the kernels build a timeval (skew µs = advskew * 1000000 / 256, truncated); deadlines are
// converted to the caller's ms clock only when a timer is armed.
import type { PeerSemantics } from "../protocol/types.js";

export const US_PER_S = 1_000_000;
export const MAX_SKEW = 240; // CARP_MAXSKEW
export const BOW_OUT = 255; // advbase = advskew = 255 in a bow-out advert

/** advskew/256 s in µs, truncated like `advskew * 1000000 / 256`. */
export function skewUs(advskew: number): number {
  return Math.floor((advskew * US_PER_S) / 256);
}

/** (advbase, advskew) as the timeval used in comparisons: smaller = more frequent = better. */
export function advertTimeUs(advbase: number, advskew: number): number {
  return advbase * US_PER_S + skewUs(advskew);
}

/** MASTER's advertisement interval. OpenBSD turns a zero interval into 1/256 s. */
export function advertIntervalUs(sem: PeerSemantics, advbase: number, advskew: number): number {
  const t = advertTimeUs(advbase, advskew);
  return t === 0 ? skewUs(1) : t; // only reachable with openbsd/ucarp advbase 0 and advskew 0
}

/**
 * BACKUP's master-down timeout, from its OWN advbase/advskew.
 * freebsd: 3*advbase + skew/256 (skew once); openbsd: 3*(advbase + skew/256) (skew tripled, min 3/256 s);
 * ucarp: deadratio*advbase + skew/256.
 */
export function masterDownUs(sem: PeerSemantics, advbase: number, advskew: number, deadratio = 3): number {
  switch (sem) {
    case "freebsd":
      return 3 * advbase * US_PER_S + skewUs(advskew);
    case "openbsd": {
      const t = 3 * advertTimeUs(advbase, advskew);
      return t === 0 ? 3 * skewUs(1) : t;
    }
    case "ucarp":
      return deadratio * advbase * US_PER_S + skewUs(advskew);
  }
}

/**
 * The "master will time out" threshold: a BACKUP takes over at once when the master's advertised
 * time is larger than this. All three multiply only the seconds (FreeBSD overwrites tv_sec, keeping
 * the skew µs); OpenBSD skips the rule when its own advbase is 0 (returns null).
 */
export function willTimeOutUs(sem: PeerSemantics, advbase: number, advskew: number, deadratio = 3): number | null {
  if (sem === "openbsd" && advbase === 0) return null;
  const mult = sem === "ucarp" ? deadratio : 3;
  return mult * advbase * US_PER_S + skewUs(advskew);
}

/** µs → ms for deadlines. */
export const usToMs = (us: number): number => us / 1000;
