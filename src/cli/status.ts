// `carp status [--json] [--control PATH]`: asks the running daemon over its control socket.
import { controlRequest } from "../daemon/control.js";
import { DEFAULTS } from "../daemon/config.js";
import type { NodeStatus, VhidReport } from "../daemon/node.js";
import { RuntimeError, UsageError } from "./errors.js";

export const summary = "show each vhid's state, reason, timers and counters from a running daemon";

const USAGE = `usage: carp status [--json] [--control PATH]
  --json          machine-readable output (the daemon's status object)
  --control PATH  the daemon's control socket (default ${DEFAULTS.control})
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
    `  advbase ${v.advbase} advskew ${v.advskew} effective skew ${v.effectiveAdvskew} demotion ${v.demotion.total} (global ${v.demotion.global}, vhid ${v.demotion.vhid}) preempt ${v.preempt ? "on" : "off"} ${v.semantics}${v.linkUp ? "" : " LINK DOWN"}`,
    `  addresses ${v.addresses.join(" ")}${v.manageVip ? "" : " (managed by scripts)"}`,
    `  last master ${v.lastMaster ? `${v.lastMaster.address} advbase ${v.lastMaster.advbase} advskew ${v.lastMaster.advskew}${v.lastMaster.bowOut ? " (bow-out)" : ""}, ${ago(v.lastMaster.agoMs)}` : "none seen"}`,
    `  counters ${Object.entries(v.counters).map(([k, n]) => `${k} ${n}`).join(", ")}`,
  ];
  return lines.join("\n");
}

export function formatStatus(s: NodeStatus): string {
  const parts = s.vhids.map(formatVhid);
  parts.push(`carpstats (pid ${s.pid}, global demotion ${s.globalDemotion}): ${Object.entries(s.carpstats).map(([k, n]) => `${k} ${n}`).join(", ")}`);
  return parts.join("\n") + "\n";
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, { json: false, control: true, help: false });
  if (f.has("help")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const path = (f.get("control") as string | undefined) ?? DEFAULTS.control;
  let res;
  try {
    res = await controlRequest(path, { op: "status" });
  } catch (e) {
    throw new RuntimeError((e as Error).message);
  }
  if (!res.ok) throw new RuntimeError(res.error);
  const st = res.status as NodeStatus;
  process.stdout.write(f.has("json") ? JSON.stringify(st, null, 2) + "\n" : formatStatus(st));
  return 0;
}
