// VRRPv3 routers in a lab host: our node in VRRPv3 mode (`carp run --vrrp3`) and keepalived with
// `version 3`, each with a state read from its log (ours: the JSON transition lines with their `ts`;
// keepalived: "Entering X STATE", timed when the line was read). For the VRRPv3 interop tests and bench.
import { chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { carpCli, stateFromLogLine, timeFromLogLine, type NodeState } from "./nodes.js";
import type { LabProcess } from "./proc.js";
import type { LabHost } from "./topology.js";

export interface Vrrp3Options {
  vrid: number;
  /** One virtual address (IPv4 or IPv6), without prefix length. */
  vip: string;
  priority: number;
  /** Advertisement interval in centiseconds. */
  intervalCs: number;
  preempt?: boolean;
  /** Ours only: the IPv4 checksum variant sent (default pseudo). */
  checksum?: "pseudo" | "v2";
  extraArgs?: string[];
}

export interface Vrrp3Router {
  kind: "carp" | "keepalived" | "frr";
  host: LabHost;
  proc: LabProcess;
  /** Latest state announced in the log, and when (epoch ms). */
  state: NodeState;
  transitions: { t: number; to: NodeState }[];
  control?: string;
}

/** FRR vrrpd: "[VRID 7] [IPv4] Backup -> Master" (debug log). */
function frrState(text: string): NodeState | null {
  const m = /\[VRID \d+\] \[IPv[46]\] (?:Initialize|Backup|Master) -> (Backup|Master|Initialize)\b/.exec(text);
  return m ? (m[1] === "Initialize" ? "INIT" : (m[1].toUpperCase() as NodeState)) : null;
}

function watch(r: Vrrp3Router): Vrrp3Router {
  r.proc.on("line", (l) => {
    const s = r.kind === "frr" ? frrState(l.text) : stateFromLogLine(r.kind, l.text);
    if (!s || s === r.state) return;
    r.state = s;
    r.transitions.push({ t: timeFromLogLine(l.text) ?? l.t, to: s });
  });
  void r.proc.exited.then(() => {
    r.state = "STOPPED";
    r.transitions.push({ t: Date.now(), to: "STOPPED" });
  });
  return r;
}

const len = (vip: string) => (vip.includes(":") ? 128 : 32);

/** Our node in VRRPv3 mode on the host's eth0. */
export function startOursVrrp3(host: LabHost, o: Vrrp3Options): Vrrp3Router {
  const control = join(host.lab.dir, `${host.name}-v3.ctl`);
  const args = [
    carpCli(), "run", "-i", host.ifname, "-v", String(o.vrid), "-a", `${o.vip}/${len(o.vip)}`, "--vrrp3",
    "--vrrpprio", String(o.priority), "--vrrpinterval", String(o.intervalCs), "--vrrp-checksum", o.checksum ?? "pseudo",
    ...(o.preempt ? ["-P"] : []), "--control", control, "--log-format", "json", ...(o.extraArgs ?? []),
  ];
  if (!o.vip.includes(":")) args.push("-s", host.addr);
  return watch({ kind: "carp", host, proc: host.spawn(process.execPath, args), state: "INIT", transitions: [], control });
}

let kaStarts = 0;

/** keepalived 2.2 (Debian) with a VRRPv3 instance; advert_int is the interval in seconds (0.01 steps). */
export function startKeepalivedVrrp3(host: LabHost, o: Vrrp3Options): Vrrp3Router {
  // Fresh pid files per start: a SIGKILLed keepalived's VRRP child can outlive it for a moment.
  const n = ++kaStarts;
  const conf = join(host.lab.dir, `${host.name}-kv3-${n}.conf`);
  const base = join(host.lab.dir, `${host.name}-kv3-${n}`);
  writeFileSync(
    conf,
    [
      "global_defs {",
      `  router_id ${host.name}`,
      "  enable_script_security",
      "  vrrp_version 3",
      "}",
      "vrrp_instance VI_1 {",
      "  state BACKUP",
      `  interface ${host.ifname}`,
      `  virtual_router_id ${o.vrid}`,
      `  priority ${o.priority}`,
      `  advert_int ${(o.intervalCs / 100).toFixed(2)}`,
      ...(o.preempt === false ? ["  nopreempt"] : []),
      `  virtual_ipaddress {\n    ${o.vip}/${len(o.vip)} dev ${host.ifname}\n  }`,
      "}",
      "",
    ].join("\n"),
  );
  const proc = host.spawn("keepalived", ["-n", "-l", "-D", "-P", "-f", conf, "-p", `${base}.pid`, "-r", `${base}-vrrp.pid`, "-c", `${base}-chk.pid`, ...(o.extraArgs ?? [])]);
  return watch({ kind: "keepalived", host, proc, state: "INIT", transitions: [] });
}

/** Waits until `r` is in `state` (true) or `ms` pass (false). */
export async function waitState(r: Vrrp3Router, state: NodeState, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (r.state === state) return true;
    await new Promise((res) => setTimeout(res, 5));
  }
  return r.state === state;
}

/** When `r` first entered `state` after `since` (epoch ms), or null. */
export function enteredAt(r: Vrrp3Router, state: NodeState, since: number): number | null {
  return r.transitions.find((x) => x.to === state && x.t >= since)?.t ?? null;
}

/**
 * FRR's vrrpd (Debian frr 8.4) with zebra in the host's namespace, under its own FRR pathspace. FRR needs a
 * macvlan with the virtual MAC holding the VIP (it never adds addresses itself). `restart()` starts vrrpd again (zebra keeps running); `cleanup()`
 * removes the pathspace directory (the lab stops the processes).
 */
export async function startFrrVrrp3(
  host: LabHost,
  o: Vrrp3Options,
): Promise<Vrrp3Router & { zebra: LabProcess; restart(): Vrrp3Router; cleanup(): void }> {
  const ps = `carplab-${host.ns}`;
  const dir = `/var/run/frr/${ps}`;
  mkdirSync(dir, { recursive: true });
  const mac = `00:00:5e:00:01:${o.vrid.toString(16).padStart(2, "0")}`;
  const dev = `vrrp4-${o.vrid}`;
  host.ip("link", "add", dev, "link", host.ifname, "type", "macvlan", "mode", "bridge");
  host.ip("link", "set", "dev", dev, "address", mac);
  host.ip("addr", "add", `${o.vip}/${len(o.vip)}`, "dev", dev);
  host.ip("link", "set", "dev", dev, "up");
  writeFileSync(`${dir}/zebra.conf`, `hostname ${host.name}\n`);
  writeFileSync(
    `${dir}/vrrpd.conf`,
    [
      `interface ${host.ifname}`,
      ` vrrp ${o.vrid} version 3`,
      ` vrrp ${o.vrid} priority ${o.priority}`,
      ` vrrp ${o.vrid} advertisement-interval ${o.intervalCs * 10}`,
      ` vrrp ${o.vrid} ip ${o.vip}`,
      o.preempt === false ? ` no vrrp ${o.vrid} preempt` : ` vrrp ${o.vrid} preempt`,
      "",
    ].join("\n"),
  );
  // The daemons drop to user frr: it must own its pathspace directory and read the configuration.
  const frrIds = frrUser();
  if (frrIds) for (const f of [dir, `${dir}/zebra.conf`, `${dir}/vrrpd.conf`]) chownSync(f, frrIds.uid, frrIds.gid);
  const common = ["-N", ps, "-u", "frr", "-g", "frr", "--log", "stdout", "--log-level", "debug"];
  const zebra = host.spawn("/usr/lib/frr/zebra", [...common, "-f", `${dir}/zebra.conf`, "-i", `${dir}/zebra.pid`]);
  // vrrpd looks for its macvlan once, when it connects: zebra must know the interfaces by then.
  await zebra.waitForLine(/zebra [\d.]+ starting/, 8000);
  await new Promise((r) => setTimeout(r, 500));
  const vrrpd = () => host.spawn("/usr/lib/frr/vrrpd", [...common, "-f", `${dir}/vrrpd.conf`, "-i", `${dir}/vrrpd.pid`]);
  const r = watch({ kind: "frr", host, proc: vrrpd(), state: "INIT", transitions: [] });
  return Object.assign(r, {
    zebra,
    restart: () => {
      r.proc = vrrpd();
      r.state = "INIT";
      return watch(r);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  });
}

function frrUser(): { uid: number; gid: number } | null {
  const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("frr:"));
  return line ? { uid: Number(line.split(":")[2]), gid: Number(line.split(":")[3]) } : null;
}
