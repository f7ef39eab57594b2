// A small namespace lab for integration tests: one bridge (in its own namespace, so the host's
// interfaces are never touched) and N hosts, each a namespace with "eth0" on the bridge, addressed from
// documentation ranges. Run commands in a host, spawn our daemon or ucarp there, read their logs.
// Cleanup is guaranteed: lab.destroy() kills every child it spawned and deletes every namespace, and a
// process "exit" hook does the same for labs a failing test forgot.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

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

const labs = new Set<{ destroySync(): void }>();
process.on("exit", () => {
  for (const l of labs) l.destroySync();
});

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

export interface LabOptions {
  hosts: number;
  /** ≤ 5 characters; namespace names are prefix + pid + random. */
  prefix?: string;
  /** Third octet of 198.51.100.0/24 is fixed; hosts get .11, .12, … */
  firstHost?: number;
}

export function createLab(o: LabOptions): Lab {
  const tag = `${o.prefix ?? "cl"}${process.pid % 10000}${randomBytes(2).toString("hex")}`;
  const bridgeNs = `${tag}br`;
  const created: string[] = [];
  const procs = new Set<Proc>();
  const destroySync = () => {
    for (const p of procs) {
      try {
        if (p.exit === null) p.child.kill("SIGKILL");
      } catch {
        /* gone */
      }
    }
    for (const ns of created.splice(0).reverse()) {
      // Anything still running inside (e.g. `ip monitor` children of a SIGKILLed daemon) keeps the
      // namespace alive after `ip netns del`: kill exactly those processes first.
      try {
        const pids = execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).split(/\s+/).filter(Boolean).map(Number);
        for (const pid of pids) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            /* gone */
          }
        }
      } catch {
        /* namespace already gone */
      }
      try {
        ip("netns", "del", ns);
      } catch {
        /* already gone */
      }
    }
  };
  const handle = { destroySync };
  labs.add(handle);
  const hosts: LabHost[] = [];
  try {
    ip("netns", "add", bridgeNs);
    created.push(bridgeNs);
    ip("-n", bridgeNs, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
    ip("-n", bridgeNs, "link", "set", "br0", "up");
    for (let i = 0; i < o.hosts; i++) {
      const ns = `${tag}h${i}`;
      ip("netns", "add", ns);
      created.push(ns);
      const port = `p${i}`;
      ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", bridgeNs);
      ip("-n", bridgeNs, "link", "set", port, "master", "br0");
      ip("-n", bridgeNs, "link", "set", port, "up");
      execFileSync("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.eth0.accept_dad=0"], { stdio: "ignore" });
      ip("-n", ns, "link", "set", "lo", "up");
      const n = (o.firstHost ?? 11) + i;
      const ip4 = `198.51.100.${n}`;
      const ip6 = `2001:db8:100::${n.toString(16)}`;
      ip("-n", ns, "addr", "add", `${ip4}/24`, "dev", "eth0");
      ip("-n", ns, "addr", "add", `${ip6}/64`, "dev", "eth0", "nodad");
      ip("-n", ns, "link", "set", "eth0", "up");
      const exec = (cmd: string, args: string[], eo: { timeout?: number; env?: NodeJS.ProcessEnv } = {}) =>
        execFileSync("ip", ["netns", "exec", ns, cmd, ...args], {
          encoding: "utf8",
          timeout: eo.timeout ?? 15_000,
          stdio: ["ignore", "pipe", "pipe"],
          env: { ...process.env, ...eo.env },
        });
      const tryExec = (cmd: string, args: string[], eo: { timeout?: number; env?: NodeJS.ProcessEnv } = {}) => {
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
        ifname: "eth0",
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
        addresses() {
          const j = JSON.parse(exec("ip", ["-j", "addr", "show", "dev", "eth0"])) as Array<{ addr_info: Array<{ local: string }> }>;
          return j[0].addr_info.map((a) => a.local);
        },
      });
    }
  } catch (e) {
    destroySync();
    labs.delete(handle);
    throw e;
  }
  return {
    tag,
    bridgeNs,
    hosts,
    async destroy() {
      // Give well-behaved children a moment to exit on SIGTERM, then force.
      for (const p of procs) p.kill("SIGTERM");
      await Promise.race([Promise.all([...procs].map((p) => p.exited)), new Promise((r) => setTimeout(r, 3000))]);
      destroySync();
      labs.delete(handle);
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
