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
}

export class DeadlineScheduler<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private handle: unknown = null;
  private handleAt = Infinity;
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
  ) {
    this.clock = typeof clock === "function" ? realClock(clock) : clock;
  }

  get size(): number {
    return this.entries.size;
  }

  deadline(key: string): number | undefined {
    return this.entries.get(key)?.at;
  }

  /** Arms (or re-arms) `key` for absolute time `at` on the clock. */
  arm(key: string, at: number, payload: T): void {
    const e = this.entries.get(key);
    if (e) {
      e.at = at;
      e.payload = payload;
    } else this.entries.set(key, { at, payload });
    if (!this.firing && at < this.handleAt) this.schedule(at);
  }

  disarm(key: string): void {
    this.entries.delete(key); // the pending wake-up, if it was for this key, finds nothing due and re-arms
  }

  clear(): void {
    this.entries.clear();
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.handle = null;
    this.handleAt = Infinity;
  }

  private schedule(at: number): void {
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.handleAt = at;
    // Round up: a timer that wakes before its deadline would only have to sleep again.
    this.handle = this.clock.setTimeout(() => this.onWake(), Math.max(0, Math.ceil(at - this.clock.now())));
  }

  private onWake(): void {
    this.handle = null;
    this.handleAt = Infinity;
    this.firing = true;
    try {
      const real = this.clock.now();
      const due: [string, Entry<T>][] = [];
      for (const kv of this.entries) if (kv[1].at <= real + COALESCE_MS) due.push(kv);
      due.sort((a, b) => a[1].at - b[1].at);
      const batch: { payload: T; now: number }[] = [];
      for (const [key, e] of due) {
        this.entries.delete(key);
        batch.push({ payload: e.payload, now: real - e.at <= MAX_CATCH_UP_MS ? e.at : real });
      }
      if (batch.length > 0) this.fire(batch);
    } finally {
      this.firing = false;
      let next = Infinity;
      for (const e of this.entries.values()) if (e.at < next) next = e.at;
      if (next !== Infinity) this.schedule(next);
    }
  }
}
