// A process started inside a lab namespace (`ip netns exec NS cmd ...`, which execs in place, so the
// child's pid is the command's pid). Output lines are kept and can be awaited; stop() escalates
// SIGTERM -> SIGKILL; the process gets its own process group so helpers it forks die with it.
import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { createInterface } from "node:readline";

import { LabError } from "./sys.js";

export interface LabLine {
  /** ms since the epoch when the line was read. */
  t: number;
  stream: "stdout" | "stderr";
  text: string;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Lines kept in memory (default 2000). */
  keep?: number;
}

export class LabProcess extends EventEmitter<{ line: [LabLine]; exit: [number | null, NodeJS.Signals | null] }> {
  readonly lines: LabLine[] = [];
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;
  private child: ChildProcess;
  private keep: number;

  constructor(
    readonly ns: string,
    readonly cmd: string,
    readonly args: string[],
    opts: SpawnOptions = {},
  ) {
    super();
    this.keep = opts.keep ?? 2000;
    this.child = spawn("ip", ["netns", "exec", ns, cmd, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    // Not unref'd: a pending stop()/kill() must see the exit event, so the child keeps the loop alive
    // until it is gone (Lab.destroy()/close() end every tracked process).
    for (const stream of ["stdout", "stderr"] as const) {
      const rl = createInterface({ input: this.child[stream]! });
      rl.on("line", (text) => {
        const l: LabLine = { t: Date.now(), stream, text };
        this.lines.push(l);
        if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
        this.emit("line", l);
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.on("error", (e) => {
        this.lines.push({ t: Date.now(), stream: "stderr", text: `spawn failed: ${e.message}` });
        this.exitCode = 127;
        resolve();
      });
      this.child.on("exit", (code, sig) => {
        this.exitCode = code;
        this.exitSignal = sig;
        this.emit("exit", code, sig);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  /** Resolves with the first line (already seen or future) matching `re`; rejects after `ms` or on exit. */
  waitForLine(re: RegExp, ms = 5000, since = 0): Promise<LabLine> {
    const seen = this.lines.find((l) => l.t >= since && re.test(l.text));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.off("line", onLine);
        this.off("exit", onExit);
      };
      const onLine = (l: LabLine) => {
        if (re.test(l.text)) {
          done();
          resolve(l);
        }
      };
      const onExit = () => {
        done();
        reject(new LabError(`${this.cmd} exited (${this.exitSignal ?? this.exitCode}) before printing ${re}: ${this.tail(1)}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new LabError(`${this.cmd} did not print ${re} within ${ms} ms: ${this.tail(1)}`));
      }, ms);
      this.on("line", onLine);
      this.on("exit", onExit);
    });
  }

  /** The last n output lines joined with " | " (for error messages). */
  tail(n = 3): string {
    return this.lines.slice(-n).map((l) => l.text).join(" | ") || "(no output)";
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.running || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, sig);
    } catch {
      try {
        this.child.kill(sig);
      } catch {
        /* gone */
      }
    }
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when the process has exited. */
  async stop(graceMs = 2000): Promise<void> {
    if (!this.running) return;
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL now (a crash, as far as peers can tell). */
  async kill(): Promise<void> {
    this.signal("SIGKILL");
    await this.exited;
  }
}
