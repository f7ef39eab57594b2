// Metrics of a VRRPv3 vhid: priority (configured and effective) and intervals beside the CARP families.
import { describe, expect, it } from "vitest";
import { renderMetrics } from "../../src/daemon/metrics.js";
import type { NodeStatus, VhidReport } from "../../src/daemon/types.js";

const vhid = (over: Partial<VhidReport>): VhidReport =>
  ({
    interface: "eth0", vhid: 5, state: "MASTER", reason: "master timed out", since: 1_700_000_000_000, advbase: 1, advskew: 0,
    effectiveAdvskew: 0, demotion: { global: 20, vhid: 0, total: 20 }, preempt: true, semantics: "vrrp3", addresses: ["198.51.100.100/32"],
    manageVip: true, linkUp: true, lastMaster: null, counters: {} as VhidReport["counters"], vipError: null, ...over,
  }) as VhidReport;

describe("metrics of a VRRPv3 vhid", () => {
  it("exports carp_vrrp_priority{,_effective} and the intervals; CARP vhids do not get them", () => {
    const status = {
      pid: 1, startedAt: 1_700_000_000_000, globalDemotion: 20, ledger: [], carpstats: {} as NodeStatus["carpstats"],
      vhids: [
        vhid({ vrrp: { priority: 200, effectivePriority: 180, intervalCs: 1, masterIntervalCs: 1, masterDownMs: 30.2, checksum: "pseudo", peers: {}, lastPriority: null } }),
        vhid({ vhid: 6, semantics: "freebsd" }),
      ],
    } as NodeStatus;
    const text = renderMetrics({ status, transitions: [] }, 1_700_000_001_000);
    expect(text).toContain('carp_vrrp_priority{interface="eth0",vhid="5"} 200');
    expect(text).toContain('carp_vrrp_priority_effective{interface="eth0",vhid="5"} 180');
    expect(text).toContain('carp_vrrp_interval_seconds{interface="eth0",vhid="5"} 0.01');
    expect(text).toContain('carp_vrrp_master_interval_seconds{interface="eth0",vhid="5"} 0.01');
    expect(text).not.toContain('carp_vrrp_priority{interface="eth0",vhid="6"}');
  });
});
