// One-paragraph answer to "why is this vhid in this state?", built only from a status snapshot.
import type { VhidStatus } from "./types.js";

const at = (t: number | null, now?: number) => (t === null ? "" : now === undefined ? ` at ${t} ms` : ` ${((now - t) / 1000).toFixed(1)} s ago`);

export function explain(st: VhidStatus, now?: number): string {
  const parts: string[] = [];
  const since = st.since === null ? "" : now === undefined ? ` since ${st.since} ms` : ` for ${((now - st.since) / 1000).toFixed(1)} s`;
  parts.push(`vhid ${st.vhid} is ${st.state}${since}: ${st.reason}.`);
  const adv = `advbase ${st.advbase} advskew ${st.advskew}`;
  const d = st.demotion;
  if (st.vrrp) {
    parts.push(`We advertise VRRPv3 priority ${st.vrrp.effectivePriority} (configured ${st.vrrp.priority}, demotion ${d.total}) every ${st.vrrp.intervalCs} cs; master-down ${st.vrrp.masterDownUs / 1000} ms.`);
  } else if (st.semantics === "openbsd") {
    parts.push(`We advertise ${adv}, demote ${st.demoteByte}${d.total ? ` (global ${d.global}, vhid ${d.vhid})` : ""}.`);
  } else if (st.effectiveAdvskew !== st.advskew) {
    parts.push(`We advertise advbase ${st.advbase} advskew ${st.effectiveAdvskew} (configured ${st.advskew}, demotion ${d.total}: global ${d.global}, vhid ${d.vhid}).`);
  } else parts.push(`We advertise ${adv}.`);
  parts.push(`Preempt is ${st.preempt ? "on" : "off"}; ${st.vrrp ? "VRRPv3 (RFC 9568)" : st.semantics} rules.`);
  if (st.bootHold) parts.push("startBackup: no preemption until this node has been MASTER once.");
  if (st.preemptHoldUntil !== null && (now === undefined || now < st.preemptHoldUntil)) {
    parts.push(now === undefined ? `preemptDelay: no preemption before ${st.preemptHoldUntil} ms.` : `preemptDelay: no preemption for ${((st.preemptHoldUntil - now) / 1000).toFixed(1)} s more.`);
  }
  if (!st.linkUp) parts.push("The interface is down.");
  const m = st.lastMaster;
  if (m) {
    const what = m.bowOut ? "a bow-out" : m.vrrp ? `VRRPv3 priority ${m.vrrp.priority}, interval ${m.vrrp.intervalCs} cs` : `advbase ${m.advbase} advskew ${m.advskew}${st.semantics === "openbsd" ? ` demote ${m.demote}` : ""}`;
    parts.push(`Last advertisement from another node: ${m.address} (${what})${at(m.at, now)}.`);
  } else parts.push("No advertisement from another node has been received.");
  return parts.join(" ");
}

/** A demotion cause as whyLine needs it (the ledger entries that apply to the vhid). */
export interface WhyEntry {
  source: string;
  value: number;
  reason: string;
}

/**
 * "Why am I BACKUP (or MASTER)" in one line: the state, the skew we advertise against the master's, and
 * every demotion cause with its reason (a check's last output line), biggest first.
 */
export function whyLine(st: VhidStatus, entries: WhyEntry[], now?: number): string {
  const causes = entries
    .filter((e) => e.value !== 0)
    .sort((a, b) => Math.abs(b.value) - Math.abs(a.value))
    .map((e) => `${e.source} ${e.value > 0 ? "+" : ""}${e.value} (${e.reason})`);
  if (st.demotion.vhid !== 0 && !entries.some((e) => e.source === "vhid")) causes.push(`vhid ${st.demotion.vhid > 0 ? "+" : ""}${st.demotion.vhid}`);
  const v = st.vrrp;
  const skew = v
    ? `priority ${v.effectivePriority}${v.effectivePriority !== v.priority ? ` (configured ${v.priority})` : ""}`
    : st.semantics === "openbsd" ? `demote ${st.demoteByte}` : `advskew ${st.effectiveAdvskew}${st.effectiveAdvskew !== st.advskew ? ` (configured ${st.advskew})` : ""}`;
  const demoted = causes.length ? `; demoted by ${causes.join(", ")}` : "";
  const m = st.lastMaster;
  let peer = "";
  if (st.state === "BACKUP" && m && !m.bowOut) {
    peer = `; master ${m.address} advertises ${m.vrrp ? `priority ${m.vrrp.priority}` : st.semantics === "openbsd" ? `demote ${m.demote}` : `advskew ${m.advskew}`}`;
  }
  let hold = "";
  if (st.state === "BACKUP" && st.bootHold) hold = "; startBackup holds preemption";
  else if (st.state === "BACKUP" && st.preemptHoldUntil !== null && (now === undefined || now < st.preemptHoldUntil)) {
    hold = now === undefined ? "; preemptDelay holds preemption" : `; preemptDelay holds preemption ${((st.preemptHoldUntil - now) / 1000).toFixed(1)} s more`;
  }
  if (!st.linkUp) return `${st.state}: interface down${demoted}`;
  return `${st.state} (${st.reason}): we advertise ${skew}${demoted}${peer}${hold}${st.state === "BACKUP" && !st.preempt && !hold ? "; preempt off" : ""}`;
}
