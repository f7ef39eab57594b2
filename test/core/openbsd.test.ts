// §4.2 OpenBSD 1.370 rules: the demote byte, raw advskew, constant replay cookie.
import { describe, expect, it } from "vitest";
import { advert, backup, cmd, master, mk, run, sends, start } from "./helpers.js";

const ob = { semantics: "openbsd" as const };

describe("OpenBSD demote byte", () => {
  it("advertises raw advskew and the demotion (global + per vhid) in byte 4, clamped 0..255", () => {
    const { s } = master({ ...ob, advskew: 50, demote: 2 }, { globalDemotion: 3 });
    const r = run(s, { kind: "timer", timer: "advertise" }, s.timers.advertise!);
    expect(sends(r.actions)[0].advert).toMatchObject({ advskew: 50, demote: 5 });
    const big = master({ ...ob, demote: 300 }).s;
    expect(sends(run(big, { kind: "timer", timer: "advertise" }, big.timers.advertise!).actions)[0].advert.demote).toBe(255);
    const neg = master({ ...ob, demote: -4 }).s;
    expect(sends(run(neg, { kind: "timer", timer: "advertise" }, neg.timers.advertise!).actions)[0].advert.demote).toBe(0);
  });

  it("MASTER: a lower demote count wins outright, even with a slower advertisement", () => {
    const { s } = master({ ...ob, advskew: 0, demote: 1 });
    const r = run(s, advert({ advskew: 100, demote: 0 }), 5000);
    expect(r.state.state).toBe("BACKUP");
    expect(r.state.reason).toBe("demoted by 1: lower demote count 0 advertised by 198.51.100.2 (advbase 1 advskew 100)");
  });

  it("MASTER: a more-demoted peer does not make us step down, even if it is faster", () => {
    const { s } = master({ ...ob, advskew: 100 });
    expect(run(s, advert({ advskew: 0, demote: 1 }), 5000).state.state).toBe("MASTER");
  });

  it("MASTER: equal demote, timing decides; equal timing both step down", () => {
    const { s } = master({ ...ob, advskew: 10, demote: 2 });
    expect(run(s, advert({ advskew: 5, demote: 2 }), 5000).state.state).toBe("BACKUP");
    expect(run(s, advert({ advskew: 10, demote: 2 }), 5000).state.state).toBe("BACKUP");
    expect(run(s, advert({ advskew: 11, demote: 2 }), 5000).state.state).toBe("MASTER");
  });

  it("BACKUP: takes over from a more-demoted master regardless of preempt", () => {
    const s = backup({ ...ob, advskew: 100, preempt: false });
    const r = run(s, advert({ advskew: 0, demote: 1 }), 700);
    expect(r.state.state).toBe("MASTER");
    expect(r.state.reason).toBe("taking over from more-demoted master 198.51.100.2 (advbase 1 advskew 0) (demote 1 > 0)");
  });

  it("BACKUP: preempt needs d >= D; a less-demoted slower master is not preempted", () => {
    const s = backup({ ...ob, advskew: 0, preempt: true, demote: 1 });
    expect(run(s, advert({ advskew: 100, demote: 0 }), 700).state.state).toBe("BACKUP");
    const s2 = backup({ ...ob, advskew: 0, preempt: true, demote: 1 });
    expect(run(s2, advert({ advskew: 100, demote: 1 }), 700).state.reason).toMatch(/^preempting a slower master/);
  });

  it("BACKUP: the will-time-out rule is off when our advbase is 0", () => {
    const s = backup({ ...ob, advbase: 0, advskew: 10 });
    const r = run(s, advert({ advbase: 200, advskew: 0 }), 700);
    expect(r.state.state).toBe("BACKUP");
    expect(r.state.timers.masterDown4).toBeCloseTo(700 + (3 * 39062) / 1000, 9);
    expect(run(backup({ ...ob, advbase: 1 }), advert({ advbase: 200 }), 700).state.state).toBe("MASTER");
  });

  it("FreeBSD semantics ignores the same demote byte", () => {
    const s = backup({ advskew: 100 });
    expect(run(s, advert({ advskew: 0, demote: 1 }), 700).state.state).toBe("BACKUP");
  });

  it("a per-vhid carpdemote makes a MASTER advertise the new byte at once", () => {
    const { s } = master({ ...ob });
    const r = run(s, cmd({ op: "demote", delta: 1 }), 3500);
    expect(sends(r.actions).map((a) => a.advert.demote)).toEqual([1]);
    expect(r.state.timers.advertise).toBe(4500);
    expect(run(r.state, cmd({ op: "demote", delta: -1 }), 3600).state.params.demote).toBe(0);
  });
});

describe("OpenBSD replay cookie", () => {
  it("every advert carries the same counter, and received counters are not copied", () => {
    let { s } = master({ ...ob }, { counter: 0xabcdefn });
    s = run(s, advert({ advskew: 200, counter: 77n }), 3100).state;
    const seen: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      const r = run(s, { kind: "timer", timer: "advertise" }, s.timers.advertise!);
      seen.push(...sends(r.actions).map((a) => a.advert.counter));
      s = r.state;
    }
    expect(seen).toEqual([0xabcdefn, 0xabcdefn, 0xabcdefn]);
  });

  it("an advert carrying our own cookie is our own looped packet, whatever its source", () => {
    const s = start(mk({ ...ob, preempt: true }, { counter: 42n }), 0).state;
    const r = run(s, advert({ from: "198.51.100.77", advskew: 200, counter: 42n }), 100);
    expect(r.state.state).toBe("BACKUP");
    expect(r.state.stats.ownLoops).toBe(1);
    expect(r.actions).toEqual([]);
  });
});
