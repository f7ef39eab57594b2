// `carp status [--json] [--control PATH]`: asks the running daemon over its control socket.
import { basename } from "node:path";
import { CONTROL_DIR, controlRequest, listControlSockets } from "../daemon/control.js";
import type { NodeStatus, VhidReport } from "../daemon/node.js";
import type { MetricsInput } from "../daemon/metrics.js";
import { RuntimeError, UsageError } from "./errors.js";

export const summary = "show each vhid's state, reason, timers and counters from a running daemon";

const USAGE = `usage: carp status [--json | --prometheus] [--control PATH]
  --json          machine-readable output (the daemon's status object)
  --prometheus    Prometheus text format (the same metrics as the daemon's /metrics endpoint), e.g. for
                  node_exporter's textfile collector: carp status --prometheus > DIR/carp.prom.$$ && mv …
  --control PATH  one daemon's control socket; default: every socket in ${CONTROL_DIR}
                  (this network namespace's run directory: carp.sock for config files,
                  <if>-<vhid>.sock for ucarp-style runs)
Exit 0 when every daemon answered, 1 when one is gone (stale socket) or none runs.
`;

/** Parses --flag value / --flag=value; returns the flags map or throws UsageError. */
export function parseFlags(argv: string[], spec: Record<string, boolean>): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new UsageError(`unexpected argument ${JSON.stringify(a)}`);
    const eq = a.indexOf("=");
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (!(name in spec)) throw new UsageError(`--${name}: unknown option`);
    if (spec[name]) {
      const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`--${name}: requires a value`);
      out.set(name, v);
    } else {
      if (eq >= 0) throw new UsageError(`--${name}: takes no value`);
      out.set(name, true);
    }
  }
  return out;
}

function ago(ms: number): string {
  return ms < 10_000 ? `${ms} ms ago` : `${(ms / 1000).toFixed(1)} s ago`;
}

export function formatVhid(v: VhidReport): string {
  const lines = [
    `vhid ${v.vhid} on ${v.interface}: ${v.state} (${v.reason})${v.since ? ` since ${new Date(v.since).toISOString()}` : ""}`,
    ...(v.why ? [`  why: ${v.why}`] : []),
    ...(v.groups?.length ? [`  groups ${v.groups.join(" ")}`] : []),
    v.vrrp
      ? `  VRRPv3 priority ${v.vrrp.priority} effective ${v.vrrp.effectivePriority} interval ${v.vrrp.intervalCs} cs (master's ${v.vrrp.masterIntervalCs} cs, master-down ${v.vrrp.masterDownMs} ms) demotion ${v.demotion.total} preempt ${v.preempt ? "on" : "off"} checksum ${v.vrrp.checksum} no authentication${v.linkUp ? "" : " LINK DOWN"}`
      : `  advbase ${v.advbase} advskew ${v.advskew} effective skew ${v.effectiveAdvskew} demotion ${v.demotion.total} (global ${v.demotion.global}, vhid ${v.demotion.vhid}) preempt ${v.preempt ? "on" : "off"} ${v.semantics}${v.linkUp ? "" : " LINK DOWN"}`,
    `  addresses ${v.addresses.join(" ")}${v.vmac ? ` on ${v.vmac.name}` : ""}${v.manageVip ? "" : " (managed by scripts)"}${v.vipError ? ` CANNOT ADD: ${v.vipError}` : ""}`,
    ...(v.vmac ? [`  vmac ${v.vmac.name} ${v.vmac.mac} link ${v.vmac.up ? "UP" : "DOWN"} (operstate ${v.vmac.operstate})${v.vmac.error ? ` ${v.vmac.error}` : ""}`] : []),
    `  last master ${v.lastMaster ? `${v.lastMaster.address} ${v.vrrp ? `priority ${v.vrrp.lastPriority}` : `advbase ${v.lastMaster.advbase} advskew ${v.lastMaster.advskew}`}${v.lastMaster.bowOut ? " (bow-out)" : ""}, ${ago(v.lastMaster.agoMs)}` : "none seen"}`,
    ...(v.vrrp && Object.keys(v.vrrp.peers).length ? [`  peer checksums ${Object.entries(v.vrrp.peers).map(([a, c]) => `${a} ${c}`).join(", ")}`] : []),
    ...(v.antiReplay ? [`  antiReplay on, highest counter ${v.antiReplay.highest}${v.antiReplay.warning ? `; ${v.antiReplay.warning}` : ""}`] : []),
    `  counters ${Object.entries(v.counters).map(([k, n]) => `${k} ${n}`).join(", ")}`,
  ];
  return lines.join("\n");
}

export function formatStatus(s: NodeStatus): string {
  const parts = s.vhids.map(formatVhid);
  const pids = (s as NodeStatus & { pids?: number[] }).pids ?? [s.pid];
  parts.push(`carpstats (pid ${pids.join(", ")}, global demotion ${s.globalDemotion}): ${Object.entries(s.carpstats).map(([k, n]) => `${k} ${n}`).join(", ")}`);
  for (const e of s.ledger ?? []) parts.push(`  demotion ${e.value > 0 ? "+" : ""}${e.value} ${e.source}${e.group !== undefined ? ` (group ${e.group})` : ""} since ${new Date(e.since).toISOString()}: ${e.reason}`);
  for (const c of s.checks ?? []) {
    const state = c.up === null ? "PENDING" : c.up ? "UP" : "DOWN";
    const since = c.since ? ` since ${new Date(c.since).toISOString()}` : "";
    const scope = c.scope === "global" ? "every vhid" : c.scope.join(" ");
    parts.push(`check ${c.name} (${c.kind}, weight ${c.weight}, fall ${c.fall} rise ${c.rise}, for ${scope}): ${state}${since}${c.demotion ? `, demoting ${c.demotion}` : ""}; last: ${c.detail}${c.durationMs !== null ? ` (${c.durationMs} ms)` : ""}`);
  }
  return parts.join("\n") + "\n";
}

/**
 * Asks one daemon (--control) or every daemon with a socket in the run directory; merged into one status.
 * `errors`: one line per socket that did not answer (a stale socket names the daemon that is gone).
 */
export async function collectStatus(control: string | undefined): Promise<{ status: NodeStatus; sockets: string[]; errors: string[] }> {
  const paths = control !== undefined ? [control] : listControlSockets();
  if (paths.length === 0) throw new RuntimeError(`no carp daemon found (no socket in ${CONTROL_DIR}); use --control PATH`);
  const answers: Array<{ path: string; status: NodeStatus }> = [];
  const errors: string[] = [];
  for (const path of paths) {
    try {
      const res = await controlRequest(path, { op: "status" });
      if (res.ok) answers.push({ path, status: res.status as NodeStatus });
      else errors.push(`${path}: ${res.error}`);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      // A socket file nobody listens on: its daemon died without cleaning up (SIGKILL, crash).
      errors.push(control === undefined && err.code === "ECONNREFUSED" ? `${path}: stale control socket: the daemon ${basename(path, ".sock")} is gone (not running; remove the file if it is not coming back)` : err.message);
    }
  }
  // With --control the one daemon must answer; when scanning, the live ones are shown and the gone ones named.
  if (answers.length === 0 || (control !== undefined && errors.length)) throw new RuntimeError(errors.join("; ") || "no answer");
  const first = answers[0].status;
  const carpstats = { ...first.carpstats };
  for (const a of answers.slice(1)) for (const [k, v] of Object.entries(a.status.carpstats)) carpstats[k as keyof typeof carpstats] += v;
  const status: NodeStatus & { pids: number[]; sockets: string[] } = {
    pid: first.pid,
    pids: answers.map((a) => a.status.pid),
    sockets: answers.map((a) => a.path),
    startedAt: Math.min(...answers.map((a) => a.status.startedAt)),
    globalDemotion: Math.max(...answers.map((a) => a.status.globalDemotion)),
    ledger: answers.flatMap((a) => a.status.ledger ?? []),
    checks: answers.flatMap((a) => a.status.checks ?? []),
    carpstats,
    vhids: answers.flatMap((a) => a.status.vhids.map((v) => ({ ...v, control: a.path }))),
  };
  return { status, sockets: status.sockets, errors };
}

/** --prometheus: every daemon's metrics snapshot, merged into one exposition. */
async function prometheus(control: string | undefined): Promise<number> {
  const paths = control !== undefined ? [control] : listControlSockets();
  if (paths.length === 0) throw new RuntimeError(`no carp daemon found (no socket in ${CONTROL_DIR}); use --control PATH`);
  const got: MetricsInput[] = [];
  const errors: string[] = [];
  for (const path of paths) {
    try {
      const res = await controlRequest(path, { op: "metrics" });
      if (res.ok) got.push(res.metrics as MetricsInput);
      else errors.push(`${path}: ${res.error}`);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (got.length === 0 || (control !== undefined && errors.length)) throw new RuntimeError(errors.join("; ") || "no answer");
  const { mergeMetrics, renderMetrics } = await import("../daemon/metrics.js"); // node:http only for --prometheus
  process.stdout.write(renderMetrics(mergeMetrics(got)));
  for (const e of errors) process.stderr.write(`carp status: ${e}\n`);
  return errors.length ? 1 : 0;
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, { json: false, prometheus: false, control: true, help: false });
  if (f.has("help")) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (f.has("json") && f.has("prometheus")) throw new UsageError("--json and --prometheus: choose one");
  if (f.has("prometheus")) return prometheus(f.get("control") as string | undefined);
  const { status, errors } = await collectStatus(f.get("control") as string | undefined);
  process.stdout.write(f.has("json") ? JSON.stringify(status, null, 2) + "\n" : formatStatus(status));
  for (const e of errors) process.stderr.write(`carp status: ${e}\n`);
  return errors.length ? 1 : 0;
}
