// Up/down script runner. ucarp-compatible invocation (`script <interface> <vip> [xparam]`, once per VIP), or
// once per transition with every VIP (hookMode "all"). Hooks of one vhid run in order (a queue per vhid); the
// caller is never blocked: `transition()` returns at once, so the takeover advertisement never waits for a
// script (ucarp waits synchronously, carp-protocol.md §7.5 item 9). Each script has a timeout after which its
// whole process group is killed (SIGTERM, then SIGKILL after a grace period).
// The newest transition wins: when a vhid's next transition arrives, hooks of older transitions that have
// not started are dropped, and a running one gets a short grace (1 s) before its process group is killed
// (SIGTERM, SIGKILL 0.5 s later), so a hung hook delays the next transition's hooks by ~1.5 s at most.
// Dropped and killed hooks are reported with `superseded: true`.
import { spawn } from "node:child_process";
import type { HookMode, VipAddress } from "./types.js";

export type CarpState = "INIT" | "BACKUP" | "MASTER";

/** The parts of a vhid's configuration the hook runner needs. */
export interface HookConfig {
  interface: string;
  vhid: number;
  addresses: VipAddress[];
  upscript?: string;
  downscript?: string;
  xparam?: string;
  neutral: boolean;
  shutdownScript: boolean;
  hookMode: HookMode;
  hookTimeoutMs: number;
}

export interface HookTransition {
  from: CarpState;
  to: CarpState;
  reason: string;
  /** First transition since start (for ucarp's --neutral). Defaults to "first one this runner saw". */
  initial?: boolean;
  /** Extra CARP_* context for the scripts (e.g. CARP_MASTER_SRC); cannot override the standard ones. */
  env?: Record<string, string>;
}

export interface HookInvocation {
  file: string;
  args: string[];
  env: Record<string, string>;
}

export interface HookResult {
  vhid: number;
  interface: string;
  file: string;
  args: string[];
  /** Target state (hooks) or the devd event type. */
  to: string;
  /** Exit code, or null when killed by a signal or never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  durationMs: number;
  /** First 4 KiB of each stream. */
  stdout: string;
  stderr: string;
  /** Spawn failure (ENOENT, EACCES, ...), or why a superseded hook was stopped or never run. */
  error?: string;
  /** A newer transition of the vhid arrived: this hook was killed after the grace, or never started. */
  superseded?: boolean;
}

const OUTPUT_LIMIT = 4096;
/** Between SIGTERM and SIGKILL for a superseded hook. */
const SUPERSEDED_KILL_MS = 500;

/** Which script (if any) a transition runs. */
export function scriptFor(cfg: HookConfig, t: HookTransition, initial: boolean): string | undefined {
  if (t.to === "MASTER") return cfg.upscript;
  if (t.to === "BACKUP") {
    if (cfg.neutral && initial && t.from === "INIT") return undefined;
    return cfg.downscript;
  }
  // Leaving MASTER for INIT (link down, shutdown) releases the VIPs: tell the scripts.
  if (t.to === "INIT" && t.from === "MASTER") return cfg.downscript;
  return undefined;
}

/** The argv/env for one transition; ucarp passes the VIP as given to --addr (no prefix). */
export function hookInvocations(cfg: HookConfig, t: HookTransition, file: string): HookInvocation[] {
  const vips = cfg.addresses.map((a) => `${a.address}/${a.prefix}`).join(" ");
  const base: Record<string, string> = {
    ...(t.env ?? {}),
    CARP_VHID: String(cfg.vhid),
    CARP_STATE: t.to,
    CARP_PREV_STATE: t.from,
    CARP_REASON: t.reason,
    CARP_VIPS: vips,
    CARP_INTERFACE: cfg.interface,
  };
  const tail = cfg.xparam !== undefined ? [cfg.xparam] : [];
  if (cfg.hookMode === "all") {
    const list = cfg.addresses.map((a) => a.given).join(" ");
    return [{ file, args: [cfg.interface, list, ...tail], env: base }];
  }
  return cfg.addresses.map((a) => ({
    file,
    args: [cfg.interface, a.given, ...tail],
    env: { ...base, CARP_VIP: a.given },
  }));
}

/**
 * The fault script's argv/env (keepalived notify_fault): the up/down conventions, with CARP_STATE=FAULT,
 * CARP_PREV_STATE the vhid's state and CARP_REASON why it cannot be MASTER.
 */
export function faultInvocations(cfg: HookConfig, file: string, state: CarpState, reason: string): HookInvocation[] {
  return hookInvocations(cfg, { from: state, to: state, reason }, file).map((i) => ({ ...i, env: { ...i.env, CARP_STATE: "FAULT" } }));
}

export interface HookRunnerOptions {
  /** Called once per finished script (the daemon logs it). */
  onResult?: (r: HookResult) => void;
  /** Between SIGTERM and SIGKILL after a timeout. Default 2000 ms. */
  killGraceMs?: number;
  /** How long a running hook may go on once a newer transition of its vhid arrived. Default 1000 ms. */
  supersedeGraceMs?: number;
  /** Base environment; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Runs one script; resolves (never rejects) when it has exited or been killed. */
export function runScript(
  inv: HookInvocation,
  timeoutMs: number,
  meta: { vhid: number; interface: string; to: string },
  opts: { killGraceMs?: number; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<HookResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const result: HookResult = {
      ...meta,
      file: inv.file,
      args: inv.args,
      code: null,
      signal: null,
      timedOut: false,
      durationMs: 0,
      stdout: "",
      stderr: "",
    };
    let child;
    try {
      child = spawn(inv.file, inv.args, {
        env: { ...(opts.env ?? process.env), ...inv.env },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true, // own process group, so a timeout kills the script's children too
      });
    } catch (e) {
      result.error = (e as Error).message;
      resolve(result);
      return;
    }
    const collect = (key: "stdout" | "stderr") => (d: Buffer) => {
      if (result[key].length < OUTPUT_LIMIT) result[key] = (result[key] + d.toString("utf8")).slice(0, OUTPUT_LIMIT);
    };
    child.stdout?.on("data", collect("stdout"));
    child.stderr?.on("data", collect("stderr"));
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      result.timedOut = true;
      killGroup("SIGTERM");
      killTimer = setTimeout(() => killGroup("SIGKILL"), opts.killGraceMs ?? 2000);
    }, timeoutMs);
    // Superseded by a newer transition: the group is killed now, SIGKILL shortly after.
    const onAbort = () => {
      if (done || result.timedOut) return;
      result.superseded = true;
      clearTimeout(timer);
      killGroup("SIGTERM");
      killTimer = setTimeout(() => killGroup("SIGKILL"), SUPERSEDED_KILL_MS);
    };
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // After a timeout the script's leader may be gone while children that ignored SIGTERM linger in
      // its group: let the SIGKILL escalation still run, without holding the event loop open.
      opts.signal?.removeEventListener("abort", onAbort);
      if (killTimer) {
        if (result.timedOut || result.superseded) killTimer.unref();
        else clearTimeout(killTimer);
      }
      result.durationMs = Date.now() - started;
      // Do not wait for background grandchildren holding our pipes.
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(result);
    };
    child.on("error", (e: NodeJS.ErrnoException) => {
      result.error = `${e.code ?? "error"}: ${e.message}`;
      finish();
    });
    child.on("exit", (code, signal) => {
      result.code = code;
      result.signal = signal;
      // Let buffered output arrive (pipes flush right after exit), but never wait long.
      setImmediate(() => setImmediate(finish));
    });
  });
}

export class HookRunner {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly depth = new Map<string, number>();
  private readonly seen = new Set<string>();
  /** Generation of each vhid's newest transition; the running job of each vhid. */
  private readonly latest = new Map<string, number>();
  private readonly running = new Map<string, { gen: number; abort: AbortController; grace?: NodeJS.Timeout }>();
  private generation = 0;

  constructor(private readonly opts: HookRunnerOptions = {}) {}

  private key(cfg: Pick<HookConfig, "vhid" | "interface">): string {
    return `${cfg.vhid}@${cfg.interface}`;
  }

  /** Appends a job to the vhid's queue; returns at once with the job's eventual result. */
  private enqueue<T>(key: string, job: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(key) ?? Promise.resolve();
    this.depth.set(key, (this.depth.get(key) ?? 0) + 1);
    let tail: Promise<unknown> | undefined;
    const next = prev.then(job).finally(() => {
      const d = (this.depth.get(key) ?? 1) - 1;
      if (d > 0) this.depth.set(key, d);
      else this.depth.delete(key);
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    tail = next.catch(() => undefined);
    this.queues.set(key, tail);
    return next;
  }

  private report(r: HookResult): void {
    try {
      this.opts.onResult?.(r);
    } catch {
      /* a logging callback must not break the queue */
    }
  }

  private runAll(cfg: HookConfig, invs: HookInvocation[], to: CarpState): Promise<HookResult[]> {
    const key = this.key(cfg);
    const gen = ++this.generation;
    this.latest.set(key, gen);
    // The running job of an older transition gets the grace, then is killed.
    const cur = this.running.get(key);
    const grace = this.opts.supersedeGraceMs ?? 1000;
    if (cur && cur.gen < gen && !cur.grace) cur.grace = setTimeout(() => cur.abort.abort(), grace);
    return this.enqueue(key, async () => {
      const results: HookResult[] = [];
      const meta = { vhid: cfg.vhid, interface: cfg.interface, to };
      const job = { gen, abort: new AbortController() } as { gen: number; abort: AbortController; grace?: NodeJS.Timeout };
      this.running.set(key, job);
      try {
        for (const inv of invs) {
          if (this.latest.get(key) !== gen) {
            // A newer transition is waiting: the rest of this one never runs.
            const r: HookResult = {
              ...meta, file: inv.file, args: inv.args, code: null, signal: null, timedOut: false, durationMs: 0,
              stdout: "", stderr: "", superseded: true, error: "superseded by a newer transition: not run",
            };
            results.push(r);
            this.report(r);
            continue;
          }
          const r = await runScript(inv, cfg.hookTimeoutMs, meta, { ...this.opts, signal: job.abort.signal });
          if (r.superseded) r.error = `superseded by a newer transition: killed after ${grace} ms (${r.signal ?? `exit ${r.code}`})`;
          results.push(r);
          this.report(r);
        }
      } finally {
        clearTimeout(job.grace);
        if (this.running.get(key) === job) this.running.delete(key);
      }
      return results;
    });
  }

  /** Queues the hooks of a state change. Never blocks; the promise is only for callers that care. */
  transition(cfg: HookConfig, t: HookTransition): Promise<HookResult[]> {
    const key = this.key(cfg);
    const initial = t.initial ?? !this.seen.has(key);
    this.seen.add(key);
    const file = scriptFor(cfg, t, initial);
    if (file === undefined) return Promise.resolve([]);
    return this.runAll(cfg, hookInvocations(cfg, t, file), t.to);
  }

  /** ucarp -z: at exit, run the downscript unless already BACKUP. Await it before exiting. */
  shutdown(cfg: HookConfig, current: CarpState): Promise<HookResult[]> {
    if (!cfg.shutdownScript || current === "BACKUP" || cfg.downscript === undefined) return Promise.resolve([]);
    const t: HookTransition = { from: current, to: "BACKUP", reason: "shutdown" };
    return this.runAll(cfg, hookInvocations(cfg, t, cfg.downscript), "BACKUP");
  }

  /** Number of queued or running transitions for a vhid. */
  pending(cfg: Pick<HookConfig, "vhid" | "interface">): number {
    return this.depth.get(this.key(cfg)) ?? 0;
  }

  /** Resolves when every queue is empty. */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }
}
