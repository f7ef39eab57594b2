// The daemon's one timer: it wakes at the core's pollTimeout() and calls back with the times to hand to
// Cluster.handleTimeout. The core runs each timer at its own deadline (no drift from wake-up lateness).
//
// Big advert passes: when many advertise deadlines fall due together, the timer wakes up to maxLeadMs
// (perAdvertMs per advert) before them; the caller runs the core for the whole pass (advertiseUntil =
// the deadline), encodes and signs every advert, waits out the rest of the lead and sends them back to
// back, so the wire timing does not carry the cost of 255 core steps. Master-down timers are never early.

/** Deadlines this close (ms) after the wake-up run in the same pass (setTimeout has 1 ms granularity). */
export const COALESCE_MS = 0.5;

export interface TimerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock = (now: () => number): TimerClock => ({
  now,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
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
    const adv = this.lead.maxLeadMs > 0 ? this.core.nextAdvertise() : undefined;
    if (adv !== undefined) {
      const early = adv - Math.min(this.lead.maxLeadMs, this.lead.perAdvertMs * this.core.advertsDue(adv + COALESCE_MS));
      if (early < wake) {
        wake = early;
        planned = adv;
      }
    }
    if (this.handle !== null && wake === this.wakeAt && planned === this.planned) return;
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
    const real = this.clock.now();
    try {
      this.fire({ now: real + COALESCE_MS, advertiseUntil: Math.max(real, planned) + COALESCE_MS, sendAt: planned });
    } finally {
      this.reschedule();
    }
  }
}
