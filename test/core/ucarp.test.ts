// §4.2/§4.3/§7 ucarp rules: byte-reversed IP tie-break, extra advert, reassert, deadratio, --neutral.
import { describe, expect, it } from "vitest";
import { ipTieKey } from "../../src/core/election.js";
import { advert, announces, backup, cmd, kinds, master, mk, run, sends, start, transitions } from "./helpers.js";

const uc = (srcip: string, extra: object = {}) => ({ semantics: "ucarp" as const, ownAddresses: [srcip], ...extra });

describe("ucarp tie-break", () => {
  it("keys: raw network-order u32 read little-endian (last octet first), or big-endian on request", () => {
    expect(ipTieKey("198.51.100.1")).toBe(0x016433c6);
    expect(ipTieKey("203.0.113.0")).toBe(0x007100cb);
    expect(ipTieKey("198.51.100.1", "big")).toBe(0xc6336401);
    expect(ipTieKey("2001:db8::1")).toBeNull();
  });

  it("equal advert from a peer that compares LOWER: one more advert, then BACKUP", () => {
    // 203.0.113.0 -> 0x007100cb < 198.51.100.1 -> 0x016433c6 on x86, although it is higher as a dotted quad
    const { s } = master(uc("198.51.100.1", { advskew: 10 }));
    const r = run(s, advert({ from: "203.0.113.0", advskew: 10 }), 5000);
    expect(kinds(r.actions)).toEqual(["send", "vips", "transition"]);
    expect(transitions(r.actions)[0].reason).toBe(
      "equal advertisement from 203.0.113.0 (advbase 1 advskew 10) wins the source-address tie-break",
    );
  });

  it("equal advert from a peer that compares HIGHER: stays MASTER and re-announces now and 2 adverts later", () => {
    let { s } = master(uc("198.51.100.1", { advskew: 10 }));
    const r = run(s, advert({ from: "198.51.100.2", advskew: 10 }), 5000);
    expect(r.state.state).toBe("MASTER");
    expect(announces(r.actions)).toEqual([{ kind: "announce", why: "reassert", families: [4] }]);
    expect(sends(r.actions)).toEqual([]);
    s = r.state;
    const whys: string[] = [];
    for (let i = 0; i < 3; i++) {
      const t = run(s, { kind: "timer", timer: "advertise" }, s.timers.advertise!);
      whys.push(announces(t.actions).map((a) => a.why).join() || "-");
      s = t.state;
    }
    expect(whys).toEqual(["-", "delayed", "-"]);
  });

  it("big-endian order flips the same decision", () => {
    const { s } = master(uc("198.51.100.1", { advskew: 10, tieBreakOrder: "big" }));
    expect(run(s, advert({ from: "203.0.113.0", advskew: 10 }), 5000).state.state).toBe("MASTER");
  });

  it("a slower master hears a faster one: extra advert, then BACKUP; a faster one re-announces", () => {
    const { s } = master(uc("198.51.100.1", { advskew: 20 }));
    const down = run(s, advert({ advskew: 10 }), 5000);
    expect(sends(down.actions)).toHaveLength(1);
    expect(down.state.reason).toMatch(/^more frequent advertisement received from 198\.51\.100\.2/);
    const stay = run(s, advert({ advskew: 30 }), 5000);
    expect(stay.state.state).toBe("MASTER");
    expect(announces(stay.actions)[0].why).toBe("reassert");
  });

  it("a MASTER hearing a bow-out keeps the role and re-announces", () => {
    const { s } = master(uc("198.51.100.1"));
    const r = run(s, advert({ advbase: 255, advskew: 255 }), 5000);
    expect(r.state.state).toBe("MASTER");
    expect(announces(r.actions).map((a) => a.why)).toEqual(["reassert"]);
  });
});

describe("ucarp timers and order", () => {
  it("takeover in the kernels' order: the first advert, then the VIPs, then GARP", () => {
    const s = start(mk(uc("198.51.100.1")), 0).state;
    const r = run(s, { kind: "timer", timer: "masterDown4" }, 3000);
    expect(kinds(r.actions)).toEqual(["transition", "send", "vips", "announce"]);
  });

  it("deadratio drives both the master-down timer and the will-time-out rule", () => {
    const s = backup(uc("198.51.100.1", { deadratio: 5, advskew: 0 }));
    expect(s.timers.masterDown4).toBe(5000);
    expect(run(s, advert({ advbase: 5, advskew: 0 }), 1).state.state).toBe("BACKUP");
    expect(run(s, advert({ advbase: 5, advskew: 1 }), 1).state.reason).toBe(
      "master will time out: 198.51.100.2 (advbase 5 advskew 1)",
    );
  });

  it("send errors suppress preemption: advskew raised to 240 in adverts and comparisons", () => {
    let { s } = master(uc("198.51.100.1", { advskew: 10 }));
    for (let i = 0; i < 3; i++) s = run(s, { kind: "sendResult", ok: false }, 4000 + i).state;
    s = run(s, { kind: "globalDemotion", value: 240 }, 4100).state; // what a container feeds back
    const r = run(s, { kind: "timer", timer: "advertise" }, s.timers.advertise!);
    expect(sends(r.actions)[0].advert.advskew).toBe(240);
    expect(run(s, advert({ advskew: 200 }), 4200).state.state).toBe("BACKUP");
  });
});

describe("ucarp --neutral", () => {
  it("flags only the first INIT -> BACKUP transition as neutral (no downscript)", () => {
    const s = mk(uc("198.51.100.1", { neutral: true }));
    const r = start(s, 0);
    expect(transitions(r.actions)[0]).toMatchObject({ from: "INIT", to: "BACKUP", neutral: true });
    let st = run(r.state, { kind: "timer", timer: "masterDown4" }, 3000).state;
    const down = run(st, advert({ advskew: 0, from: "198.51.100.0" }), 3500);
    // equal (0/0), 198.51.100.0 -> key 0x006433c6 < ours: steps down, not neutral
    expect(transitions(down.actions)[0]).toMatchObject({ to: "BACKUP", neutral: false });
    st = run(down.state, cmd({ op: "stop" }), 4000).state;
    expect(transitions(start(st, 5000).actions)[0]).toMatchObject({ from: "INIT", to: "BACKUP", neutral: false });
  });

  it("without --neutral the initial transition is not neutral", () => {
    expect(transitions(start(mk(uc("198.51.100.1")), 0).actions)[0].neutral).toBe(false);
  });
});
