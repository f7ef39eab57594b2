// §4.1 timers, exact to the µs in the helpers and to the (fractional) ms in armed deadlines.
import { describe, expect, it } from "vitest";
import { advertIntervalUs, masterDownUs, skewUs, willTimeOutUs } from "../../src/core/timing.js";
import { armOf, cmd, master, mk, run, start } from "./helpers.js";

describe("interval arithmetic", () => {
  it("skew is advskew*1000000/256 truncated, like the kernels' timeval", () => {
    expect([0, 1, 10, 20, 100, 240, 255].map(skewUs)).toEqual([0, 3906, 39062, 78125, 390625, 937500, 996093]);
  });

  it("advertisement interval is advbase + advskew/256 for every semantics", () => {
    for (const sem of ["freebsd", "openbsd", "ucarp"] as const) {
      expect(advertIntervalUs(sem, 1, 20)).toBe(1_078_125);
      expect(advertIntervalUs(sem, 2, 0)).toBe(2_000_000);
    }
    // OpenBSD advbase 0 advskew 0 becomes 1/256 s
    expect(advertIntervalUs("openbsd", 0, 0)).toBe(3906);
    expect(advertIntervalUs("openbsd", 0, 128)).toBe(500_000);
  });

  it("master-down: freebsd counts the skew once, openbsd triples it, ucarp uses deadratio", () => {
    expect(masterDownUs("freebsd", 1, 20)).toBe(3_078_125);
    expect(masterDownUs("openbsd", 1, 20)).toBe(3_234_375);
    expect(masterDownUs("ucarp", 1, 20)).toBe(3_078_125);
    expect(masterDownUs("ucarp", 1, 20, 5)).toBe(5_078_125);
    expect(masterDownUs("ucarp", 2, 100, 4)).toBe(8_390_625);
    expect(masterDownUs("openbsd", 0, 0)).toBe(3 * 3906);
    expect(masterDownUs("freebsd", 255, 254)).toBe(765_000_000 + 992_187);
  });

  it("will-time-out threshold multiplies only the seconds; openbsd advbase 0 disables it", () => {
    expect(willTimeOutUs("freebsd", 1, 200)).toBe(3_781_250);
    expect(willTimeOutUs("openbsd", 1, 200)).toBe(3_781_250);
    expect(willTimeOutUs("ucarp", 2, 10, 4)).toBe(8_039_062);
    expect(willTimeOutUs("openbsd", 0, 10)).toBeNull();
  });
});

describe("armed deadlines in the vhid machine", () => {
  const cases = [
    { semantics: "freebsd" as const, advbase: 1, advskew: 20, md: 3078.125 },
    { semantics: "freebsd" as const, advbase: 2, advskew: 10, md: 6039.062 },
    { semantics: "openbsd" as const, advbase: 1, advskew: 20, md: 3234.375 },
    { semantics: "openbsd" as const, advbase: 0, advskew: 0, md: 11.718 },
    { semantics: "ucarp" as const, advbase: 1, advskew: 20, md: 3078.125, deadratio: 3 },
    { semantics: "ucarp" as const, advbase: 1, advskew: 20, md: 4078.125, deadratio: 4 },
  ];
  for (const c of cases) {
    it(`${c.semantics} advbase ${c.advbase} advskew ${c.advskew}${c.deadratio ? ` deadratio ${c.deadratio}` : ""}: master-down at start + ${c.md} ms`, () => {
      const s = mk({ semantics: c.semantics, advbase: c.advbase, advskew: c.advskew, deadratio: c.deadratio });
      const r = start(s, 1000);
      expect(armOf(r, "masterDown4")).toBeCloseTo(1000 + c.md, 9);
      expect(r.state.timers.masterDown4).toBeCloseTo(1000 + c.md, 9);
    });
  }

  it("a received advert restarts the master-down timer from the receipt time, with OUR values", () => {
    const s = start(mk({ advskew: 20 }), 0).state;
    const r = run(s, { kind: "advert", from: "198.51.100.2", family: 4, header: { ...hdr(), advbase: 2, advskew: 0 } }, 1500);
    expect(armOf(r, "masterDown4")).toBe(1500 + 3078.125);
  });

  it("freebsd: first advertisement interval after takeover uses the raw skew, later ones the demoted skew", () => {
    const { s, at } = master({ advskew: 20 }, { globalDemotion: 100 });
    expect(s.timers.advertise).toBe(at + 1078.125); // raw 20
    const r = run(s, { kind: "timer", timer: "advertise" }, s.timers.advertise!);
    expect(armOf(r, "advertise")).toBe(s.timers.advertise! + 1468.75); // 120/256 s
  });

  it("openbsd always arms with the raw skew; ucarp with the suppressed one", () => {
    const o = master({ semantics: "openbsd", advskew: 20 }, { globalDemotion: 5 });
    const ro = run(o.s, { kind: "timer", timer: "advertise" }, o.s.timers.advertise!);
    expect(armOf(ro, "advertise")).toBe(o.s.timers.advertise! + 1078.125);
    const u = master({ semantics: "ucarp", advskew: 20 }, { globalDemotion: 240 });
    expect(u.s.timers.advertise).toBe(u.at + 1937.5); // 240/256 s
  });

  it("changing advbase changes the next master-down arming", () => {
    let s = start(mk(), 0).state;
    s = run(s, cmd({ op: "setAdvbase", value: 3 }), 10).state;
    const r = run(s, { kind: "advert", from: "198.51.100.2", family: 4, header: { ...hdr(), advbase: 3, advskew: 10 } }, 20);
    expect(armOf(r, "masterDown4")).toBe(20 + 9000);
  });
});

function hdr() {
  return {
    version: 2,
    type: 1,
    vhid: 1,
    advskew: 0,
    authlen: 7,
    demote: 0,
    advbase: 1,
    checksum: 0,
    counter: 1n,
    hmac: Buffer.alloc(20),
  };
}
