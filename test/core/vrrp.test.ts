// VRRPv3 rules in the core (RFC 5798 / RFC 9568 §6), driven with virtual time: master-down from the
// learned interval and the priority skew, priority-0 bow-out, preempt, equal priority -> higher address,
// demotion lowering the priority, the address owner, and two vhids electing each other in the Cluster.
import { describe, expect, it } from "vitest";
import { Cluster } from "../../src/core/cluster.js";
import type { Input, Transmit, VhidParams } from "../../src/core/types.js";
import { compareAddress, vrrpEffectivePriority, vrrpMasterDownUs, vrrpSkewUs } from "../../src/core/vrrp.js";
import { status } from "../../src/core/vhid.js";
import { explain, whyLine } from "../../src/core/explain.js";
import { cmd, mk, PEER, run, sends, start, transitions } from "./helpers.js";

const v3 = (priority: number, intervalCs = 100, extra: Partial<VhidParams> = {}) => ({ vrrp: { priority, intervalCs }, ...extra });
const ad = (priority: number, intervalCs = 100, from = PEER, family: 4 | 6 = 4): Input => ({
  kind: "advert",
  from,
  family,
  header: { version: 3, type: 1, vhid: 1, advskew: 0, authlen: 0, demote: 0, advbase: 0, checksum: 0, counter: 0n, hmac: Buffer.alloc(0) },
  vrrp: { priority, intervalCs },
});

describe("VRRPv3 timing", () => {
  it("skew and master-down follow RFC 9568 (centiseconds -> µs)", () => {
    expect(vrrpSkewUs(100, 100)).toBe(609_375); // (256-100)*1 s/256
    expect(vrrpMasterDownUs(100, 100)).toBe(3_609_375);
    expect(vrrpMasterDownUs(254, 1)).toBe(30_078); // 10 ms interval: 30 ms + 78 µs
    expect(vrrpEffectivePriority(100, 240)).toBe(1);
    expect(vrrpEffectivePriority(100, -200)).toBe(254);
    expect(vrrpEffectivePriority(255, 0)).toBe(255);
    expect(vrrpEffectivePriority(255, 10)).toBe(245);
    expect(compareAddress("198.51.100.10", "198.51.100.9")).toBeGreaterThan(0);
    expect(compareAddress("fe80::2", "fe80::10")).toBeLessThan(0);
  });

  it("a BACKUP becomes MASTER after 3 x interval + skew and sends priority and interval", () => {
    const r = start(mk(v3(150, 10)), 0);
    expect(r.state.state).toBe("BACKUP");
    const md = r.state.timers.masterDown4!;
    expect(md).toBeCloseTo(300 + ((256 - 150) * 100) / 256, 3); // 10 cs = 100 ms: 3 x 100 + 106/256 x 100
    const m = run(r.state, { kind: "timer", timer: "masterDown4" }, md);
    expect(m.state.state).toBe("MASTER");
    expect(sends(m.actions)[0].advert.vrrp).toEqual({ priority: 150, intervalCs: 10 });
    expect(m.state.timers.advertise).toBeCloseTo(md + 100, 6);
  });

  it("a BACKUP learns Master_Adver_Interval from the master's adverts", () => {
    let s = start(mk(v3(100, 100)), 0).state;
    s = run(s, ad(200, 5), 10).state;
    expect(s.timers.masterDown4).toBeCloseTo(10 + 150 + (156 * 50) / 256, 2); // 5 cs = 50 ms
    expect(status(s).vrrp).toMatchObject({ priority: 100, effectivePriority: 100, intervalCs: 100, masterIntervalCs: 5 });
  });

  it("priority 0 from the master: the BACKUP takes over after Skew_Time only", () => {
    let s = start(mk(v3(100, 100)), 0).state;
    s = run(s, ad(200, 100), 100).state;
    s = run(s, ad(0, 100), 200).state;
    expect(s.timers.masterDown4).toBeCloseTo(200 + (156 * 1000) / 256, 6);
    const m = run(s, { kind: "timer", timer: "masterDown4" }, s.timers.masterDown4!);
    expect(m.state.state).toBe("MASTER");
    expect(transitions(m.actions)[0].reason).toContain("bow-out");
  });

  it("a graceful stop of a MASTER sends priority 0", () => {
    const s = start(mk(v3(255, 100)), 0).state; // the owner is MASTER at once
    expect(s.state).toBe("MASTER");
    const r = run(s, cmd({ op: "stop", graceful: true }), 50);
    expect(sends(r.actions).map((x) => x.advert.vrrp)).toEqual([{ priority: 0, intervalCs: 100 }]);
    expect(r.state.state).toBe("INIT");
  });

  it("preempt: lower-priority adverts are discarded so the master-down timer runs out; without preempt they restart it", () => {
    let p = start(mk(v3(200, 100, { preempt: true })), 0).state;
    const first = p.timers.masterDown4!;
    p = run(p, ad(100), 1000).state;
    expect(p.timers.masterDown4).toBe(first);
    let n = start(mk(v3(200, 100, { preempt: false })), 0).state;
    n = run(n, ad(100), 1000).state;
    expect(n.timers.masterDown4).toBeGreaterThan(first);
  });

  it("a MASTER steps down for a higher priority, and for an equal one from a higher address only", () => {
    const m = start(mk(v3(255, 100)), 0).state;
    expect(run(m, ad(254), 10).state.state).toBe("MASTER"); // lower: stay
    const low = start(mk(v3(100, 100)), 0).state;
    const mm = run(low, { kind: "timer", timer: "masterDown4" }, low.timers.masterDown4!).state;
    const down = run(mm, ad(101, 7), 4000);
    expect(down.state.state).toBe("BACKUP");
    expect(status(down.state).vrrp!.masterIntervalCs).toBe(7);
    expect(run(mm, ad(100, 100, "198.51.100.2"), 4000).state.state).toBe("BACKUP"); // .2 > our .1
    expect(run(mm, ad(100, 100, "198.51.100.0"), 4000).state.state).toBe("MASTER");
    // A bow-out heard while MASTER: advertise at once.
    expect(sends(run(mm, ad(0), 4000).actions)).toHaveLength(1);
  });

  it("demotion lowers the advertised priority (clamped at 1)", () => {
    let s = start(mk(v3(255, 100)), 0).state;
    const r = run(s, cmd({ op: "demote", delta: 300 }), 10);
    expect(sends(r.actions)[0].advert.vrrp!.priority).toBe(1);
    s = run(r.state, ad(2), 20).state;
    expect(s.state).toBe("BACKUP");
  });
});

describe("VRRPv3 explained", () => {
  it("why and explain speak of priorities, not advskew", () => {
    let s = start(mk(v3(100, 10)), 0).state;
    s = run(s, ad(200, 10), 5).state;
    s = run(s, cmd({ op: "demote", delta: 20 }), 6).state;
    expect(whyLine(status(s), [])).toBe("BACKUP (initialization complete): we advertise priority 80 (configured 100); demoted by vhid +20; master 198.51.100.2 advertises priority 200; preempt off");
    expect(explain(status(s))).toContain("We advertise VRRPv3 priority 80 (configured 100, demotion 20) every 10 cs");
    expect(explain(status(s))).toContain("(VRRPv3 priority 200, interval 10 cs)");
  });
});

describe("VRRPv3 in a Cluster pair", () => {
  it("two routers at 10 ms: the higher priority wins, a crash hands over within master-down, it preempts back", () => {
    const A = "198.51.100.1";
    const B = "198.51.100.2";
    const mkc = (prio: number, own: string) => {
      const c = new Cluster();
      const r = c.add("eth0", { vhid: 1, vips: { v4: 1, v6: 0 }, ownAddresses: [own], preempt: true, vrrp: { priority: prio, intervalCs: 1 } }, { counter: 1n });
      if (!r.ok) throw new Error(r.errors.join());
      c.command({ ifname: "eth0", vhid: 1 }, { op: "start" }, 0);
      return c;
    };
    const a = mkc(200, A);
    const b = mkc(100, B);
    let aUp = true;
    const deliver = (from: Cluster, to: Cluster, addr: string, now: number) => {
      for (let t: Transmit | undefined; (t = from.pollTransmit()); ) {
        if (from === a && !aUp) continue;
        to.handleInput({ kind: "advert", ifname: "eth0", from: addr, family: 4, header: { version: 3, type: 1, vhid: 1, advskew: 0, authlen: 0, demote: 0, advbase: 0, checksum: 0, counter: 0n, hmac: Buffer.alloc(0) }, vrrp: t.advert.vrrp }, now);
      }
    };
    const st = (c: Cluster) => c.get({ ifname: "eth0", vhid: 1 })!.state;
    let tookOver = -1;
    for (let now = 0; now <= 1000; now += 0.5) {
      if (now === 300) aUp = false; // crash: A sends nothing more
      if (now === 600) {
        aUp = true;
        a.command({ ifname: "eth0", vhid: 1 }, { op: "stop" }, now);
        a.command({ ifname: "eth0", vhid: 1 }, { op: "start" }, now);
      }
      a.handleTimeout(now);
      b.handleTimeout(now);
      deliver(a, b, A, now);
      deliver(b, a, B, now);
      if (now === 299) expect([st(a), st(b)]).toEqual(["MASTER", "BACKUP"]);
      if (now > 300 && tookOver < 0 && st(b) === "MASTER") tookOver = now - 300;
    }
    // Master-down (36.1 ms) after A's last advert, which went out up to one interval (10 ms) before the crash.
    const md = 30 + (156 * 10) / 256;
    expect(tookOver).toBeGreaterThan(md - 10);
    expect(tookOver).toBeLessThanOrEqual(md + 0.5);
    expect([st(a), st(b)]).toEqual(["MASTER", "BACKUP"]); // A came back with preempt and took over again
  });
});
