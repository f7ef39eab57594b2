// The daemon's one timer over the core's deadlines (CoreTimer + a real Cluster), with a manual clock:
// no drift, one pending wake-up for many vhids, and the early wake-up of big advert passes.
import { describe, expect, it } from "vitest";
import { Cluster, MAX_CATCH_UP_MS } from "../../src/core/index.js";
import { CoreTimer, RX_AGE_MAX_MS, RxClock, waitUntil, type LeadOptions, type TimerClock, type Wake } from "../../src/daemon/timer.js";

/** A manual clock: setTimeout callbacks run when advance() passes their (integer ms) wake time plus `lateness`. */
function fakeClock(lateness: () => number) {
  let t = 0;
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const clock: TimerClock = {
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

/** `n` vhids, all forced MASTER at time 0 (advertise deadlines at 1000 + skew). */
function masters(n: number, skew = (_v: number) => 0) {
  const c = new Cluster();
  for (let v = 1; v <= n; v++) {
    c.add("eth0", { vhid: v, advskew: skew(v), vips: { v4: 1, v6: 0 } }, { counter: BigInt(v) });
    c.command({ ifname: "eth0", vhid: v }, { op: "force", state: "MASTER" }, 0);
  }
  while (c.pollTransmit());
  return c;
}

function driven(c: Cluster, lateness: () => number, lead: LeadOptions = { perAdvertMs: 0, maxLeadMs: 0 }) {
  const fc = fakeClock(lateness);
  const wakes: (Wake & { real: number; sent: number[] })[] = [];
  const timer = new CoreTimer(
    c,
    (w) => {
      c.handleTimeout(w.now, w.advertiseUntil);
      const sent: number[] = [];
      for (let t = c.pollTransmit(); t; t = c.pollTransmit()) sent.push(t.ref.vhid);
      wakes.push({ ...w, real: fc.clock.now(), sent });
    },
    fc.clock,
    lead,
  );
  timer.reschedule();
  return { ...fc, wakes, timer };
}

describe("CoreTimer", () => {
  it("wakes a little late every time, yet the adverts stay on the deadline grid (no drift)", () => {
    const c = masters(1);
    const { advance, wakes } = driven(c, () => 0.8);
    advance(60_500);
    expect(wakes.length).toBe(60);
    // Each interval would otherwise grow by the lateness (0.8 ms * 60 = 48 ms drift).
    expect(c.pollTimeout()).toBe(61_000);
    expect(wakes.every((w) => w.sent.length === 1)).toBe(true);
  });

  it("a wake-up more than MAX_CATCH_UP_MS late restarts the grid from the real time", () => {
    const c = masters(1);
    const { advance } = driven(c, () => MAX_CATCH_UP_MS + 50);
    advance(1200);
    expect(c.pollTimeout()).toBe(1000 + MAX_CATCH_UP_MS + 50 + 0.5 + 1000);
  });

  it("one pending wake-up for 255 vhids; those due together run in one pass, in deadline order", () => {
    const c = masters(255, (v) => (v % 2) * 64); // odd vhids 250 ms later
    const { advance, wakes, pendingCount } = driven(c, () => 0);
    expect(pendingCount()).toBe(1);
    advance(1100);
    expect(wakes).toHaveLength(1);
    expect(wakes[0].sent).toHaveLength(127);
    expect(wakes[0].sent.every((v) => v % 2 === 0)).toBe(true);
    expect(pendingCount()).toBe(1);
    advance(1300);
    expect(wakes[1].sent).toHaveLength(128);
  });

  it("coalesceMs: adverts due a few ms apart share one pass a second, never after their deadline, on the grid", () => {
    // Three groups of vhids that became MASTER 0, 3 and 7 ms apart (same interval).
    const groups = () => {
      const c = new Cluster();
      for (let v = 1; v <= 30; v++) {
        c.add("eth0", { vhid: v, vips: { v4: 1, v6: 0 } }, { counter: BigInt(v) });
        c.command({ ifname: "eth0", vhid: v }, { op: "force", state: "MASTER" }, [0, 3, 7][v % 3]);
      }
      while (c.pollTransmit());
      return c;
    };
    const c = groups();
    const { advance, wakes } = driven(c, () => 0, { perAdvertMs: 0.02, maxLeadMs: 5, coalesceMs: 10 });
    advance(5100);
    expect(wakes).toHaveLength(5);
    expect(wakes.every((w) => w.sent.length === 30 && w.sendAt % 1000 === 0)).toBe(true);
    expect(c.pollTimeout()).toBe(6000); // each group stays on its own grid: no drift
    expect(c.get({ ifname: "eth0", vhid: 1 })!.timers.advertise).toBe(6003);
    // Without it each group wakes on its own.
    const d = driven(groups(), () => 0, { perAdvertMs: 0.02, maxLeadMs: 5 });
    d.advance(1100);
    expect(d.wakes).toHaveLength(3);
  });

  it("a big advert pass wakes early (capped at the max lead) and runs at its deadline; a master-down is never early", () => {
    const c = masters(255);
    c.add("eth1", { vhid: 1, vips: { v4: 1, v6: 0 } }, { counter: 9n });
    c.command({ ifname: "eth1", vhid: 1 }, { op: "start" }, -2002); // master-down at 998.x
    const { advance, wakes } = driven(c, () => 0, { perAdvertMs: 0.02, maxLeadMs: 5 });
    advance(1500);
    expect(wakes[0].real).toBe(995); // 1000 - min(5, 255 * 0.02)
    expect(wakes[0].sendAt).toBe(1000);
    expect(wakes[0].sent).toHaveLength(255);
    expect(c.get({ ifname: "eth1", vhid: 1 })!.state).toBe("MASTER"); // it took over at its own wake-up …
    expect(wakes[1].real).toBeGreaterThanOrEqual(998); // … not early
    // A lone advert wakes (almost) on time.
    const lone = masters(1);
    const d = driven(lone, () => 0, { perAdvertMs: 0.02, maxLeadMs: 5 });
    d.advance(1500);
    expect(d.wakes[0].real).toBeGreaterThanOrEqual(999);
  });

  it("spinMs: a master-down wakes that much early and busy-waits to its deadline; adverts do not spin", () => {
    const c = new Cluster();
    c.add("eth0", { vhid: 1, vips: { v4: 1, v6: 0 } }, { counter: 1n });
    c.command({ ifname: "eth0", vhid: 1 }, { op: "start" }, 0);
    const deadline = c.pollTimeout()!; // master-down (3 s + skew)
    let t = 0;
    let spinning = false;
    const asked: number[] = [];
    let wake: (() => void) | null = null;
    const clock: TimerClock = {
      now: () => (spinning ? (t += 0.01) : t), // the clock moves while the timer busy-waits
      setTimeout: (fn, ms) => (asked.push(ms), (wake = fn)),
      clearTimeout: () => (wake = null),
    };
    const fired: { now: number; real: number }[] = [];
    const timer = new CoreTimer(c, (w) => (fired.push({ now: w.now, real: t }), c.handleTimeout(w.now, w.advertiseUntil)), clock, { perAdvertMs: 0, maxLeadMs: 0, spinMs: 1.5 });
    timer.reschedule();
    expect(asked[0]).toBe(Math.ceil(deadline - 1.5));
    t = asked[0] - 0.2; // woken a little before the (rounded) time, as libuv may
    spinning = true;
    wake!();
    spinning = false;
    expect(fired[0].real).toBeGreaterThanOrEqual(deadline);
    expect(fired[0].real).toBeLessThan(deadline + 0.05);
    expect(c.get({ ifname: "eth0", vhid: 1 })!.state).toBe("MASTER");
    // Now MASTER: the next deadline is an advert, which is not spun for (asked for at its full delay).
    expect(asked.at(-1)).toBe(Math.ceil(c.pollTimeout()! - t));
    timer.stop();
  });

  it("stop() leaves nothing pending", () => {
    const c = masters(3);
    const { timer, pendingCount, advance, wakes } = driven(c, () => 0);
    timer.stop();
    expect(pendingCount()).toBe(0);
    advance(5000);
    expect(wakes).toEqual([]);
  });
});

describe("RxClock", () => {
  it("gives a packet's age from its kernel (wall-clock) stamp, within 0.5 ms, clamped, 0 on a clock step", () => {
    let mono = 5000.3;
    let wall = 1_800_000_000_123.9; // Date.now() reports whole ms
    const rx = new RxClock(() => mono, () => Math.floor(wall));
    expect(Math.abs(rx.age(wall - 3.25) - 3.25)).toBeLessThanOrEqual(0.5);
    mono += 10.6;
    wall += 10.6; // a second sample narrows the offset
    expect(Math.abs(rx.age(wall - 1) - 1)).toBeLessThanOrEqual(0.5);
    expect(rx.age(wall + 0.4)).toBe(0); // stamped "after" now by rounding: never negative
    expect(rx.age(wall - 500)).toBe(RX_AGE_MAX_MS);
    expect(rx.age(Number.NaN)).toBe(0);
    wall += 3_600_000; // the wall clock steps an hour: the offset is re-learnt, not a huge age
    expect(rx.age(wall - 2)).toBeLessThanOrEqual(2.5);
  });
});

describe("waitUntil", () => {
  it("returns at or after the deadline and sleeps rather than spins (little CPU for a 100 ms wait)", () => {
    const now = () => performance.now();
    const cpu0 = process.cpuUsage();
    const t = now() + 100;
    const woke = waitUntil(now, t);
    const cpu = process.cpuUsage(cpu0);
    expect(woke).toBeGreaterThanOrEqual(t);
    expect(woke - t).toBeLessThan(25); // generous: a busy host may wake us late
    // A busy-wait would burn ~100 ms; the process's other threads (GC, the test runner) add a little.
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(50);
    expect(waitUntil(now, now() - 5)).toBeGreaterThan(0); // a past deadline returns at once
  });
});
