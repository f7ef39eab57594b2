// Forced states (FreeBSD "switch" test), stop / graceful bow-out (§4.6), and machine invariants under
// random input sequences (fast-check).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { step } from "../../src/core/vhid.js";
import type { Action, CarpState, Input, TimerName, VhidState } from "../../src/core/types.js";
import { PEER6, advert, backup, cmd, kinds, master, mk, run, sends, start, transitions } from "./helpers.js";

describe("forced states (switch)", () => {
  it("advskew 100: backup, master, backup, master — each 'user requested'", () => {
    let s = start(mk({ advskew: 100 }), 0).state;
    const seen: string[] = [];
    for (const [i, st] of (["BACKUP", "MASTER", "BACKUP", "MASTER", "MASTER"] as const).entries()) {
      const r = run(s, cmd({ op: "force", state: st }), 100 * (i + 1));
      seen.push(...transitions(r.actions).map((t) => `${t.from}->${t.to}:${t.reason}`));
      s = r.state;
      expect(s.state).toBe(st);
    }
    expect(seen).toEqual(["BACKUP->MASTER:user requested", "MASTER->BACKUP:user requested", "BACKUP->MASTER:user requested"]);
  });

  it("force from INIT (never started) works in both directions", () => {
    const m = run(mk(), cmd({ op: "force", state: "MASTER" }), 5);
    expect(m.state.state).toBe("MASTER");
    expect(sends(m.actions)).toHaveLength(1);
    const b = run(mk(), cmd({ op: "force", state: "BACKUP" }), 5);
    expect(b.state.state).toBe("BACKUP");
    expect(b.state.timers).toEqual({ masterDown4: 3005 });
  });

  it("a forced BACKUP with no other master takes over again after master-down", () => {
    const { s } = master();
    const b = run(s, cmd({ op: "force", state: "BACKUP" }), 4000).state;
    const r = run(b, { kind: "timer", timer: "masterDown4" }, b.timers.masterDown4!);
    expect(r.state.reason).toBe("master timed out");
  });

  it("forcing while the interface is down is an error value", () => {
    const d = run(backup(), { kind: "link", up: false }, 1).state;
    const r = step(d, cmd({ op: "force", state: "MASTER" }), 2);
    expect(r.error).toBe("vhid 1: cannot force MASTER: interface is down");
    expect(r.state).toBe(d);
  });
});

describe("stop and bow-out", () => {
  it("graceful stop from MASTER: a 255/255 advert per family, then VIPs removed, then INIT", () => {
    const { s } = master({ vips: { v4: 1, v6: 1 } });
    const r = run(s, cmd({ op: "stop", graceful: true }), 4200);
    expect(kinds(r.actions)).toEqual(["send", "send", "vips", "transition"]);
    expect(sends(r.actions).map((a) => [a.family, a.advert.advbase, a.advert.advskew, a.bowOut])).toEqual([
      [4, 255, 255, true],
      [6, 255, 255, true],
    ]);
    expect(r.state).toMatchObject({ state: "INIT", running: false, timers: {} });
    expect(r.state.reason).toBe("user requested stop (bow-out sent)");
  });

  it("graceful stop from BACKUP or a plain stop sends nothing", () => {
    expect(sends(run(backup(), cmd({ op: "stop", graceful: true }), 1).actions)).toEqual([]);
    const r = run(master().s, cmd({ op: "stop" }), 4000);
    expect(sends(r.actions)).toEqual([]);
    expect(r.state.reason).toBe("user requested stop");
  });

  it("a BACKUP with advbase <= 85 takes over at once on a bow-out: 'bow-out received from X'", () => {
    const s = backup({ advbase: 85, advskew: 254 });
    const r = run(s, advert({ advbase: 255, advskew: 255 }), 900);
    expect(r.state.state).toBe("MASTER");
    expect(r.state.reason).toBe("bow-out received from 198.51.100.2");
    expect(r.state.stats.bowOutsReceived).toBe(1);
    // also through the preempt rule, and for IPv6
    const p = run(backup({ preempt: true, vips: { v4: 0, v6: 1 } }), advert({ from: PEER6, family: 6, advbase: 255, advskew: 255 }), 9);
    expect(p.state.reason).toBe(`bow-out received from ${PEER6}`);
  });

  it("advbase 86 waits for master-down and says it was after a bow-out", () => {
    const s = backup({ advbase: 86 });
    const r = run(s, advert({ advbase: 255, advskew: 255 }), 900);
    expect(r.state.state).toBe("BACKUP");
    const t = run(r.state, { kind: "timer", timer: "masterDown4" }, r.state.timers.masterDown4!);
    expect(t.state.reason).toBe("master timed out after bow-out from 198.51.100.2");
  });

  it("a MASTER keeps the role on a bow-out (FreeBSD: no re-announce)", () => {
    const r = run(master().s, advert({ advbase: 255, advskew: 255 }), 5000);
    expect(r.state.state).toBe("MASTER");
    expect(r.actions).toEqual([]);
  });

  it("restart after stop goes through 'initialization complete' again", () => {
    const st = run(master().s, cmd({ op: "stop" }), 4000).state;
    expect(start(st, 5000).state.reason).toBe("initialization complete");
  });
});

// ---- invariants under arbitrary input sequences -------------------------------------------

type Op =
  | { t: "fire"; which: number }
  | { t: "advert"; fam: 4 | 6; advbase: number; advskew: number; demote: number; dt: number }
  | { t: "link"; up: boolean; dt: number }
  | { t: "force"; state: "MASTER" | "BACKUP"; dt: number }
  | { t: "stop"; graceful: boolean; dt: number }
  | { t: "start"; dt: number }
  | { t: "send"; ok: boolean; dt: number }
  | { t: "global"; value: number; dt: number }
  | { t: "skew"; value: number; dt: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant("fire" as const), which: fc.nat(5) }),
  fc.record({
    t: fc.constant("advert" as const),
    fam: fc.constantFrom(4 as const, 6 as const),
    advbase: fc.integer({ min: 1, max: 255 }),
    advskew: fc.integer({ min: 0, max: 255 }),
    demote: fc.integer({ min: 0, max: 3 }),
    dt: fc.nat(5000),
  }),
  fc.record({ t: fc.constant("link" as const), up: fc.boolean(), dt: fc.nat(5000) }),
  fc.record({ t: fc.constant("force" as const), state: fc.constantFrom("MASTER" as const, "BACKUP" as const), dt: fc.nat(5000) }),
  fc.record({ t: fc.constant("stop" as const), graceful: fc.boolean(), dt: fc.nat(5000) }),
  fc.record({ t: fc.constant("start" as const), dt: fc.nat(5000) }),
  fc.record({ t: fc.constant("send" as const), ok: fc.boolean(), dt: fc.nat(100) }),
  fc.record({ t: fc.constant("global" as const), value: fc.integer({ min: -300, max: 300 }), dt: fc.nat(100) }),
  fc.record({ t: fc.constant("skew" as const), value: fc.integer({ min: 0, max: 254 }), dt: fc.nat(100) }),
);

function toInput(op: Op, s: VhidState, now: number): { input: Input; now: number } | null {
  switch (op.t) {
    case "fire": {
      const armed = Object.entries(s.timers) as [TimerName, number][];
      if (!armed.length) return null;
      const [timer, at] = armed[op.which % armed.length];
      return { input: { kind: "timer", timer }, now: Math.max(now, at) };
    }
    case "advert":
      return {
        input: advert({ from: op.fam === 4 ? "198.51.100.2" : PEER6, family: op.fam, advbase: op.advbase, advskew: op.advskew, demote: op.demote }),
        now: now + op.dt,
      };
    case "link":
      return { input: { kind: "link", up: op.up }, now: now + op.dt };
    case "force":
      return { input: cmd({ op: "force", state: op.state }), now: now + op.dt };
    case "stop":
      return { input: cmd({ op: "stop", graceful: op.graceful }), now: now + op.dt };
    case "start":
      return { input: cmd({ op: "start" }), now: now + op.dt };
    case "send":
      return { input: { kind: "sendResult", ok: op.ok }, now: now + op.dt };
    case "global":
      return { input: { kind: "globalDemotion", value: op.value }, now: now + op.dt };
    case "skew":
      return { input: cmd({ op: "setAdvskew", value: op.value }), now: now + op.dt };
  }
}

function checkStep(prev: VhidState, input: Input, actions: Action[], next: VhidState, now: number, vipsHeld: { v: boolean }) {
  // Timers are deadlines in the state: a fired one is gone or re-armed, and nothing is armed in the past.
  if (input.kind === "timer") expect(next.timers[input.timer] === undefined || next.timers[input.timer]! > now).toBe(true);
  for (const [k, at] of Object.entries(next.timers) as [TimerName, number][]) if (prev.timers[k] !== at) expect(at).toBeGreaterThanOrEqual(now);
  let st: CarpState = prev.state;
  for (const a of actions) {
    if (a.kind === "vips") {
      expect(vipsHeld.v).toBe(a.op === "remove"); // strictly alternating add/remove
      vipsHeld.v = a.op === "add";
    }
    if (a.kind === "transition") {
      expect(a.from).toBe(st);
      expect(a.to).not.toBe(a.from);
      expect(a.reason.length).toBeGreaterThan(0);
      st = a.to;
    }
    if (a.kind === "send") {
      const max = a.bowOut ? 255 : prev.params.semantics === "freebsd" ? 240 : 254;
      expect(a.advert.advskew).toBeLessThanOrEqual(max);
      expect(a.advert.advskew).toBeGreaterThanOrEqual(0);
      expect(st === "MASTER" || prev.state === "MASTER").toBe(true);
    }
  }
  expect(st).toBe(next.state);
  expect(vipsHeld.v).toBe(next.state === "MASTER");
  const t = next.timers;
  if (next.state === "INIT") expect(t).toEqual({});
  if (next.state === "MASTER") expect(Object.keys(t)).toEqual(["advertise"]);
  if (next.state === "BACKUP") expect(Object.keys(t).sort()).toEqual(["masterDown4", "masterDown6"]);
}

describe("invariants under random input sequences", () => {
  for (const semantics of ["freebsd", "openbsd", "ucarp"] as const) {
    it(`${semantics}: timers, VIPs and transitions stay consistent`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), fc.boolean(), (ops, preempt) => {
          let s = mk({ semantics, preempt, vips: { v4: 1, v6: 1 }, ownAddresses: ["198.51.100.1"] });
          let now = 0;
          const vips = { v: false };
          for (const op of ops) {
            const x = toInput(op, s, now);
            if (!x) continue;
            now = x.now;
            const r = step(s, x.input, now);
            if (r.error) {
              expect(r.state).toBe(s);
              continue;
            }
            checkStep(s, x.input, r.actions, r.state, now, vips);
            s = r.state;
          }
        }),
        { numRuns: 300, seed: 20261125 },
      );
    });
  }
});
