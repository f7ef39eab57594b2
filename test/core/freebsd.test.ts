// §4.2 transitions and receipt rules with FreeBSD 14 semantics (the default).
import { describe, expect, it } from "vitest";
import {
  PEER,
  PEER6,
  advert,
  announces,
  armOf,
  backup,
  kinds,
  master,
  mk,
  run,
  sends,
  start,
  transitions,
} from "./helpers.js";

describe("INIT -> BACKUP -> MASTER", () => {
  it("start: INIT -> BACKUP 'initialization complete', master-down armed for each family with VIPs", () => {
    const r = start(mk({ vips: { v4: 2, v6: 1 }, advskew: 10 }), 100);
    expect(transitions(r.actions)).toEqual([
      { kind: "transition", from: "INIT", to: "BACKUP", reason: "initialization complete", neutral: false },
    ]);
    expect(armOf(r, "masterDown4")).toBe(100 + 3039.062);
    expect(armOf(r, "masterDown6")).toBe(100 + 3039.062);
    expect(armOf(r, "advertise")).toBeUndefined();
    expect(r.state.state).toBe("BACKUP");
    expect(r.state.since).toBe(100);
  });

  it("master-down timeout: MASTER 'master timed out'; transition, one advert per family, VIPs, announce, advertise timer", () => {
    let s = start(mk({ vips: { v4: 1, v6: 1 } }), 0).state;
    const r = run(s, { kind: "timer", timer: "masterDown4" }, 3000);
    // the kernels' order: the advert first, then the address, then GARP/NA; masterDown6 is gone too
    expect(kinds(r.actions)).toEqual(["transition", "send", "send", "vips", "announce"]);
    expect(r.state.timers.masterDown6).toBeUndefined();
    expect(transitions(r.actions)[0]).toMatchObject({ from: "BACKUP", to: "MASTER", reason: "master timed out" });
    expect(sends(r.actions).map((a) => a.family)).toEqual([4, 6]);
    expect(announces(r.actions)).toEqual([{ kind: "announce", why: "takeover", families: [4, 6] }]);
    expect(armOf(r, "advertise")).toBe(4000);
    s = r.state;
    expect(s.timers).toEqual({ advertise: 4000 });
    expect(s.stats.preempt).toBe(1);
    expect(s.stats.transitions).toBe(2);
  });

  it("INIT ignores adverts and its stale timers", () => {
    const s = mk();
    const r = run(s, advert({ advskew: 200 }), 10);
    expect(transitions(r.actions)).toEqual([]);
    expect(r.state.state).toBe("INIT");
    expect(run(s, { kind: "timer", timer: "masterDown4" }, 10).actions.map((a) => a.kind)).toEqual(["log"]);
  });

  it("MASTER: advertise timer sends and re-arms; BACKUP ignores a stale advertise timer", () => {
    const { s } = master({ advskew: 20 });
    const r = run(s, { kind: "timer", timer: "advertise" }, s.timers.advertise!);
    expect(sends(r.actions)).toHaveLength(1);
    expect(armOf(r, "advertise")).toBe(s.timers.advertise! + 1078.125);
    const b = backup();
    expect(sends(run(b, { kind: "timer", timer: "advertise" }, 5).actions)).toEqual([]);
  });

  it("sends adverts only for families that have VIPs", () => {
    const r = start(mk({ vips: { v4: 0, v6: 2 } }), 0);
    expect(armOf(r, "masterDown4")).toBeUndefined();
    expect(armOf(r, "masterDown6")).toBe(3000);
    const m = run(r.state, { kind: "timer", timer: "masterDown6" }, 3000);
    expect(sends(m.actions).map((a) => a.family)).toEqual([6]);
    expect(announces(m.actions)[0].families).toEqual([6]);
    expect(m.state.stats.opackets6).toBe(1);
    expect(m.state.stats.opackets).toBe(0);
  });

  it("the second announce goes out two adverts after the takeover advert, once", () => {
    let { s } = master();
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = run(s, { kind: "timer", timer: "advertise" }, s.timers.advertise!);
      got.push(announces(r.actions).map((a) => a.why).join(",") || "-");
      s = r.state;
    }
    expect(got).toEqual(["-", "delayed", "-", "-"]);
  });

  it("secondAnnounce: false sends only the takeover announce", () => {
    let { s } = master({ secondAnnounce: false });
    for (let i = 0; i < 3; i++) {
      const r = run(s, { kind: "timer", timer: "advertise" }, s.timers.advertise!);
      expect(announces(r.actions)).toEqual([]);
      s = r.state;
    }
  });
});

describe("MASTER receiving an advert (S = ours, H = theirs)", () => {
  it("S > H: steps down, 'more frequent advertisement received from …'", () => {
    const { s } = master({ advskew: 20 });
    const r = run(s, advert({ advskew: 10 }), 5000);
    expect(transitions(r.actions)[0]).toMatchObject({
      from: "MASTER",
      to: "BACKUP",
      reason: "more frequent advertisement received from 198.51.100.2 (advbase 1 advskew 10)",
    });
    expect(kinds(r.actions)).toEqual(["vips", "transition"]);
    expect(r.state.timers).toEqual({ masterDown4: 5000 + 3078.125 });
  });

  it("S == H: steps down too (no tie-break on FreeBSD)", () => {
    const { s } = master({ advskew: 10 });
    const r = run(s, advert({ advskew: 10 }), 5000);
    expect(r.state.state).toBe("BACKUP");
    expect(r.state.reason).toBe("equal advertisement received from 198.51.100.2 (advbase 1 advskew 10)");
  });

  it("S < H: stays MASTER without re-announcing", () => {
    const { s } = master({ advskew: 10 });
    const r = run(s, advert({ advskew: 11 }), 5000);
    expect(r.state.state).toBe("MASTER");
    expect(r.actions).toEqual([]);
  });

  it("advbase dominates advskew in the comparison", () => {
    const { s } = master({ advbase: 2, advskew: 0 });
    expect(run(s, advert({ advbase: 1, advskew: 254 }), 5000).state.state).toBe("BACKUP");
  });

  it("compares with the demoted advskew and ignores an OpenBSD demote byte", () => {
    const { s } = master({ advskew: 0 }, { globalDemotion: 50 });
    const down = run(s, advert({ advskew: 40 }), 5000).state; // 50 > 40
    expect(down.state).toBe("BACKUP");
    expect(down.reason).toBe("more frequent advertisement received from 198.51.100.2 (advbase 1 advskew 40) (we are demoted by 50)");
    const { s: s2 } = master({ advskew: 10 });
    expect(run(s2, advert({ advskew: 20, demote: 0 }), 5000).state.state).toBe("MASTER");
    expect(run(s2, advert({ advskew: 20, demote: 0 }), 5000).state.state).toBe("MASTER");
    const { s: s3 } = master({ advskew: 10 }, { globalDemotion: 0 });
    expect(run(s3, advert({ advskew: 20, demote: 7 }), 5000).state.state).toBe("MASTER");
  });
});

describe("BACKUP receiving an advert", () => {
  it("preempt on and S < H: 'preempting a slower master'", () => {
    const s = backup({ advskew: 10, preempt: true });
    const r = run(s, advert({ advskew: 20 }), 1000);
    expect(r.state.state).toBe("MASTER");
    expect(r.state.reason).toBe("preempting a slower master 198.51.100.2 (advbase 1 advskew 20)");
    expect(sends(r.actions)).toHaveLength(1);
  });

  it("preempt off and S < H: stays BACKUP, restarts this family's timer", () => {
    const s = backup({ advskew: 10 });
    const r = run(s, advert({ advskew: 20 }), 1000);
    expect(r.state.state).toBe("BACKUP");
    expect(r.actions).toEqual([]);
    expect(r.state.timers).toEqual({ masterDown4: 1000 + 3039.062 });
  });

  it("preempt on and S == H: no preemption", () => {
    const s = backup({ advskew: 10, preempt: true });
    expect(run(s, advert({ advskew: 10 }), 1000).state.state).toBe("BACKUP");
  });

  it("'master will time out': 3*advbase + own skew/256 < H takes over even without preempt", () => {
    const s = backup({ advbase: 1, advskew: 0 });
    expect(run(s, advert({ advbase: 3, advskew: 0 }), 1000).state.state).toBe("BACKUP"); // 3.0 !< 3.0
    const r = run(s, advert({ advbase: 3, advskew: 1 }), 1000);
    expect(r.state.state).toBe("MASTER");
    expect(r.state.reason).toBe("master will time out: 198.51.100.2 (advbase 3 advskew 1)");
  });

  it("'master will time out' triples only the seconds and uses the demoted skew", () => {
    // own 1/200: threshold 3 s + 781250 µs. Peer 3/201 = 3 s + 785156 µs > threshold.
    expect(run(backup({ advskew: 200 }), advert({ advbase: 3, advskew: 201 }), 1).state.state).toBe("MASTER");
    expect(run(backup({ advskew: 200 }), advert({ advbase: 3, advskew: 200 }), 1).state.state).toBe("BACKUP");
    // demotion 40 raises our skew to 240: 3 s + 937500 µs; peer 3/201 no longer beats it
    expect(run(backup({ advskew: 200 }, { globalDemotion: 40 }), advert({ advbase: 3, advskew: 201 }), 1).state.state).toBe(
      "BACKUP",
    );
  });

  it("restarts only the timer of the advert's family (dual stack)", () => {
    const s = backup({ vips: { v4: 1, v6: 1 } });
    const r = run(s, advert({ from: PEER6, family: 6, advskew: 50 }), 2000);
    expect(r.actions).toEqual([]);
    expect(r.state.timers).toEqual({ masterDown4: 3000, masterDown6: 5000 });
    expect(r.state.stats.ipackets6).toBe(1);
    // the v4 timer still fires on its own and makes the whole vhid MASTER
    const m = run(r.state, { kind: "timer", timer: "masterDown4" }, 3000);
    expect(m.state.state).toBe("MASTER");
    expect(m.state.timers).toEqual({ advertise: 4000 });
  });

  it("records the last master seen", () => {
    const r = run(backup(), advert({ advbase: 2, advskew: 7, demote: 3 }), 1234);
    expect(r.state.lastMaster).toEqual({
      address: PEER,
      family: 4,
      at: 1234,
      advbase: 2,
      advskew: 7,
      demote: 3,
      bowOut: false,
    });
  });
});
