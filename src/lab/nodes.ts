// Redundancy daemons started inside lab hosts: our node (`carp run`), Debian's ucarp and keepalived.
// Each is a LabNode: start / stop (graceful) / kill (crash) / restart, and a state learnt from its
// log lines (ucarp "Switching to state: X", keepalived "Entering X STATE", our transition logs) or,
// for our node, from `carp status --json` on its control socket.
import { execFile } from "node:child_process";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import type { LabLine, LabProcess } from "./proc.js";
import type { LabHost } from "./topology.js";
import { LabError, requireTools, sh } from "./sys.js";

export type NodeKind = "carp" | "ucarp" | "keepalived";
export type NodeState = "INIT" | "BACKUP" | "MASTER" | "STOPPED";

export interface NodeOptions {
  vhid: number;
  /** Virtual address, optionally with a prefix length (default /32 for IPv4, /128 for IPv6). */
  vip: string;
  password?: string;
  advbase?: number;
  advskew?: number;
  preempt?: boolean;
  /** Extra command-line arguments. */
  extraArgs?: string[];
}

/** Repository root (src/lab and dist/lab are both two levels down). */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The `carp` CLI used for our node: dist/cli/main.js, overridable with CARP_BIN. */
export function carpCli(): string {
  return process.env.CARP_BIN ?? join(repoRoot, "dist/cli/main.js");
}

/** Whether our daemon can be started (`carp run --help` exits 0). */
export function oursAvailable(): boolean {
  if (!existsSync(carpCli())) return false;
  try {
    sh(process.execPath, [carpCli(), "run", "--help"]);
    return true;
  } catch {
    return false;
  }
}

const STATES = ["INIT", "BACKUP", "MASTER"] as const;

/** A state a log line announces, or null. Understands ucarp, keepalived and our text/JSON logs. */
export function stateFromLogLine(kind: NodeKind, text: string): Exclude<NodeState, "STOPPED"> | null {
  let m: RegExpExecArray | null;
  if (kind === "ucarp") {
    m = /Switching to state: (INIT|BACKUP|MASTER)/.exec(text);
    return m ? (m[1] as "MASTER") : null;
  }
  if (kind === "keepalived") {
    m = /Entering (BACKUP|MASTER|FAULT) STATE/.exec(text);
    if (!m) return null;
    return m[1] === "FAULT" ? "INIT" : (m[1] as "MASTER");
  }
  if (text.startsWith("{")) {
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      for (const k of ["to", "newState", "state"]) {
        const v = o[k];
        if (typeof v === "string" && (STATES as readonly string[]).includes(v.toUpperCase()) && (k !== "state" || /transition|state/i.test(String(o.msg ?? o.event ?? "")))) {
          return v.toUpperCase() as "MASTER";
        }
      }
    } catch {
      /* not JSON after all */
    }
    return null;
  }
  m = /(?:->|→|\bto\b)\s*(INIT|BACKUP|MASTER)\b/.exec(text);
  return m ? (m[1] as "MASTER") : null;
}

/** The time a JSON log line carries (our daemon's `ts`, epoch ms), or null. */
export function timeFromLogLine(text: string): number | null {
  const m = /"ts":(\d+(?:\.\d+)?)/.exec(text);
  return m ? Number(m[1]) : null;
}

function withLen(vip: string): string {
  return vip.includes("/") ? vip : `${vip}/${vip.includes(":") ? 128 : 32}`;
}

export interface Transition {
  t: number;
  to: NodeState;
}

export class LabNode {
  proc: LabProcess | null = null;
  state: NodeState = "STOPPED";
  readonly transitions: Transition[] = [];
  /** Starts so far (restart() increments). */
  starts = 0;

  constructor(
    readonly kind: NodeKind,
    readonly host: LabHost,
    public opts: NodeOptions,
  ) {}

  get name(): string {
    return this.host.name;
  }

  get vip(): string {
    return this.opts.vip.split("/")[0];
  }

  /** Unix socket of our node's control interface. */
  get control(): string {
    return join(this.host.lab.dir, `${this.host.name}.ctl`);
  }

  private setState(to: NodeState, t = Date.now()): void {
    if (to === this.state) return;
    this.state = to;
    this.transitions.push({ t, to });
  }

  private argv(): { cmd: string; args: string[] } {
    const o = this.opts;
    const pass = o.password ?? "carpdemo";
    const common = ["-i", this.host.ifname, "-s", this.host.addr, "-v", String(o.vhid), "-p", pass, "-b", String(o.advbase ?? 1), "-k", String(o.advskew ?? 0)];
    if (this.kind === "carp") {
      return {
        cmd: process.execPath,
        args: [carpCli(), "run", ...common, "-a", withLen(o.vip), ...(o.preempt ? ["-P"] : []), "--control", this.control, "--log-format", "json", ...(o.extraArgs ?? [])],
      };
    }
    if (this.kind === "ucarp") {
      const up = join(this.host.lab.dir, `${this.host.name}-vip-up.sh`);
      const down = join(this.host.lab.dir, `${this.host.name}-vip-down.sh`);
      const len = withLen(o.vip).split("/")[1];
      // ucarp runs these as: script <interface> <vip> [xparam]
      writeFileSync(up, `#!/bin/sh\nip addr add "$2/${len}" dev "$1" 2>/dev/null || true\n`);
      writeFileSync(down, `#!/bin/sh\nip addr del "$2/${len}" dev "$1" 2>/dev/null || true\n`);
      chmodSync(up, 0o755);
      chmodSync(down, 0o755);
      return {
        cmd: "ucarp",
        args: [...common, "-a", this.vip, "-u", up, "-d", down, "-z", ...(o.preempt ? ["-P"] : []), ...(o.extraArgs ?? [])],
      };
    }
    // keepalived: VRRPv2, priority 255 - advskew (so "lower skew wins" reads the same), advert_int advbase.
    const conf = join(this.host.lab.dir, `${this.host.name}-keepalived.conf`);
    const base = join(this.host.lab.dir, `${this.host.name}-keepalived`);
    const prio = Math.max(1, Math.min(254, 255 - (o.advskew ?? 0) - 1));
    writeFileSync(
      conf,
      [
        "global_defs {",
        `  router_id ${this.host.name}`,
        "  enable_script_security",
        "}",
        "vrrp_instance VI_1 {",
        "  state BACKUP",
        `  interface ${this.host.ifname}`,
        `  virtual_router_id ${o.vhid}`,
        `  priority ${prio}`,
        `  advert_int ${o.advbase ?? 1}`,
        ...(o.preempt ? [] : ["  nopreempt"]),
        `  virtual_ipaddress {\n    ${withLen(o.vip)} dev ${this.host.ifname}\n  }`,
        "}",
        "",
      ].join("\n"),
    );
    return {
      cmd: "keepalived",
      args: ["-n", "-l", "-P", "-f", conf, "-p", `${base}.pid`, "-r", `${base}-vrrp.pid`, "-c", `${base}-chk.pid`, ...(o.extraArgs ?? [])],
    };
  }

  /** Starts the daemon; resolves once it has announced its first state (or, for ours, answers status). */
  async start(timeoutMs = 8000): Promise<void> {
    if (this.proc?.running) throw new LabError(`${this.name} already running`);
    if (this.kind === "ucarp") requireTools({ ucarp: "ucarp" });
    if (this.kind === "keepalived") requireTools({ keepalived: "keepalived" });
    const { cmd, args } = this.argv();
    const proc = this.host.spawn(cmd, args);
    this.proc = proc;
    this.starts++;
    this.setState("INIT");
    proc.on("line", (l: LabLine) => {
      const s = stateFromLogLine(this.kind, l.text);
      if (s && this.proc === proc) this.setState(s, timeFromLogLine(l.text) ?? l.t);
    });
    void proc.exited.then(() => {
      if (this.proc === proc) this.setState("STOPPED");
    });
    const t0 = Date.now();
    const started = this.kind === "carp" ? this.waitStatus(timeoutMs) : proc.waitForLine(this.kind === "ucarp" ? /Switching to state/ : /Entering (BACKUP|MASTER|FAULT) STATE|Starting VRRP child/, timeoutMs, t0);
    try {
      await started;
    } catch (e) {
      await proc.stop(500);
      throw new LabError(`${this.kind} on ${this.name} did not start: ${e instanceof Error ? e.message : e}`);
    }
  }

  private async waitStatus(ms: number): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      if (!this.proc?.running) throw new LabError(`exited: ${this.proc?.tail(2)}`);
      const s = this.queryStatus();
      if (s) return;
      if (Date.now() > end) throw new LabError(`no status on ${this.control}: ${this.proc.tail(2)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Our node's `carp status --json`, parsed; null when it does not answer. */
  queryStatus(): unknown {
    if (this.kind !== "carp") return null;
    try {
      return JSON.parse(sh(process.execPath, [carpCli(), "status", "--json", "--control", this.control]));
    } catch {
      return null;
    }
  }

  /** Like queryStatus() without blocking the event loop. */
  queryStatusAsync(): Promise<unknown> {
    if (this.kind !== "carp") return Promise.resolve(null);
    return new Promise((resolve) => {
      execFile(process.execPath, [carpCli(), "status", "--json", "--control", this.control], { encoding: "utf8", timeout: 5000 }, (err, out) => {
        if (err) return resolve(null);
        try {
          resolve(JSON.parse(out));
        } catch {
          resolve(null);
        }
      });
    });
  }

  /** refresh() without blocking: our node's state from status, others' from their logs. */
  async poll(): Promise<NodeState> {
    if (this.kind === "carp" && this.proc?.running) {
      const s = findVhidState(await this.queryStatusAsync(), this.opts.vhid);
      if (s && this.proc?.running) this.setState(s);
    }
    return this.state;
  }

  /** The state of this node's vhid: ours from status (falls back to logs); others from logs. */
  refresh(): NodeState {
    if (this.kind === "carp" && this.proc?.running) {
      const s = findVhidState(this.queryStatus(), this.opts.vhid);
      if (s) this.setState(s);
    }
    return this.state;
  }

  /** Changes advskew at run time (our node: `carp set`). */
  setAdvskew(skew: number): void {
    if (this.kind !== "carp") throw new LabError(`${this.kind} cannot change advskew at run time`);
    sh(process.execPath, [carpCli(), "set", "--control", this.control, "--vhid", String(this.opts.vhid), "--advskew", String(skew)]);
    this.opts = { ...this.opts, advskew: skew };
  }

  /** Graceful stop (SIGTERM). */
  async stop(graceMs = 2000): Promise<void> {
    await this.proc?.stop(graceMs);
  }

  /** SIGKILL: the node vanishes without a word, as in a crash or power loss. */
  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  async restart(opts: Partial<NodeOptions> = {}): Promise<void> {
    await this.stop();
    this.opts = { ...this.opts, ...opts };
    await this.start();
  }
}

/** Finds the state of `vhid` in a status object of unknown exact shape (array or object of vhids). */
export function findVhidState(status: unknown, vhid: number): Exclude<NodeState, "STOPPED"> | null {
  const seen = new Set<unknown>();
  const walk = (v: unknown): Exclude<NodeState, "STOPPED"> | null => {
    if (!v || typeof v !== "object" || seen.has(v)) return null;
    seen.add(v);
    const o = v as Record<string, unknown>;
    if (o.vhid === vhid && typeof o.state === "string" && (STATES as readonly string[]).includes(o.state.toUpperCase())) {
      return o.state.toUpperCase() as "MASTER";
    }
    for (const x of Array.isArray(v) ? v : Object.values(o)) {
      const r = walk(x);
      if (r) return r;
    }
    return null;
  };
  return walk(status);
}

export function startNode(kind: NodeKind, host: LabHost, opts: NodeOptions): Promise<LabNode> {
  const n = new LabNode(kind, host, opts);
  return n.start().then(() => n);
}
