// `carp check`: validates a `carp run` command line the way a start would, without starting anything
// (like `keepalived -t`), and prints what would run. `carp run` uses the same loader and checks: in the
// foreground for the capabilities, and all of them before `-B` forks.
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { basename, delimiter, dirname, isAbsolute, join } from "node:path";
import { loadConfigFromArgv, parseUcarpArgv, UCARP_USAGE } from "../daemon/config-ucarp.js";
import { DEFAULTS, type Config, type VhidConfig } from "../daemon/config.js";
import { CONTROL_DIR, defaultControlFor, socketAlive } from "../daemon/control.js";
import { interfaceInfo } from "../daemon/l2.js";
import { parseDevdConf } from "../host/devd.js";
import { checkSysctls, describeCheck, vmacRules } from "../host/sysctl.js";
import { vmacName } from "../host/vmac.js";
import { virtualMac } from "../protocol/link.js";
import { CarpAuth, isHmacError } from "../protocol/hmac.js";
import { UsageError } from "./errors.js";
import { readReplayFile } from "../daemon/replay.js";

export const summary = "validate a `carp run` configuration without starting it and print what would run";

export interface RunConfig {
  cfg: Config;
  warnings: string[];
  /** Warnings the daemon logs (stdout/syslog/journal) rather than printing on stderr at start. */
  notices: string[];
  /** --pidfile FILE */
  pidfile?: string;
}

/**
 * `carp run`'s configuration from its argv (null for --help). Throws UsageError. A ucarp-style command line
 * (no --control, no config file) gets a socket of its own, so several single-vhid processes can run side
 * by side exactly as several ucarps do: <run dir>/<if>-<vhid>.sock (see CONTROL_DIR).
 */
export function loadRunConfig(argv: string[]): RunConfig | null {
  const r = loadConfigFromArgv(argv);
  if (!r.ok) throw new UsageError(r.error);
  if (r.value.help) return null;
  const { help: _h, ...cfg } = r.value;
  const warnings = [...r.warnings];
  const p = parseUcarpArgv(argv);
  if (p.ok && p.value.global.control === undefined && p.value.configFile === undefined && p.value.rcConfFile === undefined && cfg.vhids.length === 1) {
    cfg.control = defaultControlFor(cfg.vhids[0].interface, cfg.vhids[0].vhid);
  } else if (cfg.control === DEFAULTS.control && CONTROL_DIR !== dirname(DEFAULTS.control)) {
    cfg.control = join(CONTROL_DIR, basename(DEFAULTS.control));
  }
  const notices: string[] = [];
  if (p.ok && p.value.vhid?.password !== undefined) {
    notices.push("--pass: the password is visible to every local user in ps and /proc/<pid>/cmdline; use --passfile FILE instead");
  }
  return { cfg, warnings, notices, pidfile: p.ok ? p.value.pidfile : undefined };
}

// ---- capabilities -------------------------------------------------------------------------------

export const CAP_NET_ADMIN = 12;
export const CAP_NET_RAW = 13;

/** The effective capability set of this process (CapEff in /proc/self/status), or null if unreadable. */
export function effectiveCaps(statusText?: string): bigint | null {
  let text = statusText;
  try {
    text ??= readFileSync("/proc/self/status", "utf8");
  } catch {
    return null;
  }
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(text);
  return m ? BigInt(`0x${m[1]}`) : null;
}

/**
 * What the daemon needs: CAP_NET_RAW always (raw IP and packet sockets), CAP_NET_ADMIN only when it adds
 * and removes VIPs itself (`--no-manage-vip` everywhere leaves that to the scripts, which need their own
 * privileges). The uid does not matter. One line per missing capability.
 */
export function capabilityProblems(cfg: Pick<Config, "vhids">, caps: bigint | null = effectiveCaps()): string[] {
  if (caps === null) return ["cannot read the effective capabilities (CapEff in /proc/self/status)"];
  const has = (bit: number) => (caps >> BigInt(bit)) & 1n;
  const out: string[] = [];
  if (!has(CAP_NET_RAW)) out.push("missing capability CAP_NET_RAW (raw CARP and ARP/NDP sockets): run as root or grant CAP_NET_RAW");
  const vips = cfg.vhids.filter((v) => v.manageVip);
  if (vips.length && !has(CAP_NET_ADMIN)) {
    out.push(`missing capability CAP_NET_ADMIN (adding the VIPs of vhid ${vips.map((v) => v.vhid).join(", ")}): run as root, grant CAP_NET_ADMIN, or use --no-manage-vip`);
  }
  return out;
}

// ---- the rest of what a start checks -----------------------------------------------------------

/** Problem text for a program that must exist and be executable, or null when it is fine. */
function notExecutable(file: string): string | null {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    return `${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : (e as NodeJS.ErrnoException).code}`;
  }
  if (!st.isFile()) return `${file}: not a regular file`;
  try {
    accessSync(file, constants.X_OK);
  } catch {
    return `${file}: not executable`;
  }
  if ((st.mode & 0o111) === 0) return `${file}: not executable`; // root passes access(X_OK) only with an x bit
  return null;
}

// devd actions run through /bin/sh -c: a first word that is a builtin needs no program.
const SH_BUILTINS = new Set(["echo", "printf", "true", "false", ":", "test", "[", "exec", "exit", "set", "export", "cd", "eval", "kill", "read", "sleep", "if", "for", "while", "case", "{", "("]);

/** The program of a devd action (first word), resolved in PATH; null when fine or not checkable. */
function devdActionProblem(action: string): string | null {
  const word = /^\s*(\S+)/.exec(action)?.[1];
  if (!word || SH_BUILTINS.has(word) || /[$`=]/.test(word)) return null; // variables are expanded per event
  if (word.includes("/")) return notExecutable(isAbsolute(word) ? word : join(process.cwd(), word));
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(delimiter)) {
    if (dir && !notExecutable(join(dir, word))) return null;
  }
  return `${word}: not found in PATH`;
}

/** The addresses a vhid hashes must suit its peers (same rule as the daemon's start). */
function authProblem(v: VhidConfig): string | null {
  const v4 = v.addresses.filter((a) => a.family === 4).map((a) => a.address);
  const v6 = v.addresses.filter((a) => a.family === 6).map((a) => a.address);
  if (v.semantics === "ucarp" && v4.length === 0) return `--addr: vhid ${v.vhid}: ucarp peers need an IPv4 virtual address (use --semantics freebsd for IPv6-only)`;
  const a = CarpAuth.create({ vhid: v.vhid, v4: v.semantics === "ucarp" ? v4.slice(0, 1) : v4, v6: v.semantics === "ucarp" ? [] : v6, password: v.password, semantics: v.semantics });
  return isHmacError(a) ? `--addr: vhid ${v.vhid}: ${a.error}` : null;
}

/** The pid in `file` when that process is alive (and not us), else null. */
export function livePidIn(file: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(file, "utf8").trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM" ? pid : null;
  }
}

/** The nearest existing directory at or above `dir` is writable (the daemon creates the rest). */
function dirProblem(path: string, flag: string): string | null {
  let d = dirname(path);
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  try {
    accessSync(d, constants.W_OK);
    return null;
  } catch {
    return `${flag}: cannot create ${path}: ${d} is not writable`;
  }
}

/**
 * Everything `carp run` would refuse, one line each (empty = valid): interfaces, addresses vs semantics,
 * hook scripts, devd.conf and its actions' programs, the control socket, the pidfile, capabilities.
 */
export async function runProblems(rc: RunConfig): Promise<string[]> {
  const { cfg } = rc;
  const out: string[] = [];
  for (const ifname of new Set(cfg.vhids.map((v) => v.interface))) {
    const info = await interfaceInfo(ifname);
    if (!info.ok) out.push(info.code === "ENODEV" ? `--interface: no such interface ${JSON.stringify(ifname)}` : `--interface ${ifname}: ${info.error}`);
  }
  for (const v of cfg.vhids) {
    const a = authProblem(v);
    if (a) out.push(a);
    for (const [flag, file] of [["--upscript", v.upscript], ["--downscript", v.downscript]] as const) {
      const p = file === undefined ? null : notExecutable(file);
      if (p) out.push(`${flag} (vhid ${v.vhid}): ${p}`);
    }
  }
  if (cfg.devdConf !== undefined) {
    let text: string | null = null;
    try {
      text = readFileSync(cfg.devdConf, "utf8");
    } catch (e) {
      out.push(`--devd-conf: cannot read ${cfg.devdConf}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (text !== null) {
      const d = parseDevdConf(text);
      if (!d.ok) out.push(`--devd-conf ${cfg.devdConf}: ${d.error}`);
      else {
        for (const rule of d.value.rules) {
          for (const action of rule.actions) {
            const p = devdActionProblem(action);
            if (p) out.push(`--devd-conf ${cfg.devdConf} line ${rule.line}: action ${JSON.stringify(action)}: ${p}`);
          }
        }
      }
    }
  }
  if (await socketAlive(cfg.control)) out.push(`--control: ${cfg.control} is in use by another carp daemon (choose another --control PATH)`);
  else {
    const p = dirProblem(cfg.control, "--control");
    if (p) out.push(p);
  }
  if (rc.pidfile !== undefined) {
    const pid = livePidIn(rc.pidfile);
    if (pid !== null) out.push(`--pidfile: ${rc.pidfile} belongs to running process ${pid}`);
    else {
      const p = dirProblem(rc.pidfile, "--pidfile");
      if (p) out.push(p);
    }
  }
  out.push(...capabilityProblems(cfg));
  return out;
}

/** antiReplay: what the last run of this configuration saw (peers whose counters did not rise), from its state file. */
export function replayWarnings(cfg: Config): string[] {
  if (!cfg.vhids.some((v) => v.antiReplay)) return [];
  const kept = readReplayFile(`${cfg.control}.replay.json`);
  return cfg.vhids.filter((v) => v.antiReplay).flatMap((v) => {
    const w = kept.get(`${v.interface}/${v.vhid}`)?.warning;
    return w ? [`antiReplay: ${w} (OpenBSD's constant cookie and ucarp's random counters cannot be used with antiReplay; or someone replayed them)`] : [];
  });
}

/** The sysctls virtual MAC mode needs for one vhid, read now. */
function vmacSysctls(v: VhidConfig) {
  return checkSysctls(vmacRules(v.interface, vmacName(v), v.addresses.some((a) => a.family === 6)));
}

/** Wrong sysctls of vmac vhids: warnings (the daemon warns too, and sets them with --fix-sysctls). */
export function sysctlWarnings(cfg: Config): string[] {
  if (cfg.fixSysctls) return [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const v of cfg.vhids.filter((x) => x.vmac)) {
    for (const c of vmacSysctls(v)) if (!c.ok && !seen.has(c.key)) {
      seen.add(c.key);
      out.push(describeCheck(c));
    }
  }
  return out;
}

/** What would run, one block per vhid. */
export function describeRun(rc: RunConfig): string {
  const { cfg } = rc;
  const lines: string[] = [];
  for (const v of cfg.vhids) {
    const hooks = [v.upscript && `up ${v.upscript}`, v.downscript && `down ${v.downscript}`].filter(Boolean).join(", ");
    lines.push(
      `vhid ${v.vhid} on ${v.interface}: addresses ${v.addresses.map((a) => `${a.address}/${a.prefix}`).join(" ") || "none"}${v.manageVip ? "" : " (managed by scripts)"}`,
      v.vrrp
        ? `  VRRPv3 priority ${v.vrrp.priority}${v.vrrp.priority === 255 ? " (address owner)" : ""} interval ${v.vrrp.intervalCs} cs preempt ${v.preempt ? "on" : "off"} IPv4 checksum ${v.vrrp.checksum === "pseudo" ? "RFC 5798 (pseudo-header)" : "VRRPv2-style (v3_checksum_as_v2)"}; no authentication: VRRPv3 has none, anyone on the link can send adverts`
        : `  advbase ${v.advbase} advskew ${v.advskew} preempt ${v.preempt ? "on" : "off"} semantics ${v.semantics} deadratio ${v.deadratio}${v.password.length ? " password set" : " no password"}`,
      `  adverts to ${v.peer ?? v.mcast}${v.addresses.some((a) => a.family === 6) ? ` and ${v.peer6 ?? v.mcast6}` : ""}${v.nomcast ? " (layer-2 broadcast)" : ""}`,
      `  hooks ${hooks || "none"}${hooks ? ` (${v.hookMode}, timeout ${v.hookTimeoutMs} ms)` : ""}`,
    );
    if (v.vmac) {
      lines.push(`  virtual MAC ${virtualMac(v.vhid)} on ${vmacName(v)} (macvlan of ${v.interface}, up on MASTER only)`);
      for (const c of vmacSysctls(v)) lines.push(`  sysctl ${c.key} = ${c.value ?? "?"}${c.inherited ? " (from default)" : ""}${c.ok ? "" : ` WRONG, set ${c.set}${cfg.fixSysctls ? " (--fix-sysctls will)" : ""}`}`);
    }
    if (v.antiReplay) lines.push(`  antiReplay on: every peer must copy counters (FreeBSD or carp); OpenBSD and ucarp peers cannot be used`);
  }
  lines.push(`control socket ${cfg.control}`);
  if (cfg.devdConf !== undefined) lines.push(`devd.conf ${cfg.devdConf}`);
  if (rc.pidfile !== undefined) lines.push(`pidfile ${rc.pidfile}`);
  lines.push(`log ${cfg.logFormat} to stdout, syslog facility ${cfg.facility}${cfg.daemonize ? ", daemonized (-B)" : ""}`);
  return lines.join("\n") + "\n";
}

export async function run(argv: string[]): Promise<number> {
  let rc: RunConfig | null;
  try {
    rc = loadRunConfig(argv);
  } catch (e) {
    process.stderr.write(`carp check: ${(e as Error).message}\n`);
    return 2;
  }
  if (rc === null) {
    process.stdout.write(`usage: carp check [carp run options]\n\n${UCARP_USAGE}`);
    return 0;
  }
  for (const w of [...rc.warnings, ...rc.notices, ...replayWarnings(rc.cfg), ...sysctlWarnings(rc.cfg)]) process.stderr.write(`carp check: warning: ${w}\n`);
  const problems = await runProblems(rc);
  if (problems.length) {
    for (const p of problems) process.stderr.write(`carp check: ${p}\n`);
    return 2;
  }
  process.stdout.write(describeRun(rc));
  process.stdout.write("configuration OK\n");
  return 0;
}
