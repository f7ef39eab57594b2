// Renderers: one line per packet (tcpdump's spirit), one JSON object per packet, and the per-vhid
// summary as a table or one JSON document.
import type { Announcement, Row, SummaryView, VhidView } from "./types.js";

/** HH:MM:SS.ffffff in UTC, like `TZ=UTC tcpdump`. */
export function fmtTime(t: number): string {
  const sec = Math.floor(t);
  let us = Math.round((t - sec) * 1e6);
  let s = sec;
  if (us >= 1e6) {
    s += 1;
    us -= 1e6;
  }
  const d = new Date(s * 1000);
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${String(us).padStart(6, "0")}`;
}

export function rowLine(r: Row): string {
  const tail = `${r.src} > ${r.dst} ttl ${r.ttl}${r.ttl !== 255 ? "!" : ""}`;
  let body: string;
  if (r.kind === "carp") {
    const bow = r.advbase === 255 && r.advskew === 255 ? " (bow-out)" : "";
    const type = r.type === 1 ? "" : ` type ${r.type}`;
    body =
      `CARPv${r.version}${type} vhid ${r.vhid} advbase ${r.advbase} advskew ${r.advskew}${bow} demote ${r.demote} ` +
      `counter ${r.counter} cksum ${r.checksum} auth ${r.auth}`;
  } else if (r.kind === "vrrp") {
    const iv = r.version === 2 ? `intvl ${(r.interval_cs ?? 0) / 100}s` : `intvl ${r.interval_cs}cs`;
    body = `VRRPv${r.version} vrid ${r.vhid} prio ${r.priority} ${iv} addrs ${(r.addresses ?? []).join(",") || "-"} cksum ${r.checksum}`;
  } else {
    body = `invalid proto-112 (${r.length} bytes${r.version !== null ? `, version ${r.version}` : ""})`;
  }
  let s = `${fmtTime(r.time)} ${body} ${tail}`;
  if (r.error) s += ` [${r.error}]`;
  if (r.diagnosis) s += ` -- ${r.diagnosis}`;
  for (const n of r.notes) s += ` (${n})`;
  return s;
}

export function announcementLine(a: Announcement, vhid: number | null): string {
  const what = a.kind === "garp" ? "GARP" : "unsolicited NA";
  return `${fmtTime(a.time)} ${what} ${a.vip} is-at ${a.mac}${vhid !== null ? ` (vhid ${vhid})` : ""}`;
}

const q = (s: string | null): string => (s === null ? "null" : JSON.stringify(s));

/**
 * One JSON line; the row keys are the documented --json keys. CARP rows are written by hand (same
 * keys and order as JSON.stringify would give, several times faster); other rows use JSON.stringify.
 */
export function rowJson(r: Row): string {
  if (r.kind !== "carp" || r.priority !== undefined) return JSON.stringify(r);
  // Addresses, MACs and hex fields never need escaping; free text goes through JSON.stringify.
  return (
    `{"time":${r.time},"src":"${r.src}","dst":"${r.dst}","ttl":${r.ttl},"kind":"carp","version":${r.version},` +
    `"type":${r.type},"vhid":${r.vhid},"advbase":${r.advbase},"advskew":${r.advskew},"demote":${r.demote},` +
    `"counter":"${r.counter}","hmac":"${r.hmac}","checksum":"${r.checksum}","auth":"${r.auth}",` +
    `"error":${r.error === null ? "null" : `"${r.error}"`},"diagnosis":${q(r.diagnosis)},` +
    `"src_mac":${r.src_mac === null ? "null" : `"${r.src_mac}"`},"dst_mac":${r.dst_mac === null ? "null" : `"${r.dst_mac}"`},` +
    `"vlan":${r.vlan === null ? "null" : `[${r.vlan.join(",")}]`},"family":${r.family},"length":${r.length},` +
    `"notes":${r.notes.length ? JSON.stringify(r.notes) : "[]"}}`
  );
}

export function announcementJson(a: Announcement, vhid: number | null): string {
  return JSON.stringify({ ...a, vhid });
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

function intervalText(v: VhidView): string {
  const i = v.interval;
  if (i.mean_s === null) return i.expected_s !== null ? `exp ${i.expected_s}s` : "-";
  const j = i.jitter_s !== null ? ` ±${(i.jitter_s * 1000).toFixed(1)}ms` : "";
  return `${i.mean_s.toFixed(3)}s${j}`;
}

/** The summary as a fixed-width table followed by one block of details per vhid. */
export function summaryTable(s: SummaryView): string {
  const head = ["VHID", "PROTO", "MASTER", "MASTER MAC", "BACKUPS SEEN", "BASE/SKEW/DEM", "INTERVAL", "TRANS", "AUTH", "PROBLEMS"];
  const rows: string[][] = s.vhids.map((v) => [
    String(v.vhid),
    v.family === 6 ? `${v.protocol}6` : v.protocol,
    v.master?.ip ?? "-",
    v.master?.mac ?? "-",
    v.backups.join(",") || "-",
    v.protocol === "carp" ? `${v.advbase ?? "-"}/${v.advskew ?? "-"}/${v.demote ?? "-"}` : `prio ${v.sources.find((x) => x.ip === v.master?.ip)?.priority ?? "-"}`,
    intervalText(v),
    String(v.transitions),
    v.auth.status,
    String(v.problems.filter((p) => p.severity !== "info").length),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => pad(c, w[i])).join("  ").trimEnd();
  const out = [line(head), ...rows.map(line)];
  for (const v of s.vhids) {
    const extra: string[] = [];
    if (v.election) extra.push(`  election: ${v.election.winner ?? "tie"} - ${v.election.explanation}`);
    if (v.auth.vips) extra.push(`  VIPs (${v.auth.vips_source}): ${v.auth.vips.join(", ") || "none"}`);
    if (v.auth.diagnosis && !v.problems.some((p) => p.code === "auth")) extra.push(`  auth: ${v.auth.diagnosis}`);
    for (const p of v.problems) extra.push(`  ${p.severity === "info" ? "info" : "problem"} [${p.code}]: ${p.message}`);
    for (const n of v.notes) extra.push(`  note: ${n}`);
    if (extra.length) out.push(`${v.family === 6 ? `${v.protocol}6` : v.protocol} ${v.vhid}:`, ...extra);
  }
  for (const p of s.other_problems) out.push(`${p.severity === "info" ? "info" : "problem"} [${p.code}]: ${p.message}`);
  const c = s.packets;
  out.push(
    `${c.total} protocol-112 packet(s): ${c.carp} CARP, ${c.vrrp} VRRP, ${c.invalid} invalid; ${c.garp} GARP, ${c.na} NA; ` +
      `${s.problems} problem(s)${s.info ? `, ${s.info} info` : ""}`,
  );
  return out.join("\n");
}

export function summaryJson(s: SummaryView): string {
  return JSON.stringify(s);
}
