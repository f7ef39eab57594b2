// Demotion groups (OpenBSD carpdemote), preemptDelay and startBackup, in virtual time.
import { describe, expect, it } from "vitest";
import { Cluster } from "../../src/core/cluster.js";
import { effectiveAdvskew } from "../../src/core/vhid.js";
import { explain } from "../../src/core/explain.js";
import { status } from "../../src/core/vhid.js";
import { advert, backup, run } from "./helpers.js";

const params = (vhid: number, groups: string[] = []) => ({ vhid, vips: { v4: 1, v6: 0 }, advskew: 10, groups });

describe("demotion groups", () => {
  it("a group entry demotes only the vhids of that group; unscoped entries demote all", () => {
    const c = new Cluster();
    for (const [v, g] of [[1, ["web"]], [2, ["db"]], [3, ["web", "db"]]] as const) {
      expect(c.add("eth0", params(v, [...g]), { counter: 1n }).ok).toBe(true);
      c.command({ ifname: "eth0", vhid: v }, { op: "start" }, 0);
    }
    expect(c.handleInput({ kind: "demotion", source: "group:web", delta: 50, group: "web" }, 10)).toBeUndefined();
    const skew = (v: number) => effectiveAdvskew(c.get({ ifname: "eth0", vhid: v })!);
    expect([skew(1), skew(2), skew(3)]).toEqual([60, 10, 60]);
    expect(c.globalDemotion).toBe(0);
    c.handleInput({ kind: "demotion", source: "user", delta: 5 }, 20);
    expect([skew(1), skew(2), skew(3)]).toEqual([65, 15, 65]);
    c.handleInput({ kind: "demotion", source: "check:db", value: 100, group: "db", reason: "db down" }, 30);
    expect([skew(1), skew(2), skew(3)]).toEqual([65, 115, 165]);
    const view = c.demotionOf({ ifname: "eth0", vhid: 2 })!;
    expect(view.global).toBe(105);
    expect(view.entries.map((e) => e.source).sort()).toEqual(["check:db", "user"]);
    // Same value, new reason: the entry keeps its `since` and takes the reason.
    c.handleInput({ kind: "demotion", source: "check:db", value: 100, group: "db", reason: "db still down" }, 40);
    const e = c.status().ledger.find((x) => x.source === "check:db")!;
    expect([e.since, e.reason, e.group]).toEqual([30, "db still down", "db"]);
    // A source cannot change its scope while it holds a value.
    expect(c.handleInput({ kind: "demotion", source: "check:db", delta: 1 }, 50)).toMatch(/group db/);
    c.handleInput({ kind: "demotion", source: "group:web", delta: -50, group: "web" }, 60);
    expect([skew(1), skew(2), skew(3)]).toEqual([15, 115, 115]);
    expect(c.groupSize("db")).toBe(2);
    expect(c.groupSize("nope")).toBe(0);
  });
});

describe("preemptDelay", () => {
  it("after start, a preempting BACKUP waits preemptDelay before taking over from a slower master", () => {
    let s = backup({ advskew: 0, preempt: true, preemptDelayMs: 5000 });
    let r = run(s, advert({ advskew: 100 }), 1000);
    expect(r.state.state).toBe("BACKUP");
    expect(explain(status(r.state), 1000)).toMatch(/preemptDelay: no preemption for 4\.0 s more/);
    s = r.state;
    r = run(s, advert({ advskew: 100 }), 4999);
    expect(r.state.state).toBe("BACKUP");
    r = run(r.state, advert({ advskew: 100 }), 5000);
    expect(r.state.state).toBe("MASTER");
  });

  it("a demotion that drops (a check recovered) holds preemption again from that moment", () => {
    let s = backup({ advskew: 0, preempt: true, preemptDelayMs: 2000 }, { globalDemotion: 240 });
    s = run(s, advert({ advskew: 100 }), 3000).state; // demoted: 240 > 100, no preempt anyway
    expect(s.state).toBe("BACKUP");
    s = run(s, { kind: "globalDemotion", value: 0 }, 10_000).state;
    expect(run(s, advert({ advskew: 100 }), 11_000).state.state).toBe("BACKUP");
    expect(run(s, advert({ advskew: 100 }), 12_000).state.state).toBe("MASTER");
  });

  it("never delays a takeover when the master goes away (timeout, bow-out)", () => {
    let s = backup({ advskew: 0, preempt: true, preemptDelayMs: 60_000 });
    const md = s.timers.masterDown4!;
    expect(run(s, { kind: "timer", timer: "masterDown4" }, md).state.state).toBe("MASTER");
    s = run(s, advert({ advskew: 100 }), 1000).state;
    expect(run(s, advert({ advbase: 255, advskew: 255 }), 1500).state.state).toBe("MASTER");
  });
});

describe("startBackup", () => {
  it("does not preempt a live master until it has been MASTER once, then preempts as configured", () => {
    let s = backup({ advskew: 0, preempt: true, startBackup: true });
    let r = run(s, advert({ advskew: 100 }), 100_000);
    expect(r.state.state).toBe("BACKUP");
    expect(explain(status(r.state))).toMatch(/startBackup/);
    // The master goes away: take over by timeout; afterwards preemption works.
    s = run(r.state, { kind: "timer", timer: "masterDown4" }, r.state.timers.masterDown4!).state;
    expect(s.state).toBe("MASTER");
    s = run(s, advert({ advskew: 0, from: "198.51.100.0" }), 200_000).state; // equal: FreeBSD steps down
    expect(s.state).toBe("BACKUP");
    expect(run(s, advert({ advskew: 100 }), 200_100).state.state).toBe("MASTER");
  });
});

describe("set groups/preemptDelayMs/startBackup (SIGHUP in place)", () => {
  it("new groups take the ledger's value for them at once; a bad list is refused", () => {
    const c = new Cluster();
    expect(c.add("eth0", params(1), { counter: 1n }).ok).toBe(true);
    c.command({ ifname: "eth0", vhid: 1 }, { op: "start" }, 0);
    c.handleInput({ kind: "demotion", source: "group:web", delta: 50, group: "web" }, 10);
    const skew = () => effectiveAdvskew(c.get({ ifname: "eth0", vhid: 1 })!);
    expect(skew()).toBe(10);
    expect(c.command({ ifname: "eth0", vhid: 1 }, { op: "set", groups: ["web"] }, 20)).toBeUndefined();
    expect(skew()).toBe(60);
    expect(c.command({ ifname: "eth0", vhid: 1 }, { op: "set", groups: [""] }, 30)).toMatch(/groups/);
    expect(c.command({ ifname: "eth0", vhid: 1 }, { op: "set", groups: [] }, 40)).toBeUndefined();
    expect(skew()).toBe(10);
  });

  it("startBackup false lifts a pending boot hold; preemptDelay 0 lifts a running hold", () => {
    const c = new Cluster();
    c.add("eth0", { ...params(1), advskew: 0, preempt: true, startBackup: true, preemptDelayMs: 60_000 }, { counter: 1n });
    const ref = { ifname: "eth0", vhid: 1 };
    c.command(ref, { op: "start" }, 0);
    const st = () => c.get(ref)!;
    expect([st().bootHold, st().preemptHoldUntil]).toEqual([true, 60_000]);
    c.command(ref, { op: "set", startBackup: false }, 10);
    expect(st().bootHold).toBe(false);
    expect(st().preemptHoldUntil).toBe(60_000);
    c.command(ref, { op: "set", preemptDelayMs: 0 }, 20);
    expect(st().preemptHoldUntil).toBeNull();
    expect([st().params.startBackup, st().params.preemptDelayMs]).toEqual([false, 0]);
    expect(c.command(ref, { op: "set", preemptDelayMs: -1 }, 30)).toMatch(/preemptDelay/);
  });
});
