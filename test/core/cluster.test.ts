// The process-wide Cluster: many vhids (per interface) behind handleInput/handleTimeout/poll*, sharing
// one demotion ledger (FreeBSD net.inet.carp.demotion), 255 in one container.
import { describe, expect, it } from "vitest";
import { Cluster, MAX_CATCH_UP_MS } from "../../src/core/cluster.js";
import type { Effect, Event, Transmit, VhidParams, VhidRef } from "../../src/core/types.js";
import { advert } from "./helpers.js";

function drain(c: Cluster) {
  const transmits: Transmit[] = [];
  const effects: Effect[] = [];
  const events: Event[] = [];
  for (let t = c.pollTransmit(); t; t = c.pollTransmit()) transmits.push(t);
  for (let f = c.pollEffect(); f; f = c.pollEffect()) effects.push(f);
  for (let e = c.pollEvent(); e; e = c.pollEvent()) events.push(e);
  return { transmits, effects, events };
}

const ref = (vhid: number, ifname = ""): VhidRef => ({ ifname, vhid });

/** Runs every timer up to `t` the way a daemon does: wake at pollTimeout(), handleTimeout(). */
function runUntil(c: Cluster, t: number) {
  for (let at = c.pollTimeout(); at !== undefined && at <= t; at = c.pollTimeout()) c.handleTimeout(at);
}

function masters(n: number, ifname = "") {
  const c = new Cluster();
  for (let v = 1; v <= n; v++) {
    const r = c.add(ifname, { vhid: v, advskew: v % 200, vips: { v4: 1, v6: v % 2 }, ownAddresses: ["198.51.100.1"] }, { counter: BigInt(v) << 32n });
    expect(r.ok).toBe(true);
  }
  for (const r of c.refs()) c.command(r, { op: "start" }, 0);
  // every vhid's master-down falls due at its own deadline; one handleTimeout covers them all
  c.handleTimeout(10_000);
  drain(c);
  return c;
}

describe("Cluster", () => {
  it("runs 255 vhids; a global demotion change makes every MASTER advertise at once", () => {
    const c = masters(255);
    expect(c.refs()).toHaveLength(255);
    expect(c.status().vhids.every((v) => v.state === "MASTER")).toBe(true);
    expect(c.handleInput({ kind: "demotion", source: "user", delta: 50 }, 10_000)).toBeUndefined();
    const sent = drain(c).transmits;
    // one advert per family per vhid: 255 v4 + 128 v6
    expect(sent).toHaveLength(255 + 128);
    expect(new Set(sent.map((s) => s.ref.vhid)).size).toBe(255);
    for (const s of sent) expect(s.advert.advskew).toBe(Math.min(240, (s.ref.vhid % 200) + 50));
    expect(c.globalDemotion).toBe(50);
    expect(c.status().ledger).toEqual([{ source: "user", value: 50, reason: "user requested", since: 10_000 }]);
  });

  it("writes add (like the sysctl); a BACKUP vhid does not advertise", () => {
    const c = new Cluster();
    c.add("", { vhid: 7, vips: { v4: 1, v6: 0 } }, { counter: 1n });
    c.command(7, { op: "start" }, 0);
    c.handleInput({ kind: "demotion", source: "user", delta: 10 }, 1);
    drain(c);
    c.handleInput({ kind: "demotion", source: "user", delta: -25 }, 2);
    expect(drain(c).transmits).toEqual([]);
    expect(c.globalDemotion).toBe(-15);
    expect(c.status().vhids[0].effectiveAdvskew).toBe(0);
    expect(c.handleInput({ kind: "demotion", source: "user", delta: 0.5 }, 3)).toBe("demotion must be an integer");
  });

  it("an ifdown on one interface demotes the vhids of the others (fate sharing) and is undone on link up", () => {
    const c = new Cluster();
    c.add("eth0", { vhid: 1, vips: { v4: 1, v6: 0 } }, { counter: 1n });
    c.add("eth1", { vhid: 2, vips: { v4: 1, v6: 0 } }, { counter: 2n });
    c.add("eth1", { vhid: 3, vips: { v4: 1, v6: 1 } }, { counter: 3n });
    for (const r of c.refs()) c.command(r, { op: "start" }, 0);
    c.handleTimeout(10_000);
    drain(c);
    c.handleInput({ kind: "link", ifname: "eth0", up: false }, 20_000);
    expect(c.get(ref(1, "eth0"))!.state).toBe("INIT");
    const out = drain(c);
    expect(out.transmits.map((s) => [s.ref.ifname, s.ref.vhid, s.advert.advskew])).toEqual([
      ["eth1", 2, 240],
      ["eth1", 3, 240],
      ["eth1", 3, 240],
    ]);
    expect(out.effects).toEqual([{ kind: "vips", ref: ref(1, "eth0"), seq: expect.any(Number), op: "remove" }]);
    // one ledger for the process: the same entry explains every vhid on every interface
    expect(c.status().ledger.map((e) => [e.source, e.value])).toEqual([["ifdown:eth0/1", 240]]);
    expect(c.demotionOf(ref(3, "eth1"))!.entries.map((e) => e.source)).toEqual(["ifdown:eth0/1"]);
    expect(out.events.filter((e) => e.kind === "demotion")).toEqual([
      { kind: "demotion", source: "ifdown:eth0/1", delta: 240, value: 240, reason: "vhid 1: hardware interface down" },
    ]);
    c.handleInput({ kind: "link", ifname: "eth0", up: true }, 21_000);
    expect(c.globalDemotion).toBe(0);
    expect(c.get(ref(1, "eth0"))!.state).toBe("BACKUP");
    expect(drain(c).transmits.map((s) => s.ref.vhid)).toEqual([2, 3, 3]);
  });

  it("the same vhid number on two interfaces is two vhids", () => {
    const c = new Cluster();
    expect(c.add("eth0", { vhid: 5, vips: { v4: 1, v6: 0 } }, { counter: 1n }).ok).toBe(true);
    expect(c.add("eth1", { vhid: 5, vips: { v4: 1, v6: 0 } }, { counter: 2n }).ok).toBe(true);
    expect(c.add("eth1", { vhid: 5, vips: { v4: 1, v6: 0 } }, { counter: 2n })).toEqual({ ok: false, errors: ["vhid 5 on eth1 already exists"] });
    c.command(ref(5, "eth1"), { op: "force", state: "MASTER" }, 0);
    expect(c.get(ref(5, "eth0"))!.state).toBe("INIT");
    expect(c.get(ref(5, "eth1"))!.state).toBe("MASTER");
    const a = advert({ vhid: 5, advskew: 0 });
    if (a.kind !== "advert") throw new Error("unreachable");
    // an advert on eth0 does not touch eth1's vhid 5
    c.command(ref(5, "eth0"), { op: "start" }, 0);
    c.handleInput({ kind: "advert", ifname: "eth0", from: a.from, family: 4, header: a.header }, 1);
    expect(c.get(ref(5, "eth1"))!.stats.ipackets).toBe(0);
    expect(c.get(ref(5, "eth0"))!.stats.ipackets).toBe(1);
  });

  it("a named source sets one ledger entry absolutely", () => {
    const c = masters(1);
    c.handleInput({ kind: "demotion", source: "check:http", value: 100, reason: "http check failed" }, 5);
    c.handleInput({ kind: "demotion", source: "check:http", value: 100 }, 6);
    expect(c.globalDemotion).toBe(100);
    c.handleInput({ kind: "demotion", source: "check:http", value: 0 }, 7);
    expect(c.status().ledger).toEqual([]);
  });

  it("routes adverts by interface and vhid; unknown vhids are counted; duplicates and bad params are errors", () => {
    const c = masters(2);
    const a = advert({ vhid: 2, advskew: 0 });
    if (a.kind !== "advert") throw new Error("unreachable");
    c.handleInput({ kind: "advert", ifname: "", from: a.from, family: a.family, header: a.header }, 9000);
    const out = drain(c);
    expect([...out.effects, ...out.events].every((x) => !("ref" in x) || x.ref!.vhid === 2)).toBe(true);
    expect(c.get(2)!.state).toBe("BACKUP");
    c.handleInput({ kind: "advert", ifname: "", from: a.from, family: 4, header: { ...a.header, vhid: 99 } }, 9000);
    c.handleInput({ kind: "advert", ifname: "eth9", from: a.from, family: 4, header: a.header }, 9000);
    expect(c.status().badvhid).toBe(2);
    expect(c.add("", { vhid: 1, vips: { v4: 1, v6: 0 } }, { counter: 1n })).toEqual({ ok: false, errors: ["vhid 1 already exists"] });
    expect(c.add("", { vhid: 300, vips: { v4: 1, v6: 0 } }, { counter: 1n }).ok).toBe(false);
    expect(c.handleInput({ kind: "link", ifname: "", up: true }, 1)).toBeUndefined();
    expect(c.command(42, { op: "start" }, 1)).toBe("no vhid 42");
  });

  it("remove() bows out a MASTER and forgets the vhid", () => {
    const c = masters(2);
    expect(c.remove(1, 9000)).toBeUndefined();
    // vhid 1 has v4 and v6 VIPs: one bow-out per family
    expect(drain(c).transmits.map((s) => s.bowOut)).toEqual([true, true]);
    expect(c.refs()).toEqual([ref(2)]);
  });

  it("a new vhid starts with the current global demotion", () => {
    const c = new Cluster();
    c.handleInput({ kind: "demotion", source: "user", delta: 30 }, 0);
    c.add("", { vhid: 1, advskew: 5, vips: { v4: 1, v6: 0 } }, { counter: 1n });
    expect(c.status().vhids[0].effectiveAdvskew).toBe(35);
  });
});

describe("Cluster timers: deadlines inside the core", () => {
  it("pollTimeout is the earliest deadline; handleTimeout runs each timer at its deadline (no drift when woken late)", () => {
    const c = new Cluster();
    c.add("", { vhid: 1, vips: { v4: 1, v6: 0 } }, { counter: 1n });
    expect(c.pollTimeout()).toBeUndefined();
    c.command(1, { op: "start" }, 0);
    expect(c.pollTimeout()).toBe(3000);
    c.handleTimeout(2999);
    expect(c.get(1)!.state).toBe("BACKUP");
    const sends: number[] = [];
    // every wake-up 0.8 ms late: the next deadline still comes from the scheduled one
    for (let i = 0; i < 60; i++) {
      const at = c.pollTimeout()!;
      c.handleTimeout(at + 0.8);
      for (let t = c.pollTransmit(); t; t = c.pollTransmit()) sends.push(at);
    }
    expect(sends[0]).toBe(3000);
    expect(sends[59]).toBe(3000 + 59 * 1000);
    expect(c.pollTimeout()).toBe(3000 + 60 * 1000);
  });

  it("a wake-up later than MAX_CATCH_UP_MS runs at the real time", () => {
    const c = masters(1);
    const at = c.pollTimeout()!;
    c.handleTimeout(at + MAX_CATCH_UP_MS + 50);
    expect(c.pollTimeout()).toBeCloseTo(at + MAX_CATCH_UP_MS + 50 + 1000 + 3.906, 6);
  });

  it("advertiseUntil runs advertise timers ahead (a batched pass) but never a master-down early", () => {
    const c = new Cluster();
    c.add("", { vhid: 1, vips: { v4: 1, v6: 0 } }, { counter: 1n });
    c.add("", { vhid: 2, vips: { v4: 1, v6: 0 } }, { counter: 2n });
    c.command(1, { op: "force", state: "MASTER" }, 0); // advertise at 1000
    c.command(2, { op: "start" }, -2000); // master-down at 1000
    drain(c);
    expect(c.advertsDue(1000)).toBe(1);
    c.handleTimeout(995, 1000);
    expect(drain(c).transmits.map((t) => t.ref.vhid)).toEqual([1]);
    expect(c.get(2)!.state).toBe("BACKUP");
    expect(c.pollTimeout()).toBe(1000);
    c.handleTimeout(1000);
    expect(c.get(2)!.state).toBe("MASTER");
    expect(c.advertsDue(1999)).toBe(0);
  });
});

describe("Cluster queues keep the order the core decided", () => {
  const p = (semantics: VhidParams["semantics"]): VhidParams => ({ vhid: 1, semantics, vips: { v4: 1, v6: 0 }, ownAddresses: ["198.51.100.1"] });
  const ordered = (o: ReturnType<typeof drain>) =>
    [...o.transmits.map((t) => ({ seq: t.seq, what: t.bowOut ? "bowout" : "advert" })), ...o.effects.map((e) => ({ seq: e.seq, what: e.kind === "vips" ? `vips ${e.op}` : `announce ${e.why}` }))]
      .sort((a, b) => a.seq - b.seq)
      .map((x) => x.what);

  it("kernels on takeover: advert, then VIPs added, then GARP/NA", () => {
    const c = new Cluster();
    c.add("", p("freebsd"), { counter: 1n });
    c.command(1, { op: "start" }, 0);
    drain(c);
    c.handleTimeout(3000);
    const o = drain(c);
    expect(ordered(o)).toEqual(["advert", "vips add", "announce takeover"]);
    expect(o.events.filter((e) => e.kind === "transition").map((e) => e.kind === "transition" && e.to)).toEqual(["MASTER"]);
  });

  it("ucarp on takeover: the kernels' order too (advert, VIPs, GARP)", () => {
    const c = new Cluster();
    c.add("", p("ucarp"), { counter: 1n });
    c.command(1, { op: "start" }, 0);
    c.handleTimeout(c.pollTimeout()!);
    const o = drain(c);
    expect(ordered(o)).toEqual(["advert", "vips add", "announce takeover"]);
    expect(o.effects.every((e) => e.seq > o.transmits[0].seq)).toBe(true);
  });

  it("graceful stop: the bow-out advert goes out before the VIPs are removed", () => {
    const c = masters(1);
    c.command(1, { op: "stop", graceful: true }, 20_000);
    expect(ordered(drain(c))).toEqual(["bowout", "bowout", "vips remove"]); // one per family
  });

  it("the delayed second announce follows the second advert", () => {
    const c = new Cluster();
    c.add("", p("freebsd"), { counter: 1n });
    c.command(1, { op: "start" }, 0);
    c.handleTimeout(3000);
    drain(c);
    runUntil(c, 6000);
    expect(ordered(drain(c))).toEqual(["advert", "advert", "announce delayed", "advert"]);
  });
});

describe("Cluster: VIP failures and carp set", () => {
  it("a VIP that cannot be added demotes like senderr (a named ledger entry) until an add succeeds", () => {
    const c = masters(2);
    expect(c.handleInput({ kind: "vipResult", ref: ref(1), op: "add", ok: false, error: "EPERM: Operation not permitted" }, 11_000)).toBeUndefined();
    expect(c.status().ledger).toEqual([
      { source: "vipadd:vhid 1", value: 240, reason: "vhid 1: cannot add a VIP: EPERM: Operation not permitted", since: 11_000, ref: ref(1) },
    ]);
    expect(drain(c).transmits.map((t) => [t.ref.vhid, t.advert.advskew])).toEqual([
      [1, 240],
      [1, 240],
      [2, 240],
    ]);
    c.handleInput({ kind: "vipResult", ref: ref(1), op: "add", ok: false, error: "again" }, 11_500);
    expect(c.globalDemotion).toBe(240); // not counted twice
    c.handleInput({ kind: "vipResult", ref: ref(1), op: "add", ok: true }, 12_000);
    expect(c.globalDemotion).toBe(0);
    // stopping the vhid gives the demotion back too
    c.handleInput({ kind: "vipResult", ref: ref(2), op: "add", ok: false }, 13_000);
    c.remove(2, 14_000);
    expect(c.status().ledger).toEqual([]);
  });

  it("set validates every value before applying any (a bad advskew leaves advbase alone)", () => {
    const c = masters(1);
    expect(c.command(1, { op: "set", advbase: 2, advskew: 999 }, 20_000)).toMatch(/^advskew: /);
    expect(c.get(1)!.params.advbase).toBe(1);
    expect(drain(c).transmits).toEqual([]);
    expect(c.command(1, { op: "set", advbase: 2, advskew: 30, demote: 5 }, 20_000)).toBeUndefined();
    expect(c.get(1)!.params).toMatchObject({ advbase: 2, advskew: 30, demote: 5 });
    // a MASTER tells its peers at once, once
    expect(drain(c).transmits.map((t) => [t.advert.advbase, t.advert.advskew])).toEqual([
      [2, 35],
      [2, 35],
    ]);
    expect(c.command(1, { op: "set", state: "BACKUP" }, 20_001)).toBeUndefined();
    expect(c.get(1)!.state).toBe("BACKUP");
  });
});
