// Integration-test view of the namespace lab in src/lab: N hosts, each a namespace with "eth0" on one
// bridge (src/lab's Lab builds the namespaces, bridge and veths and removes them, also from its process
// "exit" hook for labs a failing test forgot), addressed from documentation ranges. On top: exec with
// exit status/env/timeout, spawning our daemon or ucarp with JSON-log helpers (Proc).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";

import { Lab as NsLab } from "../../src/lab/topology.js";
import { uniquePrefix } from "../../src/lab/names.js";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CARP_CLI = resolve(REPO, "dist/cli/main.js");
export const UCARP = "/usr/sbin/ucarp";

/** Can this process build namespaces (root, iproute2)? Integration tests skip otherwise. */
export function canUseNetns(): boolean {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return false;
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export interface LabHost {
  /** Namespace name. */
  ns: string;
  ifname: string;
  ip4: string;
  ip6: string;
  /** Runs a command in the namespace; returns stdout (throws on non-zero exit). */
  exec(cmd: string, args: string[], opts?: { timeout?: number; env?: NodeJS.ProcessEnv }): string;
  /** Like exec but returns { code, stdout, stderr } instead of throwing. */
  tryExec(cmd: string, args: string[], opts?: { timeout?: number; env?: NodeJS.ProcessEnv }): { code: number; stdout: string; stderr: string };
  /** Spawns a long-running process in the namespace; killed by lab.destroy(). */
  spawn(cmd: string, args: string[], opts?: { env?: NodeJS.ProcessEnv }): Proc;
  /** `node dist/cli/main.js <args>` in the namespace. */
  carp(args: string[], opts?: { env?: NodeJS.ProcessEnv }): Proc;
  /** `carp <args>` run to completion (status, set). */
  carpSync(args: string[], opts?: { env?: NodeJS.ProcessEnv }): { code: number; stdout: string; stderr: string };
  /** Addresses on eth0 (without prefix). */
  addresses(): string[];
}

export interface Lab {
  tag: string;
  bridgeNs: string;
  hosts: LabHost[];
  destroy(): Promise<void>;
}

/** A spawned process with its output kept line by line. */
export class Proc {
  readonly lines: string[] = [];
  readonly errLines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private waiters: Array<() => void> = [];

  constructor(readonly child: ChildProcess) {
    const split = (into: string[]) => {
      let buf = "";
      return (d: Buffer) => {
        buf += d.toString("utf8");
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          into.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
        this.wake();
      };
    };
    child.stdout?.on("data", split(this.lines));
    child.stderr?.on("data", split(this.errLines));
    // "close", not "exit": it comes after the last stdout/stderr bytes, so nothing printed is missed.
    this.exited = new Promise((res) => {
      child.on("close", (code, signal) => {
        this.exit = { code, signal };
        this.wake();
        res(this.exit);
      });
      child.on("error", () => {
        this.exit = { code: -1, signal: null };
        this.wake();
        res(this.exit);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  kill(sig: NodeJS.Signals = "SIGTERM"): void {
    if (this.exit === null) this.child.kill(sig);
  }

  /** JSON log lines (our daemon with --log-format json); other lines are skipped. */
  json(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const l of this.lines) {
      if (!l.startsWith("{")) continue;
      try {
        out.push(JSON.parse(l));
      } catch {
        /* partial line */
      }
    }
    return out;
  }

  /** Resolves with the first JSON log entry matching `pred` (existing or future), or rejects after `ms`. */
  async waitJson(pred: (e: Record<string, unknown>) => boolean, ms = 10_000, what = "log entry"): Promise<Record<string, unknown>> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.json().find(pred);
      if (hit) return hit;
      if (this.exit !== null) throw new Error(`${what}: process exited (${this.exit.code ?? this.exit.signal}) first; stderr: ${this.errLines.join(" | ")}`);
      let left = end - Date.now();
      if (left <= 0) {
        // Synchronous calls elsewhere (execFileSync in a concurrent test) may have held the event loop
        // past the deadline with our output still unread: let pending I/O in, then look once more.
        await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setImmediate(r));
        const late = this.json().find(pred);
        if (late) return late;
        left = 0;
      }
      if (left <= 0) throw new Error(`${what}: not seen within ${ms} ms; last lines: ${this.lines.slice(-5).join(" | ")} stderr: ${this.errLines.join(" | ")}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Transition log entries to `to`. */
  transitions(to?: string): Array<Record<string, unknown>> {
    return this.json().filter((e) => e.event === "transition" && (to === undefined || e.to === to));
  }

  waitState(to: "MASTER" | "BACKUP" | "INIT", ms = 10_000, after = 0): Promise<Record<string, unknown>> {
    return this.waitJson((e) => e.event === "transition" && e.to === to && (e.ts as number) > after, ms, `transition to ${to}`);
  }
}

export interface LabOptions {
  hosts: number;
  /** Short tag for the names (letters/digits); namespaces are named by src/lab's uniquePrefix(). */
  prefix?: string;
  /** Third octet of 198.51.100.0/24 is fixed; hosts get .11, .12, … */
  firstHost?: number;
}

type ExecOpts = { timeout?: number; env?: NodeJS.ProcessEnv };

/** src/lab's Lab (bridge + host namespaces + cleanup) with this file's exec/spawn/log helpers on top. */
export function createLab(o: LabOptions): Lab {
  // uniquePrefix wants [a-z][a-z0-9]{2,15}; test tags are 2 letters ("da"), so: "tda-<pid>-<hex>-".
  const base = `t${(o.prefix ?? "cl").toLowerCase().replace(/[^a-z0-9]/g, "")}`.padEnd(3, "x").slice(0, 16);
  const lab = NsLab.create({ prefix: uniquePrefix(base) });
  const procs = new Set<Proc>();
  const destroySync = () => {
    for (const p of procs) {
      try {
        if (p.exit === null) p.child.kill("SIGKILL");
      } catch {
        /* gone */
      }
    }
    // Kills anything else still inside (e.g. `ip monitor` children of a SIGKILLed daemon), deletes the namespaces.
    lab.destroy();
  };
  const hosts: LabHost[] = [];
  try {
    for (let i = 0; i < o.hosts; i++) {
      const n = (o.firstHost ?? 11) + i;
      const ip4 = `198.51.100.${n}`;
      const ip6 = `2001:db8:100::${n.toString(16)}`;
      const h = lab.addHost(`h${i}`, { addrs: [`${ip4}/24`, `${ip6}/64`], dad: false });
      const ns = h.ns;
      const exec = (cmd: string, args: string[], eo: ExecOpts = {}) =>
        execFileSync("ip", ["netns", "exec", ns, cmd, ...args], {
          encoding: "utf8",
          timeout: eo.timeout ?? 15_000,
          stdio: ["ignore", "pipe", "pipe"],
          env: { ...process.env, ...eo.env },
        });
      const tryExec = (cmd: string, args: string[], eo: ExecOpts = {}) => {
        try {
          return { code: 0, stdout: exec(cmd, args, eo), stderr: "" };
        } catch (e) {
          const err = e as { status?: number; stdout?: string; stderr?: string };
          return { code: err.status ?? -1, stdout: String(err.stdout ?? ""), stderr: String(err.stderr ?? "") };
        }
      };
      const spawnIn = (cmd: string, args: string[], so: { env?: NodeJS.ProcessEnv } = {}) => {
        const child = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...so.env } });
        const p = new Proc(child);
        procs.add(p);
        return p;
      };
      hosts.push({
        ns,
        ifname: h.ifname,
        ip4,
        ip6,
        exec,
        tryExec,
        spawn: spawnIn,
        carp(args, so) {
          if (!existsSync(CARP_CLI)) throw new Error(`${CARP_CLI} missing: build first (npx tsc -p tsconfig.build.json)`);
          return spawnIn(process.execPath, [CARP_CLI, ...args], so);
        },
        carpSync(args, so = {}) {
          return tryExec(process.execPath, [CARP_CLI, ...args], so);
        },
        addresses: () => h.addresses(),
      });
    }
  } catch (e) {
    lab.destroy();
    throw e;
  }
  return {
    tag: lab.prefix.replace(/-$/, ""),
    bridgeNs: lab.switchNs,
    hosts,
    async destroy() {
      // Give well-behaved children a moment to exit on SIGTERM, then force.
      for (const p of procs) p.kill("SIGTERM");
      await Promise.race([Promise.all([...procs].map((p) => p.exited)), new Promise((r) => setTimeout(r, 3000))]);
      destroySync();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until true or `ms` elapse; returns the last result. */
export async function waitFor(fn: () => boolean | Promise<boolean>, ms = 5000, step = 25): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await sleep(step);
  }
  return fn();
}

/**
 * Per-test-file bookkeeping: a temp dir for scripts/sockets and a `lab()` factory whose labs (and the
 * temp dir) are destroyed in afterAll.
 */
export function labScope(tmpPrefix: string): { tmp: string; lab(hosts: number, prefix: string): Lab } {
  const tmp = mkdtempSync(join(tmpdir(), tmpPrefix));
  const labs: Lab[] = [];
  afterAll(async () => {
    await Promise.all(labs.map((l) => l.destroy()));
    rmSync(tmp, { recursive: true, force: true });
  });
  return {
    tmp,
    lab(hosts, prefix) {
      const l = createLab({ hosts, prefix });
      labs.push(l);
      return l;
    },
  };
}
