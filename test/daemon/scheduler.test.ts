import { describe, expect, it } from "vitest";

import { DeadlineScheduler, MAX_CATCH_UP_MS, type SchedulerClock } from "../../src/daemon/scheduler.js";

/** A manual clock: setTimeout callbacks run when advance() passes their (integer ms) wake time plus `lateness`. */
function fakeClock(lateness: () => number) {
  let t = 0;
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const clock: SchedulerClock = {
    now: () => t,
    setTimeout: (fn, ms) => {
      const id = ++seq;
      pending.set(id, { at: t + ms + lateness(), fn });
      return id;
    },
    clearTimeout: (h) => void pending.delete(h as number),
  };
  const advance = (to: number) => {
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const kv of pending) if (kv[1].at <= to && (!next || kv[1].at < next[1].at)) next = kv;
      if (!next) break;
      pending.delete(next[0]);
      t = next[1].at;
      next[1].fn();
    }
    t = to;
  };
  return { clock, advance, pendingCount: () => pending.size };
}

describe("DeadlineScheduler", () => {
  it("reports the scheduled deadline as now when a wake-up is a little late, so a periodic timer does not drift", () => {
    const { clock, advance } = fakeClock(() => 0.8); // every wake-up 0.8 ms late
    const fired: number[] = [];
    const s = new DeadlineScheduler<string>((due) => {
      for (const { now } of due) {
        fired.push(now);
        s.arm("adv", now + 1000, "adv"); // like the core: next deadline = now + interval
      }
    }, clock);
    s.arm("adv", 1000, "adv");
    advance(60_500);
    expect(fired.length).toBe(60);
    // Before the fix each interval would have grown by the lateness (0.8 ms * 60 = 48 ms drift).
    expect(fired[59]).toBe(60_000);
    for (let i = 1; i < fired.length; i++) expect(fired[i] - fired[i - 1]).toBe(1000);
  });

  it("delivers the real time when an expiry is very late (event loop stalled)", () => {
    const { clock, advance } = fakeClock(() => MAX_CATCH_UP_MS + 50);
    const fired: number[] = [];
    const s = new DeadlineScheduler<string>((due) => due.forEach((d) => fired.push(d.now)), clock);
    s.arm("a", 10, "a");
    advance(1000);
    expect(fired).toEqual([10 + MAX_CATCH_UP_MS + 50]);
  });

  it("uses one pending wake-up for many timers and fires those due together in one pass, in deadline order", () => {
    const { clock, advance, pendingCount } = fakeClock(() => 0);
    const fired: string[] = [];
    const passes: number[] = [];
    const s = new DeadlineScheduler<string>((due) => {
      passes.push(due.length);
      due.forEach((d) => fired.push(d.payload));
    }, clock);
    for (let v = 255; v >= 1; v--) s.arm(`v${v}`, 1000 + (v % 2) * 0.25, `v${v}`);
    s.arm("later", 2000, "later");
    expect(pendingCount()).toBe(1);
    advance(1500);
    expect(fired.length).toBe(255);
    expect(passes).toEqual([255]);
    // even vhids (deadline 1000) before odd ones (1000.25)
    expect(fired.slice(0, 127).every((p) => Number(p.slice(1)) % 2 === 0)).toBe(true);
    expect(s.size).toBe(1);
    expect(pendingCount()).toBe(1);
    advance(2500);
    expect(fired.at(-1)).toBe("later");
  });

  it("disarm and re-arm win over an earlier deadline", () => {
    const { clock, advance } = fakeClock(() => 0);
    const fired: string[] = [];
    const s = new DeadlineScheduler<string>((due) => due.forEach((d) => fired.push(d.payload)), clock);
    s.arm("a", 100, "a");
    s.arm("b", 100, "b");
    s.disarm("a");
    s.arm("b", 300, "b2");
    advance(200);
    expect(fired).toEqual([]);
    advance(400);
    expect(fired).toEqual(["b2"]);
    s.arm("c", 500, "c");
    s.clear();
    advance(1000);
    expect(fired).toEqual(["b2"]);
  });

  it("lead: a big pass of lead entries wakes early (capped), is delivered at its deadline; plain entries never early", () => {
    const { clock, advance } = fakeClock(() => 0);
    const wakes: { real: number; nows: number[]; payloads: string[] }[] = [];
    const s = new DeadlineScheduler<string>(
      (due) => wakes.push({ real: clock.now(), nows: due.map((d) => d.now), payloads: due.map((d) => d.payload) }),
      clock,
      { perEntryMs: 0.02, maxMs: 5 },
    );
    for (let v = 1; v <= 255; v++) s.arm(`adv${v}`, 1000, `adv${v}`, true);
    s.arm("md", 998, "md"); // a master-down timer inside the lead window: not early
    s.arm("lone", 2000, "lone", true);
    advance(3000);
    expect(wakes[0].real).toBe(995); // 1000 - min(5, 255 * 0.02)
    expect(wakes[0].payloads.length).toBe(255);
    expect(new Set(wakes[0].nows)).toEqual(new Set([1000]));
    expect(wakes[1]).toEqual({ real: 998, nows: [998], payloads: ["md"] });
    expect(wakes[2].payloads).toEqual(["lone"]);
    expect(wakes[2].real).toBeGreaterThanOrEqual(1999.98 - 1); // a lone entry: (almost) no lead
    expect(wakes[2].nows).toEqual([2000]);
  });
});
