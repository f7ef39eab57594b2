// The pure decision tables (§4.2/§4.3) and the "who would win" prediction used by the inspector.
import { describe, expect, it } from "vitest";
import { decideAsBackup, decideAsMaster, predictWinner, type OurSide } from "../../src/core/election.js";
import { willTimeOutUs } from "../../src/core/timing.js";

const ours = (o: Partial<OurSide> = {}): OurSide => ({
  advbase: 1,
  advskew: 10,
  demote: 0,
  willTimeOutUs: willTimeOutUs("freebsd", o.advbase ?? 1, o.advskew ?? 10),
  preempt: false,
  address4: "198.51.100.1",
  ...o,
});
const theirs = (advskew: number, demote = 0, advbase = 1, from = "198.51.100.2") => ({ from, advbase, advskew, demote });

describe("decideAsMaster", () => {
  it("freebsd: step down on S >= H, ignore the demote byte", () => {
    expect(decideAsMaster("freebsd", ours(), theirs(9)).kind).toBe("stepDown");
    expect(decideAsMaster("freebsd", ours(), theirs(10))).toEqual({ kind: "stepDown", why: "equal", extraAdvert: false });
    expect(decideAsMaster("freebsd", ours(), theirs(11, 0))).toEqual({ kind: "stay", reassert: false, why: "lessFrequent" });
    expect(decideAsMaster("freebsd", ours({ demote: 5 }), theirs(11, 0)).kind).toBe("stay");
  });

  it("openbsd: (S >= H and d <= D) or d < D", () => {
    const table: [number, number, number, string][] = [
      // our demote D, their skew, their demote d, expected
      [0, 9, 0, "stepDown"],
      [0, 10, 0, "stepDown"],
      [0, 11, 0, "stay"],
      [1, 200, 0, "stepDown"], // d < D wins outright
      [0, 0, 1, "stay"], // faster but more demoted
      [2, 9, 2, "stepDown"],
      [2, 9, 3, "stay"],
    ];
    for (const [D, skew, d, want] of table) {
      expect([D, skew, d, decideAsMaster("openbsd", ours({ demote: D }), theirs(skew, d)).kind]).toEqual([D, skew, d, want]);
    }
  });

  it("ucarp: extra advert on stepping down, re-announce when staying", () => {
    expect(decideAsMaster("ucarp", ours(), theirs(9))).toEqual({ kind: "stepDown", why: "moreFrequent", extraAdvert: true });
    expect(decideAsMaster("ucarp", ours(), theirs(11))).toEqual({ kind: "stay", reassert: true, why: "lessFrequent" });
    // equal with a non-IPv4 peer: no tie-break possible, behave like the kernels
    expect(decideAsMaster("ucarp", ours(), theirs(10, 0, 1, "2001:db8::2")).why).toBe("equal");
  });
});

describe("decideAsBackup", () => {
  it("freebsd/ucarp: preempt, then will-time-out, else restart", () => {
    expect(decideAsBackup("freebsd", ours({ preempt: true }), theirs(11))).toEqual({ kind: "takeover", why: "preempt" });
    expect(decideAsBackup("freebsd", ours({ preempt: false }), theirs(11))).toEqual({ kind: "restart" });
    expect(decideAsBackup("freebsd", ours(), theirs(0, 0, 4))).toEqual({ kind: "takeover", why: "willTimeOut" });
    expect(decideAsBackup("ucarp", ours({ willTimeOutUs: null }), theirs(0, 0, 4))).toEqual({ kind: "restart" });
  });

  it("openbsd: preempt needs d >= D; d > D takes over regardless of preempt", () => {
    expect(decideAsBackup("openbsd", ours({ preempt: true, demote: 1 }), theirs(11, 0)).kind).toBe("restart");
    expect(decideAsBackup("openbsd", ours({ preempt: true, demote: 1 }), theirs(11, 1)).kind).toBe("takeover");
    expect(decideAsBackup("openbsd", ours({ demote: 1 }), theirs(0, 2))).toEqual({ kind: "takeover", why: "moreDemoted" });
  });
});

describe("predictWinner", () => {
  it("freebsd: most frequent wins; equal is an unresolved tie", () => {
    const p = predictWinner("freebsd", [
      { id: "skunk2", advbase: 1, advskew: 20 },
      { id: "skunk1", advbase: 1, advskew: 10 },
    ]);
    expect(p.winner).toBe("skunk1");
    expect(p.ranking).toEqual(["skunk1", "skunk2"]);
    expect(p.explanation).toBe("skunk1 (advbase 1 advskew 10): more frequent advertisements than skunk2 (advbase 1 advskew 20)");
    const t = predictWinner("freebsd", [
      { id: "a", advbase: 1, advskew: 0 },
      { id: "b", advbase: 1, advskew: 0 },
    ]);
    expect(t.winner).toBeNull();
    expect(t.tied).toEqual(["a", "b"]);
    expect(t.explanation).toMatch(/first master-down timer wins/);
  });

  it("openbsd: demote first", () => {
    const p = predictWinner("openbsd", [
      { id: "a", advbase: 1, advskew: 0, demote: 1 },
      { id: "b", advbase: 1, advskew: 100, demote: 0 },
    ]);
    expect(p.winner).toBe("b");
    expect(p.explanation).toMatch(/lower demote count than a/);
  });

  it("ucarp: equal timing resolved by the byte-reversed source address", () => {
    const c = [
      { id: "x", address: "198.51.100.1", advbase: 1, advskew: 0 },
      { id: "y", address: "203.0.113.0", advbase: 1, advskew: 0 },
    ];
    expect(predictWinner("ucarp", c).winner).toBe("y");
    expect(predictWinner("ucarp", c, "big").winner).toBe("x");
    expect(predictWinner("ucarp", c).explanation).toMatch(/tie-break/);
    expect(predictWinner("ucarp", []).winner).toBeNull();
  });
});
