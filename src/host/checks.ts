// Health-check probes: one OS effect each (run a script, watch a link, look for a file, look for a
// process). A probe reports raw results only; debouncing (fall/rise) and demotion live in the daemon.
// Scripts run in their own process group and the whole group is killed at the timeout; a probe never
// runs twice at once, the next run starts `intervalMs` after the previous one ended, and at most
// MAX_SCRIPTS scripts of the process run at the same time (the rest wait their turn). Nothing here
// blocks: a script that hangs costs a timer and a child, never the event loop.
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";

import { LinkWatcher } from "./link.js";

export type ProbeKind = "script" | "interface" | "file" | "process";

export interface ProbeSpec {
  name: string;
  kind: ProbeKind;
  script?: string | string[]; // string: /bin/sh -c; list: that argv, no shell
  interface?: string;
  file?: string;
  process?: string;
  intervalMs: number;
  timeoutMs: number;
}

/** One probe outcome. `demotion`: a file check's number (the file's content), when it has one. */
export interface ProbeResult {
  ok: boolean;
  detail: string; // last output line, exit status, "eth1: no carrier", ...
  demotion?: number;
  durationMs: number;
}

export interface ProbeOptions {
  /** ms to wait before spawning now (the daemon keeps spawns out of the moments right before an advert). */
  gate?: () => number;
  /** For tests: the /proc to read. */
  procDir?: string;
}

/** Process-wide cap on scripts running at once. */
export const MAX_SCRIPTS = 4;
let running = 0;
const waiting: (() => void)[] = [];
function acquireSlot(): Promise<void> {
  if (running < MAX_SCRIPTS) {
    running++;
    return Promise.resolve();
  }
  return new Promise((r) => waiting.push(r));
}
function releaseSlot(): void {
  const next = waiting.shift();
  if (next) next();
  else running--;
}

const OUTPUT_CAP = 4096;
const lastLine = (text: string) => text.split("\n").map((l) => l.trim()).filter(Boolean).pop() ?? "";

/** Runs a check script once: exit 0 = healthy. Killed with its process group after timeoutMs. */
export function runScript(script: string | string[], timeoutMs: number): Promise<ProbeResult> {
  const t0 = performance.now();
  const [file, args] = Array.isArray(script) ? [script[0], script.slice(1)] : ["/bin/sh", ["-c", script]];
  return new Promise((resolve) => {
    let out = "";
    let done = false;
    let timedOut = false;
    const finish = (ok: boolean, detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, detail, durationMs: Math.round((performance.now() - t0) * 10) / 10 });
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(file, args, { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CARP_CHECK: "1" } });
    } catch (e) {
      resolve({ ok: false, detail: `cannot run ${file}: ${(e as Error).message}`, durationMs: 0 });
      return;
    }
    const take = (b: Buffer) => {
      if (out.length < OUTPUT_CAP) out += b.toString("utf8", 0, Math.min(b.length, OUTPUT_CAP - out.length));
    };
    child.stdout!.on("data", take);
    child.stderr!.on("data", take);
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
      // A grandchild that left the group may hold the pipes open: do not wait for them.
      finish(false, `timed out after ${timeoutMs} ms${lastLine(out) ? `: ${lastLine(out)}` : ""}`);
    }, timeoutMs);
    child.on("error", (e: NodeJS.ErrnoException) => finish(false, `cannot run ${file}: ${e.code ?? e.message}`));
    child.on("exit", (code, signal) => {
      killGroup(); // leftovers of the script's group (background children) go with it
      const line = lastLine(out);
      // Give the pipes a moment to deliver the last output, then report.
      const report = () => {
        const l = lastLine(out) || line;
        if (timedOut) return;
        if (code === 0) finish(true, l || "exit 0");
        else finish(false, `${code !== null ? `exit ${code}` : `killed by ${signal}`}${l ? `: ${l}` : ""}`);
      };
      if (child.stdout!.readableEnded && child.stderr!.readableEnded) report();
      else {
        child.on("close", report);
        setTimeout(report, 50).unref();
      }
    });
  });
}

/** A file check: absent = healthy; present = failing, its first number (if any) is the demotion. */
export async function probeFile(path: string): Promise<ProbeResult> {
  const t0 = performance.now();
  const dur = () => Math.round((performance.now() - t0) * 10) / 10;
  try {
    const text = (await readFile(path)).subarray(0, 256).toString("utf8");
    const m = /^\s*(-?\d+)\s*$/.exec(text.split("\n")[0] ?? "");
    return m
      ? { ok: false, detail: `${path} exists (demotion ${m[1]})`, demotion: Number(m[1]), durationMs: dur() }
      : { ok: false, detail: `${path} exists`, durationMs: dur() };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { ok: true, detail: `${path} absent`, durationMs: dur() };
    return { ok: false, detail: `${path}: ${code ?? (e as Error).message}`, durationMs: dur() };
  }
}

/** A process check: healthy while some process has this name (/proc/PID/comm, 15 characters). */
export async function probeProcess(name: string, procDir = "/proc"): Promise<ProbeResult> {
  const t0 = performance.now();
  const want = name.slice(0, 15);
  let n = 0;
  const pids = (await readdir(procDir).catch(() => [] as string[])).filter((d) => /^\d+$/.test(d));
  await Promise.all(
    pids.map(async (pid) => {
      const comm = await readFile(`${procDir}/${pid}/comm`, "utf8").catch(() => "");
      if (comm.trimEnd() === want) n++;
    }),
  );
  const durationMs = Math.round((performance.now() - t0) * 10) / 10;
  return n > 0 ? { ok: true, detail: `${n} ${name} process${n > 1 ? "es" : ""} running`, durationMs } : { ok: false, detail: `no ${name} process running`, durationMs };
}

/** Runs one probe over and over (or, for interfaces, on every link change) and reports each result. */
export class Probe {
  private timer: NodeJS.Timeout | null = null;
  private link: LinkWatcher | null = null;
  private stopped = true;
  private busy = false;

  constructor(
    readonly spec: ProbeSpec,
    private readonly onResult: (r: ProbeResult) => void,
    private readonly o: ProbeOptions = {},
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (this.spec.kind === "interface") {
      const ifname = this.spec.interface!;
      const w = new LinkWatcher(ifname);
      this.link = w;
      const report = (s: { up: boolean; reason: string }) => this.onResult({ ok: s.up, detail: s.up ? `${ifname}: up` : `${ifname}: ${s.reason}`, durationMs: 0 });
      w.on("change", report);
      w.on("error", () => {}); // it falls back to polling by itself
      void w.start().then((s) => {
        if (!this.stopped) report(s);
      });
      return;
    }
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.link?.stop();
    this.link = null;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.once(), ms);
  }

  private async once(): Promise<void> {
    this.timer = null;
    if (this.stopped || this.busy) return;
    const wait = this.o.gate?.() ?? 0;
    if (wait > 0) return this.schedule(wait);
    this.busy = true;
    let r: ProbeResult;
    try {
      r = await this.probe();
    } finally {
      this.busy = false;
    }
    if (this.stopped) return;
    this.onResult(r);
    this.schedule(this.spec.intervalMs);
  }

  private async probe(): Promise<ProbeResult> {
    const s = this.spec;
    if (s.kind === "file") return probeFile(s.file!);
    if (s.kind === "process") return probeProcess(s.process!, this.o.procDir);
    await acquireSlot();
    try {
      // The gate again: the slot may have taken a while.
      const wait = this.o.gate?.() ?? 0;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      return await runScript(s.script!, s.timeoutMs);
    } finally {
      releaseSlot();
    }
  }
}
