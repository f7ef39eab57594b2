// Text rendering for the demo: the live table (state per node, VIP owner, adverts), event lines and
// the final report. Plain text; colour only when asked (a terminal).
import type { DemoEvent, DemoReport, Snapshot } from "./demo-scenario.js";
import { fmtS } from "./demo-scenario.js";

export interface Style {
  color: boolean;
}

const paint = (on: boolean, code: string, s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

function stateCell(st: Style, state: string): string {
  const s = state.padEnd(7);
  if (state === "MASTER") return paint(st.color, "1;32", s);
  if (state === "BACKUP") return paint(st.color, "33", s);
  return paint(st.color, "2", s);
}

/** The live table: one row per node plus the VIP owner line. */
export function renderTable(s: Snapshot, st: Style = { color: false }): string {
  const lines = [
    "  node  impl   address         advskew  state    adverts  last advert  has VIP",
    ...s.rows.map((r) =>
      [
        "  " + r.name.padEnd(5),
        r.impl === "carp" ? "carp " : r.impl.padEnd(5),
        r.addr.padEnd(15),
        String(r.advskew).padStart(7),
        stateCell(st, r.state),
        String(r.adverts).padStart(8),
        (r.lastAdvertAgo === null ? "-" : `${(r.lastAdvertAgo / 1000).toFixed(1)} s ago`).padStart(11),
        r.hasVip ? (r.state === "STOPPED" ? "stale (node down)" : "yes") : "",
      ].join("  "),
    ),
    `  VIP ${s.vip} answered (ARP, from the observer) by: ${s.vipOwner ?? "nobody"}`,
  ];
  return lines.join("\n");
}

export function renderEvent(e: DemoEvent, t0: number, st: Style = { color: false }): string {
  const at = (t: number) => `[${((t - t0) / 1000).toFixed(2).padStart(6)} s]`;
  switch (e.kind) {
    case "phase":
      return `${at(Date.now())} == ${e.phase}: ${e.title}`;
    case "result":
      return `${at(Date.now())} ${e.result.ok ? paint(st.color, "32", "ok  ") : paint(st.color, "1;31", "FAIL")} ${e.result.phase}: ${e.result.detail}`;
    case "transition":
      return `${at(e.t)}    ${e.node} -> ${e.to}`;
    case "note":
      return `${at(Date.now())}    ${e.text}`;
  }
}

/** The short report printed at the end (also what the README quotes). */
export function renderReport(r: DemoReport): string {
  const impls = [...new Set(r.nodes.map((n) => n.impl))].join(" + ");
  const out = [
    `carp demo report — ${r.startedAt} — ${impls} in network namespaces, vhid ${r.vhid}, VIP ${r.vip}`,
    `  nodes: ${r.nodes.map((n) => `${n.name} ${n.impl} ${n.addr} advskew ${n.advskew}${n.preempt ? " preempt" : ""}`).join("; ")}`,
  ];
  for (const p of r.phases) out.push(`  ${p.ok ? "ok  " : "FAIL"} ${p.phase.padEnd(9)} ${p.detail}`);
  const m = Object.assign({}, ...r.phases.map((p) => p.measured ?? {})) as Record<string, number>;
  if (m.takeoverMs !== undefined) {
    out.push(`  takeover after a crash: ${fmtS(m.takeoverMs)} on the wire (protocol master-down ${fmtS(m.masterDownMs)}, difference ${((m.takeoverMs - m.masterDownMs) / 1000).toFixed(3)} s)`);
  }
  if (m.handoverMs !== undefined) out.push(`  graceful handover: ${fmtS(m.handoverMs)} from command to new master's first advert`);
  out.push(`  adverts captured by the observer: ${Object.entries(r.adverts).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  if (r.inspect) {
    out.push(
      `  observer's carp inspect --summary: ${r.inspect.packets} packets, final master ${r.inspect.master ?? "none"}${r.finalMaster && r.inspect.master !== r.finalMaster ? ` (the capture's last advertiser is ${r.finalMaster})` : ""}, ${r.inspect.transitions} master changes seen, mean interval ${r.inspect.interval_mean_s === null ? "n/a" : `${r.inspect.interval_mean_s.toFixed(3)} s`}, ${r.inspect.problems} problem(s)`,
    );
    for (const p of r.inspect.problemList.slice(0, 5)) out.push(`    - ${p}`);
  }
  out.push(`  result: ${r.ok ? "all phases passed" : "FAILED"}`);
  return out.join("\n");
}
