// planReload: what a SIGHUP changes, as a pure comparison of two normalized configurations.
import { describe, expect, it } from "vitest";
import { normalizeConfig, type Config, type RawGlobal, type RawVhid } from "../../src/daemon/config.js";
import { planReload } from "../../src/daemon/reload.js";

const opts = { keyName: (f: string) => f, longPassword: "truncate" as const };
function cfg(vhids: RawVhid[], global: RawGlobal = {}): Config {
  const r = normalizeConfig({ vhids, global }, opts);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}
const v = (vhid: number, extra: Partial<RawVhid> = {}): RawVhid => ({ interface: "eth0", vhid, password: "pw", addresses: [`198.51.100.${vhid}/24`], ...extra });

describe("planReload", () => {
  it("no change: every vhid kept with an empty set", () => {
    const a = cfg([v(1), v(2)]);
    const p = planReload(a, cfg([v(1), v(2)]));
    expect(p.remove).toEqual([]);
    expect(p.rebuild).toEqual([]);
    expect(p.add).toEqual([]);
    expect(p.keep.map((k) => [k.next.vhid, k.set])).toEqual([
      [1, {}],
      [2, {}],
    ]);
    expect(p.demotion).toBeUndefined();
    expect(p.devdChanged || p.facilityChanged).toBe(false);
  });

  it("advbase/advskew/preempt/demote become one set (demote as a delta); MASTER state is kept", () => {
    const p = planReload(cfg([v(1, { advskew: 10, demote: 5 })]), cfg([v(1, { advskew: 20, advbase: 2, preempt: true, demote: 2 })]));
    expect(p.keep).toHaveLength(1);
    expect(p.keep[0].set).toEqual({ advbase: 2, advskew: 20, preempt: true, demote: -3 });
    expect(p.rebuild).toEqual([]);
  });

  it("a new password, address or interface rebuilds or replaces the vhid; removed and added vhids are listed", () => {
    const p = planReload(cfg([v(1), v(2), v(3)]), cfg([v(1, { password: "other" }), v(2, { interface: "eth1" }), v(4)]));
    expect(p.rebuild.map((r) => r.next.vhid)).toEqual([1]);
    expect(p.remove.map((x) => `${x.vhid}@${x.interface}`)).toEqual(["2@eth0", "3@eth0"]);
    expect(p.add.map((x) => `${x.vhid}@${x.interface}`)).toEqual(["2@eth1", "4@eth0"]);
    expect(p.keep).toEqual([]);
  });

  it("a changed global demotion is part of the plan (SIGHUP used to ignore it)", () => {
    const p = planReload(cfg([v(1)], { demotion: 0 }), cfg([v(1)], { demotion: -20 }));
    expect(p.demotion).toBe(-20);
    expect(planReload(cfg([v(1)], { demotion: 7 }), cfg([v(1)], { demotion: 7 })).demotion).toBeUndefined();
  });

  it("devd.conf and syslog facility changes are flagged", () => {
    const p = planReload(cfg([v(1)], { facility: "daemon" }), cfg([v(1)], { facility: "local0", devdConf: "/etc/devd.conf" }));
    expect(p.facilityChanged).toBe(true);
    expect(p.devdChanged).toBe(true);
  });

  it("group, track, preemptDelay and startBackup become core set fields on a kept vhid (SIGHUP used to rebuild or drop them)", () => {
    const p = planReload(cfg([v(1)]), cfg([v(1, { groups: ["web"], preemptDelay: 5, startBackup: true })]));
    expect(p.rebuild).toEqual([]);
    expect(p.keep[0].set).toEqual({ groups: ["web"], preemptDelayMs: 5000, startBackup: true });
    expect(p.keep[0].changed).toEqual(["groups", "preemptDelayMs", "startBackup"]);
    const back = planReload(cfg([v(1, { groups: ["web"], preemptDelay: 5, startBackup: true })]), cfg([v(1)]));
    expect(back.keep[0].set).toEqual({ groups: [], preemptDelayMs: 0, startBackup: false });
  });

  it("garpRefresh and garpRepeat change in place (named in `changed`, no core set, no rebuild)", () => {
    const p = planReload(cfg([v(1)]), cfg([v(1, { garpRefresh: 2, garpRepeat: 3 })]));
    expect(p.rebuild).toEqual([]);
    expect(p.keep[0].set).toEqual({});
    expect(p.keep[0].changed).toEqual(["garpRefreshMs", "garpRepeat"]);
  });

  it("vmac, antiReplay and other structural changes rebuild the vhid and name the fields", () => {
    const p = planReload(cfg([v(1), v(2)]), cfg([v(1, { vmac: true }), v(2, { antiReplay: true, preemptDelay: 1 })]));
    expect(p.keep).toEqual([]);
    expect(p.rebuild.map((r) => [r.next.vhid, r.why])).toEqual([
      [1, ["vmac"]],
      [2, ["antiReplay"]],
    ]);
  });

  it("every field of a vhid is either applied in place or rebuilds: none is silently ignored", () => {
    const base = cfg([v(1)]);
    const variants: Partial<RawVhid>[] = [{ groups: ["g"] }, { preemptDelay: 3 }, { startBackup: true }, { garpRefresh: 1 }, { garpRepeat: 2 }, { vmac: true }, { antiReplay: true }, { advskew: 9 }, { preempt: true }, { demote: 1 }];
    for (const extra of variants) {
      const p = planReload(base, cfg([v(1, extra)]));
      const visible = p.rebuild.length === 1 ? p.rebuild[0].why : p.keep[0].changed;
      expect(visible.length, JSON.stringify(extra)).toBeGreaterThan(0);
    }
  });
});
