// One-paragraph answer to "why is this vhid in this state?", built only from a status snapshot.
import type { VhidStatus } from "./types.js";

const at = (t: number | null, now?: number) => (t === null ? "" : now === undefined ? ` at ${t} ms` : ` ${((now - t) / 1000).toFixed(1)} s ago`);

export function explain(st: VhidStatus, now?: number): string {
  const parts: string[] = [];
  const since = st.since === null ? "" : now === undefined ? ` since ${st.since} ms` : ` for ${((now - st.since) / 1000).toFixed(1)} s`;
  parts.push(`vhid ${st.vhid} is ${st.state}${since}: ${st.reason}.`);
  const adv = `advbase ${st.advbase} advskew ${st.advskew}`;
  const d = st.demotion;
  if (st.semantics === "openbsd") {
    parts.push(`We advertise ${adv}, demote ${st.demoteByte}${d.total ? ` (global ${d.global}, vhid ${d.vhid})` : ""}.`);
  } else if (st.effectiveAdvskew !== st.advskew) {
    parts.push(`We advertise advbase ${st.advbase} advskew ${st.effectiveAdvskew} (configured ${st.advskew}, demotion ${d.total}: global ${d.global}, vhid ${d.vhid}).`);
  } else parts.push(`We advertise ${adv}.`);
  parts.push(`Preempt is ${st.preempt ? "on" : "off"}; ${st.semantics} rules.`);
  if (!st.linkUp) parts.push("The interface is down.");
  const m = st.lastMaster;
  if (m) {
    const what = m.bowOut ? "a bow-out" : `advbase ${m.advbase} advskew ${m.advskew}${st.semantics === "openbsd" ? ` demote ${m.demote}` : ""}`;
    parts.push(`Last advertisement from another node: ${m.address} (${what})${at(m.at, now)}.`);
  } else parts.push("No advertisement from another node has been received.");
  return parts.join(" ");
}
