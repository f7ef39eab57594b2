// Status and reports: the core's snapshot turned into what `carp status`, `carp set` and SIGUSR1 show.
import type { ClusterStatus, DemotionEntry, VhidStatus } from "../core/index.js";
import type { VirtualMacLink } from "../host/vmac.js";
import type { VhidRt } from "./interfaces.js";
import { epochMs } from "./log.js";
import { whyLine } from "../core/explain.js";
import type { LedgerEntry, VhidReport } from "./types.js";

/** One vhid's report; `now` is the monotonic clock the core's times are in; `ledger`: the entries that apply to it. */
export function vhidReport(s: VhidStatus, rt: VhidRt, now: number, ledger?: DemotionEntry[]): VhidReport {
  return {
    groups: [...s.groups],
    why: whyLine(s, ledger ?? [], now),
    interface: rt.ref.ifname,
    vhid: s.vhid,
    state: s.state,
    reason: s.reason,
    since: s.since === null ? null : epochMs(s.since),
    advbase: s.advbase,
    advskew: s.advskew,
    effectiveAdvskew: s.effectiveAdvskew,
    demotion: s.demotion,
    preempt: s.preempt,
    semantics: s.vrrp ? "vrrp3" : s.semantics,
    addresses: rt.cfg.addresses.map((a) => `${a.address}/${a.prefix}`),
    manageVip: rt.cfg.manageVip,
    linkUp: s.linkUp,
    lastMaster: s.lastMaster
      ? { address: s.lastMaster.address, family: s.lastMaster.family, at: epochMs(s.lastMaster.at), agoMs: Math.round(now - s.lastMaster.at), advbase: s.lastMaster.advbase, advskew: s.lastMaster.advskew, bowOut: s.lastMaster.bowOut }
      : null,
    counters: { ...s.stats, ...rt.rx },
    vipError: rt.vipError,
    ...(s.vrrp && rt.cfg.vrrp
      ? {
          vrrp: {
            priority: s.vrrp.priority,
            effectivePriority: s.vrrp.effectivePriority,
            intervalCs: s.vrrp.intervalCs,
            masterIntervalCs: s.vrrp.masterIntervalCs,
            masterDownMs: s.vrrp.masterDownUs / 1000,
            checksum: rt.cfg.vrrp.checksum,
            peers: Object.fromEntries(rt.vrrpPeers ?? []),
            lastPriority: s.lastMaster?.vrrp?.priority ?? null,
          },
        }
      : {}),
    ...(rt.vmac ? { vmac: vmacReport(rt.vmac.link) } : {}),
    ...(s.antiReplay ? { antiReplay: { highest: s.replayHigh.toString(), warning: s.replayWarning } } : {}),
  };
}

function vmacReport(link: VirtualMacLink): NonNullable<VhidReport["vmac"]> {
  const st = link.linkState();
  return "error" in st ? { name: link.name, mac: link.mac, up: false, operstate: "UNKNOWN", error: st.error } : { name: link.name, mac: link.mac, ...st };
}

export function ledgerReport(entries: DemotionEntry[]): LedgerEntry[] {
  return entries.map((e) => ({
    source: e.source,
    value: e.value,
    reason: e.reason,
    since: epochMs(e.since),
    ...(e.ref ? { interface: e.ref.ifname, vhid: e.ref.vhid } : {}),
    ...(e.group !== undefined ? { group: e.group } : {}),
  }));
}

/** The status of one vhid from a cluster snapshot. */
export function findStatus(cs: ClusterStatus, rt: VhidRt): VhidStatus | undefined {
  return cs.vhids.find((x) => x.vhid === rt.ref.vhid && x.ifname === rt.ref.ifname);
}

/** One line per vhid, as ucarp's SIGUSR1 logs it. */
export function statusLine(v: VhidReport): string {
  const timing = v.vrrp ? `VRRPv3 priority ${v.vrrp.effectivePriority} interval ${v.vrrp.intervalCs} cs` : `advbase ${v.advbase} advskew ${v.effectiveAdvskew}`;
  return `${v.state} on ${v.interface} id ${v.vhid} (${v.reason}; ${timing}${v.lastMaster ? `; last advert from ${v.lastMaster.address} ${v.lastMaster.agoMs} ms ago` : ""})`;
}
