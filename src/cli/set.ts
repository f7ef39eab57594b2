// `carp set --vhid N [--interface IF] --advskew N | --advbase N | --state master|backup | --preempt on|off
// | --demote ±N [--control PATH]`: changes a running vhid at once (like `ifconfig carp0 advskew 30`).
// `carp set --demote ±N` (no --vhid) moves the global demotion (sysctl net.inet.carp.demotion) and
// `carp set --group NAME --demote ±N` the demotion of a group (OpenBSD `ifconfig -g NAME carpdemote N`).
import { listControlSockets } from "../daemon/control.js";
import type { NodeStatus } from "../daemon/node.js";
import { controlRequest } from "../daemon/control.js";
import type { SetRequest, VhidReport } from "../daemon/node.js";
import { RuntimeError, UsageError } from "./errors.js";
import { collectStatus, formatVhid, parseFlags } from "./status.js";

export const summary = "change advskew, advbase, state, preempt or demotion of a running vhid";

const USAGE = `usage: carp set --vhid N [--interface IF] [--control PATH] <change>...
       carp set [--group NAME] --demote +N|-N [--control PATH]
  without --vhid: --demote moves the global demotion of every vhid (FreeBSD net.inet.carp.demotion);
  with --group NAME only the vhids in that demotion group (YAML group:, OpenBSD carpdemote)
  -v N, -i IF, -k N, -b N, -P: the short flags of carp run (--vhid, --interface, --advskew, --advbase,
  --preempt on); values attached or separate (-v7, -v 7)
  --advskew N             0-254 (ucarp semantics 0-255)
  --advbase N             1-255 (0 allowed for ucarp/openbsd semantics)
  --state master|backup   force the state (like ifconfig ... state master)
  --preempt on|off        take over from slower masters
  --demote +N|-N          add to the vhid's demotion (advertised skew goes up with it)
  --control PATH          the daemon's control socket (default: the daemon in /run/carp or $CARP_RUN_DIR that has the vhid)
`;

function int(flag: string, v: string, signed = false): number {
  if (!(signed ? /^[+-]?\d+$/ : /^\d+$/).test(v)) throw new UsageError(`--${flag}: must be ${signed ? "a signed " : "an "}integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** `carp run`'s short flags that mean the same here. */
const SHORT: Record<string, { long: string; value?: string }> = {
  v: { long: "vhid" },
  i: { long: "interface" },
  k: { long: "advskew" },
  b: { long: "advbase" },
  P: { long: "preempt", value: "on" },
  h: { long: "help", value: "" },
};

/** Rewrites short flags (`-v7`, `-v 7`, `-Pk 30`) into the long form parseFlags reads. */
export function expandShortFlags(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!/^-[^-\d]/.test(a)) { // "-50" is a value (--demote -50), not flags
      out.push(a);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const s = SHORT[a[j]];
      if (!s) throw new UsageError(`-${a[j]}: unknown option (carp set knows -v, -i, -k, -b, -P)`);
      if (s.value !== undefined) {
        out.push(s.value ? `--${s.long}=${s.value}` : `--${s.long}`);
        continue;
      }
      const v = j + 1 < a.length ? a.slice(j + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`-${a[j]} (--${s.long}): requires a value`);
      out.push(`--${s.long}=${v}`);
      break;
    }
  }
  return out;
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(expandShortFlags(argv), { group: true, vhid: true, interface: true, control: true, advskew: true, advbase: true, state: true, preempt: true, demote: true, json: false, help: false });
  if (f.has("help")) {
    process.stdout.write(USAGE);
    return 0;
  }
  const get = (k: string) => f.get(k) as string | undefined;
  if (get("vhid") === undefined && (get("demote") !== undefined || get("group") !== undefined)) return demoteGlobal(f);
  if (get("group") !== undefined) throw new UsageError("--group: not with --vhid (a group is a set of vhids)");
  if (get("vhid") === undefined) throw new UsageError("--vhid: required");
  const vhid = int("vhid", get("vhid")!);
  if (vhid < 1 || vhid > 255) throw new UsageError(`--vhid: must be 1-255, got ${vhid}`);
  const req: SetRequest = { vhid };
  if (get("interface") !== undefined) req.interface = get("interface");
  if (get("advskew") !== undefined) req.advskew = int("advskew", get("advskew")!);
  if (get("advbase") !== undefined) req.advbase = int("advbase", get("advbase")!);
  if (get("demote") !== undefined) req.demote = int("demote", get("demote")!, true);
  const state = get("state");
  if (state !== undefined) {
    if (state !== "master" && state !== "backup") throw new UsageError(`--state: must be master or backup, got ${JSON.stringify(state)}`);
    req.state = state;
  }
  const pre = get("preempt");
  if (pre !== undefined) {
    if (!["on", "off", "true", "false", "yes", "no"].includes(pre)) throw new UsageError(`--preempt: must be on or off, got ${JSON.stringify(pre)}`);
    req.preempt = pre === "on" || pre === "true" || pre === "yes";
  }
  if (Object.keys(req).filter((k) => k !== "vhid" && k !== "interface").length === 0) {
    throw new UsageError("nothing to change: give --advskew, --advbase, --state, --preempt or --demote");
  }
  // Without --control: the daemon (socket in /run/carp) that runs this vhid.
  let path = get("control");
  if (path === undefined) {
    const { status } = await collectStatus(undefined);
    const hits = status.vhids.filter((v) => v.vhid === vhid && (req.interface === undefined || v.interface === req.interface));
    if (hits.length === 0) throw new UsageError(`--vhid: no running daemon has vhid ${vhid}${req.interface ? ` on ${req.interface}` : ""}`);
    const sockets = [...new Set(hits.map((h) => (h as VhidReport & { control: string }).control))];
    if (sockets.length > 1) throw new UsageError(`--vhid: vhid ${vhid} runs in several daemons (${sockets.join(", ")}); add --interface or --control`);
    path = sockets[0];
  }
  let res;
  try {
    res = await controlRequest(path, { op: "set", ...req });
  } catch (e) {
    throw new RuntimeError((e as Error).message);
  }
  if (!res.ok) throw res.kind === "usage" ? new UsageError(res.error) : new RuntimeError(res.error);
  const v = res.vhid as VhidReport;
  process.stdout.write(f.has("json") ? JSON.stringify(v, null, 2) + "\n" : formatVhid(v) + "\n");
  return 0;
}

/** `carp set [--group NAME] --demote ±N`: every daemon found (or --control) applies it; the group must exist in one. */
async function demoteGlobal(f: Map<string, string | true>): Promise<number> {
  const get = (k: string) => f.get(k) as string | undefined;
  const other = [...f.keys()].find((k) => !["demote", "group", "control", "json"].includes(k));
  if (other !== undefined) throw new UsageError(`--${other}: needs --vhid (without it only --demote and --group apply)`);
  if (get("demote") === undefined) throw new UsageError("--demote: required with --group");
  const delta = int("demote", get("demote")!, true);
  const group = get("group");
  if (group !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(group)) throw new UsageError(`--group: not a group name (letters, digits, . _ -): ${JSON.stringify(group)}`);
  const paths = get("control") !== undefined ? [get("control")!] : listControlSockets();
  if (paths.length === 0) throw new RuntimeError("no carp daemon found; use --control PATH");
  const done: NodeStatus[] = [];
  const errors: { usage: boolean; msg: string }[] = [];
  for (const path of paths) {
    try {
      const res = await controlRequest(path, { op: "demote", delta, ...(group !== undefined ? { group } : {}) });
      if (res.ok) done.push(res.status as NodeStatus);
      else errors.push({ usage: res.kind === "usage", msg: paths.length > 1 ? `${path}: ${res.error}` : res.error });
    } catch (e) {
      errors.push({ usage: false, msg: `${path}: ${(e as Error).message}` });
    }
  }
  if (done.length === 0) {
    const msg = errors.map((e) => e.msg).join("; ");
    throw errors.every((e) => e.usage) ? new UsageError(msg) : new RuntimeError(msg);
  }
  if (f.has("json")) process.stdout.write(JSON.stringify(done.length === 1 ? done[0] : done, null, 2) + "\n");
  else {
    for (const st of done) {
      const src = group !== undefined ? `group:${group}` : "user";
      const e = st.ledger.find((x) => x.source === src);
      process.stdout.write(`${group !== undefined ? `group ${group}` : "global"} demotion (pid ${st.pid}): ${e ? e.value : 0}\n`);
      for (const v of st.vhids) process.stdout.write(`  vhid ${v.vhid} on ${v.interface}: ${v.why ?? v.state}\n`);
    }
  }
  return 0;
}
