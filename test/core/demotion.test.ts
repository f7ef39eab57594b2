// §4.4 demotion: global + per vhid, FreeBSD clamp (PR 259528), ifdown and senderr fault demotion.
import { describe, expect, it } from "vitest";
import { effectiveAdvskew } from "../../src/core/vhid.js";
import { advert, backup, cmd, demotes, master, mk, run, sends, transitions } from "./helpers.js";

describe("effective advskew (FreeBSD DEMOTE_ADVSKEW)", () => {
  const eff = (advskew: number, global: number, demote = 0) => effectiveAdvskew(mk({ advskew, demote }, { globalDemotion: global }));
  it("adds global and per-vhid demotion and clamps to 0..240", () => {
    expect(eff(10, 0)).toBe(10);
    expect(eff(10, 20, 5)).toBe(35);
    expect(eff(100, 200)).toBe(240);
    expect(eff(250, 0)).toBe(240); // FreeBSD advertises at most CARP_MAXSKEW
    expect(eff(0, -1)).toBe(0); // PR 259528: never wraps to 255
    expect(eff(100, -150)).toBe(0);
    expect(eff(100, -30, -20)).toBe(50);
  });

  it("a negative demotion never puts a wrapped byte on the wire", () => {
    const { s } = master({ advskew: 0 }, { globalDemotion: -1 });
    const r = run(s, { kind: "timer", timer: "advertise" }, s.timers.advertise!);
    expect(sends(r.actions)[0].advert.advskew).toBe(0);
  });
});

describe("changing the demotion", () => {
  it("a MASTER advertises at once with the new skew and re-arms with the demoted interval", () => {
    const { s } = master({ advskew: 10 });
    const r = run(s, { kind: "globalDemotion", value: 240 }, 3500);
    expect(sends(r.actions).map((a) => a.advert.advskew)).toEqual([240]);
    expect(r.state.timers.advertise).toBe(3500 + 1937.5);
    expect(r.state.globalDemotion).toBe(240);
  });

  it("a BACKUP only remembers it; the same value again does nothing", () => {
    const s = backup({ advskew: 10 });
    const r = run(s, { kind: "globalDemotion", value: 5 }, 10);
    expect(r.actions).toEqual([]);
    expect(effectiveAdvskew(r.state)).toBe(15);
    const { s: m } = master();
    expect(run(m, { kind: "globalDemotion", value: 0 }, 10).actions).toEqual([]);
  });

  it("per-vhid demote ±N and setDemote", () => {
    let { s } = master({ advskew: 10 });
    let r = run(s, cmd({ op: "demote", delta: 30 }), 3100);
    expect(sends(r.actions)[0].advert.advskew).toBe(40);
    s = r.state;
    r = run(s, cmd({ op: "demote", delta: -50 }), 3200);
    expect(sends(r.actions)[0].advert.advskew).toBe(0);
    r = run(r.state, cmd({ op: "setDemote", value: 5 }), 3300);
    expect(r.state.params.demote).toBe(5);
    expect(sends(r.actions)[0].advert.advskew).toBe(15);
  });
});

describe("ifdown demotion and link state (§4.7)", () => {
  it("link down: INIT 'hardware interface down', VIPs removed, +240 once; up: -240, BACKUP 'hardware interface up'", () => {
    const { s } = master({ vips: { v4: 1, v6: 1 } });
    const d = run(s, { kind: "link", up: false }, 5000);
    expect(transitions(d.actions)[0]).toMatchObject({ from: "MASTER", to: "INIT", reason: "hardware interface down" });
    expect(d.actions.filter((a) => a.kind === "vips")).toEqual([{ kind: "vips", op: "remove" }]);
    expect(demotes(d.actions)).toEqual([
      { kind: "demote", source: "ifdown", delta: 240, reason: "vhid 1: hardware interface down" },
    ]);
    expect(d.state.timers).toEqual({});
    expect(run(d.state, { kind: "link", up: false }, 5100).actions).toEqual([]); // once
    const u = run(d.state, { kind: "link", up: true }, 6000);
    expect(demotes(u.actions)[0].delta).toBe(-240);
    expect(transitions(u.actions)[0]).toMatchObject({ from: "INIT", to: "BACKUP", reason: "hardware interface up" });
    expect(u.state.timers).toEqual({ masterDown4: 9000, masterDown6: 9000 });
  });

  it("adverts received while down are ignored", () => {
    const d = run(backup({ preempt: true }), { kind: "link", up: false }, 10).state;
    expect(run(d, advert({ advskew: 200 }), 20).state.state).toBe("INIT");
  });

  it("openbsd semantics demotes by 1 (its demote byte)", () => {
    const d = run(backup({ semantics: "openbsd" }), { kind: "link", up: false }, 10);
    expect(demotes(d.actions)[0].delta).toBe(1);
  });

  it("ignoreIfState: link events change nothing", () => {
    const { s } = master({ ignoreIfState: true });
    const r = run(s, { kind: "link", up: false }, 5000);
    expect(r.state.state).toBe("MASTER");
    expect(r.actions.map((a) => a.kind)).toEqual(["log"]);
  });

  it("starting while the link is down waits in INIT, and the link coming up starts it", () => {
    const s = mk({}, { linkUp: false });
    const r = run(s, cmd({ op: "start" }), 0);
    expect(r.state.state).toBe("INIT");
    expect(transitions(run(r.state, { kind: "link", up: true }, 50).actions)[0].reason).toBe("hardware interface up");
  });
});

describe("senderr demotion (FreeBSD carp_send_ad_error)", () => {
  const fail = { kind: "sendResult", ok: false } as const;
  const ok = { kind: "sendResult", ok: true } as const;
  it("3 consecutive errors add 240 once; 3 consecutive successes remove it", () => {
    let { s } = master();
    const deltas: number[] = [];
    const seq = [fail, fail, ok, fail, fail, fail, fail, fail, ok, ok, fail, ok, ok, ok, ok, ok, ok];
    for (const [i, input] of seq.entries()) {
      const r = run(s, input, 4000 + i);
      deltas.push(...demotes(r.actions).map((a) => a.delta));
      s = r.state;
    }
    // errors reset by the first ok; +240 at the 3rd consecutive; a failure resets the success run
    expect(deltas).toEqual([240, -240]);
    expect(s.stats.sendErrors).toBe(8);
    expect(s.senderrDemoted).toBe(false);
  });

  it("stopping a vhid gives back the fault demotion it holds", () => {
    let s = run(backup(), { kind: "link", up: false }, 10).state;
    for (let i = 0; i < 3; i++) s = run(s, fail, 20 + i).state;
    const r = run(s, cmd({ op: "stop" }), 100);
    expect(demotes(r.actions).map((a) => [a.source, a.delta])).toEqual([
      ["ifdown", -240],
      ["senderr", -240],
    ]);
  });
});
