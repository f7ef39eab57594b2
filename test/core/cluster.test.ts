// Many vhids sharing a global demotion (FreeBSD net.inet.carp.demotion), 255 in one container.
import { describe, expect, it } from "vitest";
import { Cluster, type TaggedAction } from "../../src/core/cluster.js";
import { advert } from "./helpers.js";

const sendsOf = (a: TaggedAction[]) => a.filter((x) => x.action.kind === "send");

function masters(n: number) {
  const c = new Cluster();
  for (let v = 1; v <= n; v++) {
    const r = c.add({ vhid: v, advskew: v % 200, vips: { v4: 1, v6: v % 2 }, ownAddresses: ["198.51.100.1"] }, { counter: BigInt(v) << 32n });
    expect(r.ok).toBe(true);
  }
  c.commandAll({ op: "start" }, 0);
  for (const v of c.vhids()) {
    const s = c.get(v)!;
    c.input(v, { kind: "timer", timer: "masterDown4" }, s.timers.masterDown4!);
  }
  return c;
}

describe("Cluster", () => {
  it("runs 255 vhids; a global demotion change makes every MASTER advertise at once", () => {
    const c = masters(255);
    expect(c.vhids()).toHaveLength(255);
    expect(c.status().vhids.every((v) => v.state === "MASTER")).toBe(true);
    const r = c.adjustGlobalDemotion(50, 10_000);
    expect(r.error).toBeUndefined();
    const sent = sendsOf(r.actions);
    // one advert per family per vhid: 255 v4 + 128 v6
    expect(sent).toHaveLength(255 + 128);
    expect(new Set(sent.map((s) => s.vhid)).size).toBe(255);
    for (const s of sent) {
      if (s.action.kind !== "send") continue;
      expect(s.action.advert.advskew).toBe(Math.min(240, (s.vhid % 200) + 50));
    }
    expect(c.globalDemotion).toBe(50);
    expect(c.status().ledger).toEqual([{ source: "user", value: 50, reason: "user requested", since: 10_000 }]);
  });

  it("writes add (like the sysctl); a BACKUP vhid does not advertise", () => {
    const c = new Cluster();
    c.add({ vhid: 7, vips: { v4: 1, v6: 0 } }, { counter: 1n });
    c.command(7, { op: "start" }, 0);
    c.adjustGlobalDemotion(10, 1);
    const r = c.adjustGlobalDemotion(-25, 2);
    expect(sendsOf(r.actions)).toEqual([]);
    expect(c.globalDemotion).toBe(-15);
    expect(c.status().vhids[0].effectiveAdvskew).toBe(0);
    expect(c.adjustGlobalDemotion(0.5, 3).error).toBe("demotion must be an integer");
  });

  it("an ifdown on one vhid demotes the others (fate sharing) and is undone on link up", () => {
    const c = masters(3);
    const r = c.link(false, 20_000, [1]);
    expect(c.get(1)!.state).toBe("INIT");
    const sent = sendsOf(r.actions).map((s) => [s.vhid, s.action.kind === "send" && s.action.advert.advskew]);
    expect(sent).toEqual([
      [2, 240],
      [3, 240],
      [3, 240],
    ]);
    expect(c.status().ledger.map((e) => [e.source, e.value])).toEqual([["ifdown:vhid 1", 240]]);
    const up = c.link(true, 21_000, [1]);
    expect(c.globalDemotion).toBe(0);
    expect(c.get(1)!.state).toBe("BACKUP");
    expect(sendsOf(up.actions).map((s) => s.vhid)).toEqual([2, 3, 3]);
  });

  it("setDemotionSource sets one ledger entry absolutely", () => {
    const c = masters(1);
    c.setDemotionSource("check:http", 100, 5, "http check failed");
    c.setDemotionSource("check:http", 100, 6);
    expect(c.globalDemotion).toBe(100);
    c.setDemotionSource("check:http", 0, 7);
    expect(c.status().ledger).toEqual([]);
  });

  it("routes adverts by vhid; unknown vhids are counted; duplicates and bad params are errors", () => {
    const c = masters(2);
    const a = advert({ vhid: 2, advskew: 0 });
    if (a.kind !== "advert") throw new Error("unreachable");
    const r = c.receive({ from: a.from, family: a.family, header: a.header }, 9000);
    expect(r.actions.every((x) => x.vhid === 2)).toBe(true);
    expect(c.get(2)!.state).toBe("BACKUP");
    c.receive({ from: a.from, family: 4, header: { ...a.header, vhid: 99 } }, 9000);
    expect(c.status().badvhid).toBe(1);
    expect(c.add({ vhid: 1, vips: { v4: 1, v6: 0 } }, { counter: 1n })).toEqual({ ok: false, errors: ["vhid 1 already exists"] });
    expect(c.add({ vhid: 300, vips: { v4: 1, v6: 0 } }, { counter: 1n }).ok).toBe(false);
    expect(c.input(42, { kind: "link", up: true }, 1).error).toBe("no vhid 42");
  });

  it("remove() bows out a MASTER and forgets the vhid", () => {
    const c = masters(2);
    const r = c.remove(1, 9000);
    // vhid 1 has v4 and v6 VIPs: one bow-out per family
    expect(sendsOf(r.actions).map((s) => s.action.kind === "send" && s.action.bowOut)).toEqual([true, true]);
    expect(c.vhids()).toEqual([2]);
  });

  it("a new vhid starts with the current global demotion", () => {
    const c = new Cluster();
    c.adjustGlobalDemotion(30, 0);
    c.add({ vhid: 1, advskew: 5, vips: { v4: 1, v6: 0 } }, { counter: 1n });
    expect(c.status().vhids[0].effectiveAdvskew).toBe(35);
  });
});
