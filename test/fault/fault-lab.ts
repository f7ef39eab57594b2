// Shared pieces of the fault suite: our daemon started with default options (only what `carp run`
// requires, plus JSON logs and a control socket), its status, and a VIP watch that tells for how long a
// virtual address was configured on two hosts at once (from `ip -ts monitor address` in each namespace).
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { controlRequest } from "../../src/daemon/control.js";
import { REPO, sleep, type Lab, type LabHost, type Proc } from "../helpers/netns.js";

export const VIP4 = "198.51.100.100";
export const VIP6 = "2001:db8:100::100";
export const PASS = "s3cret";

export interface Status {
  carpstats: Record<string, number>;
  globalDemotion: number;
  ledger: Array<{ source?: string; amount?: number }>;
  vhids: Array<Record<string, any> & { state: string; counters: Record<string, number> }>;
}

export interface Node {
  h: LabHost;
  p: Proc;
  sock: string;
}

/** `carp run` on eth0 for vhid 1 with `args` appended (addresses, advskew, ...). */
export function carp(tmp: string, h: LabHost, args: string[], vhid = 1): Node {
  const sock = join(tmp, `${h.ns}-${vhid}.sock`);
  const src = args.includes("-s") ? [] : ["-s", h.ip4];
  const p = h.carp(["run", "-i", "eth0", ...src, "-v", String(vhid), "-p", PASS, "--log-format", "json", "-f", "none", "--control", sock, ...args]);
  return { h, p, sock };
}

/** The daemon's status over its control socket (asked from the test process: no CLI start-up per poll). */
export async function status(n: Node): Promise<Status> {
  // Generous: other jobs may load the 2 cores; one retry for a daemon that is still running.
  const r = await controlRequest(n.sock, { op: "status" }, 10_000).catch(async (e: Error) => {
    if (n.p.exit !== null) throw e;
    await sleep(200);
    return controlRequest(n.sock, { op: "status" }, 10_000);
  });
  if (!r.ok) throw new Error(`status on ${n.h.ns}: ${JSON.stringify(r)} (daemon: ${n.p.errLines.slice(-3).join(" | ")})`);
  return (r as unknown as { status: Status }).status;
}

export const state = async (n: Node): Promise<string> => (await status(n)).vhids[0].state;

/** The daemon is still running (no crash) and answers status. */
export async function alive(n: Node): Promise<boolean> {
  if (n.p.exit !== null) return false;
  try {
    await status(n);
    return true;
  } catch {
    return false;
  }
}

export async function allAlive(nodes: Node[]): Promise<boolean> {
  return (await Promise.all(nodes.map(alive))).every(Boolean);
}

/** Transitions of a node (JSON log), optionally only those after `since` (ms). */
export function transitions(n: Node, to?: string, since = 0): Array<Record<string, unknown>> {
  return n.p.transitions(to).filter((t) => (t.ts as number) > since);
}

/**
 * A TCP connect from `h` to port 9 of `addr` (optionally from `local`): "ok" when it connects or is
 * refused (an RST proves ARP/ND and IP delivery both ways), else the error code ("EADDRNOTAVAIL" when
 * `local` is not an address of `h`, "timeout" when nobody answers).
 */
export function reach(h: LabHost, addr: string, local?: string): Promise<string> {
  const code = `const s = require("net").connect({ port: 9, host: ${JSON.stringify(addr)}${local ? `, localAddress: ${JSON.stringify(local)}` : ""} });
    s.on("connect", () => { console.log("ok"); process.exit(0); });
    s.on("error", (e) => { console.log(e.code === "ECONNREFUSED" ? "ok" : e.code); process.exit(0); });
    setTimeout(() => { console.log("timeout"); process.exit(0); }, 2000);`;
  return new Promise((resolve) => {
    execFile("ip", ["netns", "exec", h.ns, process.execPath, "-e", code], { encoding: "utf8", timeout: 10_000 }, (err, out, errOut) =>
      resolve(err ? `failed: ${err.message}` : out.trim() || `no answer (${errOut.trim()})`),
    );
  });
}

/** `carp <args>` run inside a host, with the CLI of this checkout. */
export function cli(h: LabHost, args: string[]): { code: number; stdout: string; stderr: string } {
  return h.carpSync(args);
}

export const CARP_JS = join(REPO, "dist/cli/main.js");

interface Span {
  host: number;
  from: number;
  to: number;
}

/**
 * Watches one address on several hosts (any interface: eth0, or the macvlan in --vmac mode). The times are the kernel notification times printed
 * by `ip -ts monitor address`; presence at start comes from `ip addr`.
 */
export class VipWatch {
  private procs: Proc[] = [];
  private open = new Map<number, number>();
  private spans: Span[] = [];
  private seen: number[] = [];
  readonly startedAt = Date.now();

  private constructor(
    readonly hosts: LabHost[],
    readonly vip: string,
  ) {}

  static async start(hosts: LabHost[], vip: string): Promise<VipWatch> {
    const w = new VipWatch(hosts, vip);
    for (const h of hosts) {
      w.procs.push(h.spawn("ip", ["-ts", "monitor", "address"]));
      w.seen.push(0);
    }
    // Ready when each monitor has reported a probe address added to lo (a busy machine can take seconds).
    for (const [i, h] of hosts.entries()) {
      const end = Date.now() + 30_000;
      while (!w.procs[i].lines.some((l) => l.includes("127.0.0.99/32"))) {
        if (Date.now() > end) throw new Error(`ip monitor in ${h.ns} reports nothing: ${w.procs[i].errLines.join(" | ")}`);
        h.tryExec("ip", ["addr", "add", "127.0.0.99/32", "dev", "lo"]);
        h.tryExec("ip", ["addr", "del", "127.0.0.99/32", "dev", "lo"]);
        await sleep(100);
      }
    }
    hosts.forEach((h, i) => {
      if (h.exec("ip", ["-o", "addr", "show"]).includes(` ${vip}/`)) w.open.set(i, Date.now());
    });
    return w;
  }

  /** Reads the monitors' new lines into spans. */
  private drain(): void {
    const re = new RegExp(`^\\[([0-9T:.-]+)\\] (Deleted )?\\d+: \\S+\\s+inet6? ${this.vip.replace(/[.:]/g, (c) => `\\${c}`)}/`);
    this.procs.forEach((p, i) => {
      for (; this.seen[i] < p.lines.length; this.seen[i]++) {
        const m = re.exec(p.lines[this.seen[i]]);
        if (!m) continue;
        const t = new Date(m[1].slice(0, 23)).getTime();
        if (m[2]) {
          const from = this.open.get(i);
          if (from !== undefined) this.spans.push({ host: i, from, to: t });
          this.open.delete(i);
        } else if (!this.open.has(i)) {
          this.open.set(i, t);
        }
      }
    });
  }

  /** Host indexes holding the VIP now (by the monitors). */
  holders(): number[] {
    this.drain();
    return [...this.open.keys()].sort();
  }

  /** Every (host, from, to) span with the VIP, open ones ending now. */
  all(): Span[] {
    this.drain();
    const now = Date.now();
    return [...this.spans, ...[...this.open].map(([host, from]) => ({ host, from, to: now }))];
  }

  /** Milliseconds, after `since`, during which two or more hosts had the VIP. */
  overlapMs(since = 0): number {
    const ev: Array<[number, number]> = [];
    for (const s of this.all()) {
      const from = Math.max(s.from, since);
      if (s.to > from) ev.push([from, 1], [s.to, -1]);
    }
    ev.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let n = 0;
    let at = 0;
    let total = 0;
    for (const [t, d] of ev) {
      if (n >= 2) total += t - at;
      n += d;
      at = t;
    }
    return total;
  }

  /** Milliseconds, after `since`, during which no host had the VIP. */
  gapMs(since: number, until = Date.now()): number {
    const spans = this.all().map((s) => [Math.max(s.from, since), Math.min(s.to, until)] as const).filter(([a, b]) => b > a);
    spans.sort((a, b) => a[0] - b[0]);
    let covered = 0;
    let end = since;
    for (const [a, b] of spans) {
      if (b <= end) continue;
      covered += b - Math.max(a, end);
      end = b;
    }
    return until - since - covered;
  }

  /** Times the VIP was added to host i after `since`. */
  adds(i: number, since = 0): number {
    return this.all().filter((s) => s.host === i && s.from > since).length;
  }
}

/** Our side of the tests: which hosts are MASTER right now (by status). */
export async function masters(nodes: Node[]): Promise<number[]> {
  const st = await Promise.all(nodes.map(async (n) => ((await alive(n)) ? state(n) : "DEAD")));
  return st.flatMap((s, i) => (s === "MASTER" ? [i] : []));
}

export type { Lab, LabHost, Proc };

/** Waits until exactly one node is MASTER and every other BACKUP (by status); returns the master's index or -1. */
/** A process's scheduler state and wait channel (R/S/T/D, e.g. "T do_signal_stop"), for failure messages. */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const threads = readdirSync(`/proc/${pid}/task`).map((t) => {
      const comm = readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim();
      return `${comm}:${readFileSync(`/proc/${pid}/task/${t}/wchan`, "utf8")}`;
    });
    return `pid ${pid} state ${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]} threads ${threads.join(" ")}`;
  } catch {
    return `pid ${pid} gone`;
  }
}

const seen = new WeakMap<Node, string>();
/** The states oneMaster() saw last for these nodes, with each one's last transition (for assertion messages). */
export const lastSeen = (nodes: Node[]): string => seen.get(nodes[0]) ?? "";

export async function oneMaster(nodes: Node[], ms = 10_000): Promise<number> {
  const end = Date.now() + ms;
  for (;;) {
    const st = await Promise.all(nodes.map((n) => state(n).catch((e: Error) => `DEAD(${n.p.exit ? `exit ${n.p.exit.code ?? n.p.exit.signal}: ${n.p.errLines.slice(-2).join(" | ")}` : `${e.message}; ${procState(n.p.pid)}`})`)));
    seen.set(nodes[0], `states ${st.join(",")}; last transitions ${nodes.map((n) => JSON.stringify(n.p.transitions().at(-1) ?? null)).join(" ")}`);
    const m = st.filter((s) => s === "MASTER").length;
    if (m === 1 && st.every((s) => s === "MASTER" || s === "BACKUP")) return st.indexOf("MASTER");
    if (Date.now() > end) return -1;
    await sleep(200);
  }
}

/** The JSON transitions of every node after `since`, as "node:FROM->TO" (for messages and counts). */
export function flaps(nodes: Node[], since: number): string[] {
  return nodes.flatMap((n, i) => transitions(n, undefined, since).map((t) => `${i}:${t.from}->${t.to}`));
}

/**
 * The usual starting point of a fault scenario: our daemon on `a` becomes MASTER (VIP4/24, default options),
 * then `b` joins with advskew 100 and must see `a` as the one master.
 */
export async function masterAndBackup(tmp: string, a: LabHost, b: LabHost): Promise<{ na: Node; nb: Node; nodes: Node[] }> {
  const na = carp(tmp, a, ["-a", `${VIP4}/24`]);
  await na.p.waitState("MASTER", 10_000);
  const nb = carp(tmp, b, ["-a", `${VIP4}/24`, "-k", "100"]);
  const nodes = [na, nb];
  const m = await oneMaster(nodes, 10_000);
  if (m !== 0) throw new Error(`expected a as the one master, got ${m}: ${lastSeen(nodes)}`);
  return { na, nb, nodes };
}
