// Deadline scheduler for the core's timers: one setTimeout for the whole daemon (not one per vhid and
// timer), timers that fall due together fire in one pass in deadline order, and each expiry is reported
// with its SCHEDULED deadline as `now` when it fires only a little late. The core computes the next
// deadline from that `now`, so a MASTER's adverts stay on a fixed grid (deadline + interval) instead of
// drifting by the event loop's wake-up lateness every interval.

/** Expiries at most this late (ms) are delivered at their deadline; later ones at the real time. */
export const MAX_CATCH_UP_MS = 100;
/** Deadlines this close (ms) after the wake-up fire in the same pass (setTimeout has 1 ms granularity). */
export const COALESCE_MS = 0.5;

export interface SchedulerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock = (now: () => number): SchedulerClock => ({
  now,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
});

interface Entry<T> {
  at: number;
  payload: T;
  /** May be delivered before its deadline, as part of a big pass (see LeadOptions). */
  lead: boolean;
}

/**
 * Early delivery for big passes: entries armed with `lead` that fall due together wake up
 * min(maxMs, perEntryMs * count) before their deadline, so the caller can do the per-entry work
 * (for adverts: the core step, encoding, signing) ahead and act at the deadline itself. A lone entry
 * wakes almost on time; entries without `lead` are never delivered before their deadline.
 */
export interface LeadOptions {
  perEntryMs: number;
  maxMs: number;
}

export class DeadlineScheduler<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private handle: unknown = null;
  private handleAt = Infinity; // when the pending wake-up fires
  private plannedAt = Infinity; // the deadline it was planned for (handleAt + lead)
  private firing = false;
  private readonly clock: SchedulerClock;

  /**
   * `fire(due)` runs once per wake-up with every due entry in deadline order; each `now` is the entry's
   * deadline or, when it fired late, the real time. Entries disarmed by an earlier callback of the same
   * pass are not in the list (the callback runs after all were taken out).
   */
  constructor(
    private readonly fire: (due: { payload: T; now: number }[]) => void,
    clock: SchedulerClock | (() => number),
    private readonly leadOpts: LeadOptions = { perEntryMs: 0, maxMs: 0 },
  ) {
    this.clock = typeof clock === "function" ? realClock(clock) : clock;
  }

  get size(): number {
    return this.entries.size;
  }

  deadline(key: string): number | undefined {
    return this.entries.get(key)?.at;
  }

  /** Arms (or re-arms) `key` for absolute time `at` on the clock; `lead`: see LeadOptions. */
  arm(key: string, at: number, payload: T, lead = false): void {
    const e = this.entries.get(key);
    if (e) {
      e.at = at;
      e.payload = payload;
      e.lead = lead;
    } else this.entries.set(key, { at, payload, lead });
    if (!this.firing && at - (lead ? this.leadOpts.maxMs : 0) < this.handleAt) this.reschedule();
  }

  disarm(key: string): void {
    this.entries.delete(key); // the pending wake-up, if it was for this key, finds nothing due and re-arms
  }

  clear(): void {
    this.entries.clear();
    this.reschedule();
  }

  /** Plans the next wake-up: the earliest deadline, less the lead of its pass. */
  private reschedule(): void {
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.handle = null;
    this.handleAt = Infinity;
    this.plannedAt = Infinity;
    if (this.entries.size === 0) return;
    const { perEntryMs, maxMs } = this.leadOpts;
    let wake = Infinity;
    let planned = Infinity;
    if (maxMs <= 0) {
      for (const e of this.entries.values()) if (e.at < wake) wake = e.at;
      planned = wake;
    } else {
      const arr = [...this.entries.values()].sort((a, b) => a.at - b.at);
      for (let i = 0; i < arr.length && arr[i].at - maxMs < wake; i++) {
        const e = arr[i];
        let w = e.at;
        if (e.lead) {
          let n = 0;
          for (let j = i; j < arr.length && arr[j].at <= e.at + COALESCE_MS; j++) if (arr[j].lead) n++;
          w = e.at - Math.min(maxMs, perEntryMs * n);
        }
        if (w < wake) {
          wake = w;
          planned = e.at;
        }
      }
    }
    this.handleAt = wake;
    this.plannedAt = planned;
    // Round up: a timer that wakes before its time would only have to sleep again.
    this.handle = this.clock.setTimeout(() => this.onWake(), Math.max(0, Math.ceil(wake - this.clock.now())));
  }

  private onWake(): void {
    this.handle = null;
    const planned = this.plannedAt;
    this.handleAt = Infinity;
    this.plannedAt = Infinity;
    this.firing = true;
    try {
      const real = this.clock.now();
      const due: [string, Entry<T>][] = [];
      for (const kv of this.entries) {
        const limit = (kv[1].lead ? Math.max(real, planned) : real) + COALESCE_MS;
        if (kv[1].at <= limit) due.push(kv);
      }
      due.sort((a, b) => a[1].at - b[1].at);
      const batch: { payload: T; now: number }[] = [];
      for (const [key, e] of due) {
        this.entries.delete(key);
        batch.push({ payload: e.payload, now: real - e.at <= MAX_CATCH_UP_MS ? e.at : real });
      }
      if (batch.length > 0) this.fire(batch);
    } finally {
      this.firing = false;
      this.reschedule();
    }
  }
}
