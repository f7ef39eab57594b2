// The daemon's one timer: it wakes at the core's pollTimeout() and calls back with the times to hand to
// Cluster.handleTimeout. The core runs each timer at its own deadline (no drift from wake-up lateness).
//
// Big advert passes: when many advertise deadlines fall due together, the timer wakes up to maxLeadMs
// (perAdvertMs per advert) before them; the caller runs the core for the whole pass (advertiseUntil =
// the deadline), encodes and signs every advert, waits out the rest of the lead and sends them back to
// back, so the wire timing does not carry the cost of 255 core steps. Master-down timers never run early:
// with spinMs the timer wakes that much before a master-down deadline and waits out the rest (a futex
// sleep, then a busy-wait for the last SPIN_TAIL_MS: waitUntil), so a
// takeover does not carry setTimeout's whole-ms rounding and part of a busy host's wake-up latency.

/** Deadlines this close (ms) after the wake-up run in the same pass (setTimeout has 1 ms granularity). */
export const COALESCE_MS = 0.5;

export interface TimerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Blocks until now() >= t and returns now(); without it the timer busy-waits. */
  waitUntil?(t: number): number;
}

/** Spin only this last bit (ms) of a wait; sleep the rest. */
export const SPIN_TAIL_MS = 0.2;
const cell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks the thread until now() >= t: Atomics.wait (a futex sleep with a sub-ms timeout: no CPU and no
 * allocation, unlike a loop over performance.now() that fills the young generation and triggers a
 * scavenge in the middle of an advert pass), then a busy-wait for the last SPIN_TAIL_MS.
 */
export function waitUntil(now: () => number, t: number): number {
  let n = now();
  while (t - n > SPIN_TAIL_MS) {
    Atomics.wait(cell, 0, 0, t - n - SPIN_TAIL_MS);
    n = now();
  }
  while (n < t) n = now();
  return n;
}

export const realClock = (now: () => number): TimerClock => ({
  now,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  waitUntil: (t) => waitUntil(now, t),
});

/** What the timer needs from the core. */
export interface Deadlines {
  pollTimeout(): number | undefined;
  nextAdvertise(): number | undefined;
  advertsDue(until: number): number;
}

export interface LeadOptions {
  perAdvertMs: number;
  maxLeadMs: number;
  /** Wake this many ms before a deadline that is not an advert (master-down) and busy-wait to it. */
  spinMs?: number;
  /**
   * Adverts due up to this many ms after a pass's deadline go out in that pass (default COALESCE_MS):
   * vhids that became MASTER a few ms apart share one wake-up a second instead of each waking (and
   * risking a late wake) on its own. Their adverts leave up to this much before their deadline, every
   * time, so their intervals stay on the grid; a deadline is never passed.
   */
  coalesceMs?: number;
}

/** One pass: `now` and `advertiseUntil` for handleTimeout; `sendAt` is when the pass's adverts are due. */
export interface Wake {
  now: number;
  advertiseUntil: number;
  sendAt: number;
}

export class CoreTimer {
  private handle: unknown = null;
  private wakeAt = Infinity;
  private planned = Infinity;
  private spinning = false;
  private stopped = false;

  constructor(
    private readonly core: Deadlines,
    private readonly fire: (w: Wake) => void,
    private readonly clock: TimerClock,
    private readonly lead: LeadOptions = { perAdvertMs: 0, maxLeadMs: 0 },
  ) {}

  /** Re-plans the wake-up after the core's deadlines may have changed (cheap when nothing moved). */
  reschedule(): void {
    if (this.stopped) return;
    let planned = this.core.pollTimeout();
    if (planned === undefined) return this.clear();
    let wake = planned;
    const spin = this.lead.spinMs ?? 0;
    const adv = this.lead.maxLeadMs > 0 || spin > 0 ? this.core.nextAdvertise() : undefined;
    let spinning = spin > 0 && planned !== adv;
    if (spinning) wake = planned - spin; // a master-down deadline: wake early, spin the last bit
    if (adv !== undefined && this.lead.maxLeadMs > 0) {
      const early = adv - Math.min(this.lead.maxLeadMs, this.lead.perAdvertMs * this.core.advertsDue(adv + (this.lead.coalesceMs ?? COALESCE_MS)));
      if (early < wake) {
        wake = early;
        planned = adv;
        spinning = false;
      }
    }
    if (this.handle !== null && wake === this.wakeAt && planned === this.planned) return;
    this.spinning = spinning;
    this.clear();
    this.wakeAt = wake;
    this.planned = planned;
    // Round up: a timer that wakes before its time would only have to sleep again.
    this.handle = this.clock.setTimeout(() => this.onWake(), Math.max(0, Math.ceil(wake - this.clock.now())));
  }

  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private clear(): void {
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.handle = null;
    this.wakeAt = Infinity;
    this.planned = Infinity;
  }

  private onWake(): void {
    const planned = this.planned;
    this.handle = null;
    this.wakeAt = Infinity;
    this.planned = Infinity;
    let real = this.clock.now();
    // Woken early for a master-down deadline (spinMs): wait out the rest (at most spinMs + 1 ms).
    if (this.spinning && planned - real <= (this.lead.spinMs ?? 0) + 1) {
      if (this.clock.waitUntil) real = this.clock.waitUntil(planned);
      else while ((real = this.clock.now()) < planned);
    }
    try {
      this.fire({ now: real + COALESCE_MS, advertiseUntil: Math.max(real, planned) + (this.lead.coalesceMs ?? COALESCE_MS), sendAt: planned });
    } finally {
      this.reschedule();
    }
  }
}

/** Receive ages beyond this are taken as this (a packet that waited longer is treated as this late). */
export const RX_AGE_MAX_MS = 20;

/**
 * How long ago the kernel stamped a received packet, on the daemon's monotonic ms clock. The core runs
 * an advert at its arrival time (the kernels run carp_input in the receive path), so a busy host that
 * wakes us a few ms after the advert arrived does not push the master-down deadline back by that much.
 * The stamps are wall-clock (SO_TIMESTAMPNS): the wall − monotonic offset is tracked from Date.now()
 * (whole ms, so the offset is kept as the largest sample, within 0.5 ms); a clock step gives age 0.
 */
export class RxClock {
  private off = NaN;

  constructor(
    private readonly mono: () => number,
    private readonly wall: () => number = Date.now,
  ) {}

  age(stampEpochMs: number): number {
    const m = this.mono();
    const sample = this.wall() - m; // the true offset lies in [sample, sample + 1)
    this.off = Number.isNaN(this.off) || Math.abs(sample - this.off) > 2 ? sample + 0.5 : Math.max(this.off, sample);
    const a = m + this.off - stampEpochMs;
    if (!(a > -2 && a < 1000)) return 0; // no stamp, or the wall clock stepped
    return Math.min(RX_AGE_MAX_MS, Math.max(0, a));
  }
}
