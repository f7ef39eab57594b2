// Whole-cluster scenarios in virtual time: nodes wired through the deterministic simulator.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { predictWinner } from "../../src/core/election.js";
import { Simulator, seededLoss, type SimOptions } from "../../src/core/sim.js";
import type { VhidParams } from "../../src/core/types.js";

const A = "198.51.100.1";
const B = "198.51.100.2";
const vhid = (p: Partial<VhidParams> = {}): VhidParams => ({ vhid: 1, vips: { v4: 1, v6: 0 }, ...p });

function pair(p1: Partial<VhidParams>, p2: Partial<VhidParams>, opts: SimOptions = {}, names = ["node1", "node2"]) {
  const sim = new Simulator(opts);
  expect(sim.addNode({ name: names[0], address4: A, address6: "2001:db8::1", vhids: [vhid(p1)] }).ok).toBe(true);
  expect(sim.addNode({ name: names[1], address4: B, address6: "2001:db8::2", vhids: [vhid(p2)], seed: 5000n }).ok).toBe(true);
  return sim;
}

const sendTimes = (sim: Simulator, node: string, before: number) =>
  sim.actions.filter((a) => a.node === node && a.action.kind === "send" && a.t <= before).map((a) => a.t);

describe("failover scenarios (latency 1 ms)", () => {
  it("advskew 10/20: node1 MASTER at exactly 3039.062 ms; kill -> node2 at last advert + 1 + 3078.125; back with preempt -> node1", () => {
    const sim = pair({ advskew: 10 }, { advskew: 20 });
    sim.start("node1");
    sim.start("node2");
    sim.runUntil(10_000);
    expect(sim.firstTransition("node1", 1, "MASTER")!.t).toBe(3039.062);
    expect(sim.masters(1)).toEqual(["node1"]);
    expect(sim.transitions.filter((t) => t.node === "node2").map((t) => t.to)).toEqual(["BACKUP"]);

    sim.kill("node1");
    const last = Math.max(...sendTimes(sim, "node1", 10_000));
    expect(last).toBeCloseTo(3039.062 + 6 * 1039.062, 6);
    sim.runUntil(20_000);
    const took = sim.firstTransition("node2", 1, "MASTER")!;
    expect(took.t).toBeCloseTo(last + 1 + 3078.125, 6);
    expect(took.reason).toBe("master timed out");
    expect(sim.masters(1)).toEqual(["node2"]);

    expect(sim.revive("node1", { preempt: true }).ok).toBe(true);
    sim.runUntil(30_000);
    const back = sim.firstTransition("node1", 1, "MASTER", 20_000)!;
    expect(back.reason).toBe("preempting a slower master 198.51.100.2 (advbase 1 advskew 20)");
    const stepDown = sim.firstTransition("node2", 1, "BACKUP", 20_000)!;
    expect(stepDown.reason).toBe("more frequent advertisement received from 198.51.100.1 (advbase 1 advskew 10)");
    expect(stepDown.t - back.t).toBe(1);
    // the dual-master overlap of a preemptive takeover is exactly one link latency
    expect(sim.dualMasterMs(1, 20_000, 30_000)).toBe(1);
    expect(sim.dualMasterMs(1, 0, 20_000)).toBe(0);
    expect(sim.masters(1)).toEqual(["node1"]);
  });

  it("seed scenario (skunk1/skunk2): advskew 30 without preempt keeps roles; preempt on skunk2 moves MASTER", () => {
    const sim = pair({ advskew: 10 }, { advskew: 20 }, {}, ["skunk1", "skunk2"]);
    sim.start("skunk1");
    sim.start("skunk2");
    sim.runUntil(5000);
    expect(sim.masters(1)).toEqual(["skunk1"]);
    sim.command("skunk1", 1, { op: "setAdvskew", value: 30 });
    sim.runUntil(15_000);
    expect(sim.masters(1)).toEqual(["skunk1"]);
    expect(sim.state("skunk2", 1)).toBe("BACKUP");
    sim.command("skunk2", 1, { op: "setPreempt", value: true });
    sim.runUntil(25_000);
    expect(sim.masters(1)).toEqual(["skunk2"]);
    expect(sim.firstTransition("skunk2", 1, "MASTER")!.reason).toBe(
      "preempting a slower master 198.51.100.1 (advbase 1 advskew 30)",
    );
    expect(sim.firstTransition("skunk1", 1, "BACKUP", 15_000)!.reason).toMatch(/^more frequent advertisement received from 198\.51\.100\.2/);
    // with preempt, the takeover happens at the first skunk1 advert skunk2 hears after the change
    const preemptAt = sim.firstTransition("skunk2", 1, "MASTER")!.t;
    expect(preemptAt - 15_000).toBeLessThanOrEqual(1000 + (30 * 1000) / 256 + 1);
    expect(sim.dualMasterMs(1)).toBe(1);
  });

  for (const semantics of ["freebsd", "openbsd", "ucarp"] as const) {
    it(`${semantics}: start with any distinct advskews, start times and latencies -> a single master after convergence`, () => {
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.integer({ min: 0, max: 240 }), { minLength: 2, maxLength: 4 }),
          fc.boolean(),
          fc.integer({ min: 0, max: 200 }),
          fc.array(fc.integer({ min: 0, max: 4000 }), { minLength: 4, maxLength: 4 }),
          (skews, preempt, latency, starts) => {
            const sim = new Simulator({ latencyMs: latency / 10 });
            skews.forEach((advskew, i) => {
              sim.addNode({ name: `n${i}`, address4: `198.51.100.${i + 1}`, vhids: [vhid({ advskew, preempt, semantics })] });
              sim.at(starts[i], (s) => s.start(`n${i}`));
            });
            sim.runUntil(60_000);
            expect(sim.masters(1)).toHaveLength(1);
            expect(sim.dualMasterMs(1, 15_000, 60_000)).toBe(0);
            if (preempt) {
              const cands = skews.map((advskew, i) => ({ id: `n${i}`, address: `198.51.100.${i + 1}`, advbase: 1, advskew }));
              expect(sim.masters(1)).toEqual([predictWinner(semantics, cands).winner]);
            }
          },
        ),
        { numRuns: 100, seed: 7 },
      );
    });
  }

  it("equal advskew (FreeBSD): crossing adverts make both masters step down; the first master-down timer then wins", () => {
    // early packets are slow one way, so the two step-downs (and so the two timers) are 9 ms apart
    const lat = (d: { from: string; t: number }) => (d.t < 1000 && d.from === "node2" ? 10 : 1);
    const sim = pair({ advskew: 0 }, { advskew: 0 }, { latencyMs: lat });
    sim.start("node1");
    sim.start("node2");
    sim.runUntil(100);
    sim.command("node1", 1, { op: "force", state: "MASTER" });
    sim.command("node2", 1, { op: "force", state: "MASTER" });
    sim.runUntil(20_000);
    const downs = sim.transitions.filter((t) => t.to === "BACKUP" && t.from === "MASTER");
    expect(downs.map((d) => [d.node, d.t, d.reason])).toEqual([
      ["node2", 101, "equal advertisement received from 198.51.100.1 (advbase 1 advskew 0)"],
      ["node1", 110, "equal advertisement received from 198.51.100.2 (advbase 1 advskew 0)"],
    ]);
    expect(sim.firstTransition("node2", 1, "MASTER", 200)).toMatchObject({ t: 3101, reason: "master timed out" });
    expect(sim.firstTransition("node1", 1, "MASTER", 200)).toBeUndefined();
    expect(sim.masters(1)).toEqual(["node2"]);
  });

  it("equal advskew (FreeBSD) without jitter: perfectly crossing timers keep colliding (no tie-break)", () => {
    // A property of the protocol, not of the simulator: real kernels escape through timer jitter.
    const sim = pair({ advskew: 0 }, { advskew: 0 }, { latencyMs: 1 });
    sim.start("node1");
    sim.start("node2");
    sim.runUntil(20_000);
    const equal = sim.transitions.filter((t) => t.reason.startsWith("equal advertisement"));
    expect(equal.length).toBeGreaterThanOrEqual(10);
    expect(new Set(equal.map((t) => t.node))).toEqual(new Set(["node1", "node2"]));
    // the same start with 300 ms between the nodes: the first master-down wins for good
    const s2 = pair({ advskew: 0 }, { advskew: 0 });
    s2.start("node1");
    s2.at(300, (s) => s.start("node2"));
    s2.runUntil(20_000);
    expect(s2.masters(1)).toEqual(["node1"]);
    expect(s2.firstTransition("node1", 1, "MASTER")!.t).toBe(3000);
    expect(s2.dualMasterMs(1)).toBe(0);
  });

  it("equal advskew (ucarp): the peer with the lower byte-reversed source stays; the other sends one more advert and yields", () => {
    // keys: 198.51.100.1 -> 0x016433c6, 198.51.100.2 -> 0x026433c6: node1 wins the tie
    const uc = { semantics: "ucarp" as const };
    const sim = pair(uc, uc);
    sim.start("node1");
    sim.start("node2");
    sim.runUntil(100);
    sim.command("node1", 1, { op: "force", state: "MASTER" });
    sim.command("node2", 1, { op: "force", state: "MASTER" });
    sim.runUntil(10_000);
    expect(sim.masters(1)).toEqual(["node1"]);
    const yielded = sim.firstTransition("node2", 1, "BACKUP", 100)!;
    expect(yielded.reason).toBe("equal advertisement from 198.51.100.1 (advbase 1 advskew 0) wins the source-address tie-break");
    // node2's last advert goes out in the same instant, right before it yields
    expect(sendTimes(sim, "node2", 10_000).filter((t) => t === yielded.t)).toHaveLength(1);
    const reassert = sim.actions.find((a) => a.node === "node1" && a.action.kind === "announce" && a.action.why === "reassert");
    expect(reassert?.t).toBe(101);
  });
});

describe("demotion scenarios", () => {
  it("PR 259528: negative global demotion -1 with preempt on both nodes never yields two masters", () => {
    const sim = pair({ advskew: 0, preempt: true }, { advskew: 100, preempt: true });
    sim.start("node1");
    sim.start("node2");
    sim.runUntil(10_000);
    expect(sim.masters(1)).toEqual(["node1"]);
    sim.adjustGlobalDemotion("node1", -1);
    sim.runUntil(13_000);
    expect(sim.masters(1)).toEqual(["node1"]);
    expect(sim.dualMasterMs(1)).toBe(0);
    const skews = sim.actions
      .filter((a) => a.node === "node1" && a.t >= 10_000 && a.action.kind === "send")
      .map((a) => (a.action.kind === "send" ? a.action.advert.advskew : -1));
    expect(skews.length).toBeGreaterThan(2);
    expect(new Set(skews)).toEqual(new Set([0]));
  });

  it("OpenBSD carpdemote (regress carp_1): roles swap within 0.1 s of demoting the master", () => {
    const ob = { semantics: "openbsd" as const, vhid: 251 };
    const sim = new Simulator();
    sim.addNode({ name: "rd11", address4: "198.51.100.2", vhids: [vhid({ ...ob, advskew: 0 })] });
    sim.addNode({ name: "rd12", address4: "198.51.100.3", vhids: [vhid({ ...ob, advskew: 100 })] });
    sim.start("rd11");
    sim.start("rd12");
    sim.runUntil(3100);
    expect([sim.state("rd11", 251), sim.state("rd12", 251)]).toEqual(["MASTER", "BACKUP"]);
    sim.command("rd11", 251, { op: "demote", delta: 1 });
    sim.runUntil(3200);
    expect([sim.state("rd11", 251), sim.state("rd12", 251)]).toEqual(["BACKUP", "MASTER"]);
    expect(sim.firstTransition("rd12", 251, "MASTER")!.reason).toBe(
      "taking over from more-demoted master 198.51.100.2 (advbase 1 advskew 0) (demote 1 > 0)",
    );
    expect(sim.firstTransition("rd11", 251, "BACKUP", 3100)!.reason).toMatch(/^demoted by 1: lower demote count 0/);
    // and it sticks: the demoted node does not come back
    sim.runUntil(20_000);
    expect(sim.masters(251)).toEqual(["rd12"]);
  });

  it("link down on the master: INIT with ifdown demotion; the backup takes over at master-down", () => {
    const sim = pair({ advskew: 10 }, { advskew: 20 });
    sim.start("node1");
    sim.start("node2");
    sim.runUntil(5000);
    sim.link("node1", false);
    expect(sim.state("node1", 1)).toBe("INIT");
    expect(sim.cluster("node1").globalDemotion).toBe(240);
    sim.runUntil(10_000);
    expect(sim.masters(1)).toEqual(["node2"]);
    sim.link("node1", true);
    expect(sim.cluster("node1").globalDemotion).toBe(0);
    sim.runUntil(20_000);
    expect(sim.masters(1)).toEqual(["node2"]); // no preempt: node2 keeps it
  });

  it("graceful stop: the backup (advbase 1) takes over one latency after the bow-out", () => {
    const sim = pair({ advskew: 10 }, { advskew: 20 });
    sim.start("node1");
    sim.start("node2");
    sim.runUntil(5000);
    sim.command("node1", 1, { op: "stop", graceful: true });
    sim.runUntil(5001);
    expect(sim.masters(1)).toEqual(["node2"]);
    expect(sim.firstTransition("node2", 1, "MASTER")).toMatchObject({ t: 5001, reason: "bow-out received from 198.51.100.1" });
    expect(sim.dualMasterMs(1)).toBe(0);
  });
});

describe("network conditions", () => {
  it("dual stack: with every IPv4 advert lost, the v4 master-down timer fires on its own", () => {
    const ds = { vips: { v4: 1, v6: 1 } };
    const sim = pair({ ...ds, advskew: 10 }, { ...ds, advskew: 20 }, { loss: (d) => d.family === 4 });
    sim.start("node1");
    sim.start("node2");
    sim.runUntil(3500);
    const t = sim.firstTransition("node2", 1, "MASTER")!;
    // node2's masterDown6 keeps being restarted by node1's v6 adverts; masterDown4 never is
    expect(t.t).toBe(3078.125);
    expect(t.reason).toBe("master timed out");
    expect(sim.masters(1)).toEqual(["node1", "node2"]);
    // node1's next IPv6 advert (3039.062 + 1039.062, +1 ms) sends node2 back, and the cycle repeats
    sim.runUntil(30_000);
    const back = sim.firstTransition("node2", 1, "BACKUP", 3100)!;
    expect(back.t).toBeCloseTo(4079.124, 9);
    expect(back.reason).toBe("more frequent advertisement received from 2001:db8::1 (advbase 1 advskew 10)");
    expect(sim.transitions.filter((x) => x.node === "node2" && x.to === "MASTER").length).toBeGreaterThan(5);
  });

  it("loss: dual-master time is measured, and one master remains once the loss stops", () => {
    const lossy = seededLoss(0.5, 42);
    const sim = pair({ advskew: 10 }, { advskew: 20 }, { loss: (d) => d.t < 30_000 && lossy(d) });
    sim.start("node1");
    sim.start("node2");
    sim.runUntil(60_000);
    const during = sim.dualMasterMs(1, 0, 30_000);
    expect(during).toBeGreaterThan(0); // 50% loss does cause split brain
    expect(sim.dualMasterMs(1, 32_000, 60_000)).toBe(0);
    expect(sim.masters(1)).toEqual(["node1"]);
  });

  it("multicast loopback of our own adverts is ignored", () => {
    const sim = pair({ advskew: 10 }, { advskew: 20 }, { loopback: true });
    sim.start("node1");
    sim.start("node2");
    sim.runUntil(10_000);
    expect(sim.masters(1)).toEqual(["node1"]);
    expect(sim.cluster("node1").get(1)!.stats.ownLoops).toBeGreaterThan(5);
  });

  it("is deterministic: the same scenario gives the same transcript", () => {
    const go = () => {
      const sim = pair({ advskew: 10 }, { advskew: 20 }, { loss: seededLoss(0.3, 9) });
      sim.start("node1");
      sim.start("node2");
      sim.runUntil(30_000);
      return JSON.stringify(sim.transitions);
    };
    expect(go()).toBe(go());
  });
});
