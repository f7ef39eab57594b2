// Test-side handle on an agent.mjs child running inside a namespace.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const agentPath = join(dirname(fileURLToPath(import.meta.url)), "agent.mjs");

export interface AgentError {
  message: string;
  code?: string;
  errno?: number;
}

export interface WirePacket {
  data: string;
  src: string;
  dst: string;
  ttl: number;
  ifindex: number;
  time: number;
  family: 4 | 6;
  truncated: boolean;
}

export interface WireFrame {
  time: number;
  linktype: number;
  data: string;
  origLen: number;
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: AgentError };

export class Agent {
  readonly packets = new Map<number, WirePacket[]>();
  readonly frames = new Map<number, WireFrame[]>();
  readonly errors = new Map<number, AgentError[]>();
  readonly stderr: string[] = [];
  #child: ChildProcessWithoutNullStreams;
  #pending = new Map<number, (r: Reply) => void>();
  #id = 1;
  #ready: Promise<void>;
  #waiters: (() => void)[] = [];

  constructor(ns: string, transpiledRoot: string) {
    this.#child = spawn("ip", ["netns", "exec", ns, process.execPath, agentPath, transpiledRoot]);
    this.#child.stderr.on("data", (d: Buffer) => this.stderr.push(d.toString()));
    let resolveReady!: () => void;
    this.#ready = new Promise((r) => (resolveReady = r));
    createInterface({ input: this.#child.stdout }).on("line", (line) => {
      const msg = JSON.parse(line);
      if (msg.ready) resolveReady();
      else if (msg.event === "packets") this.#push(this.packets, msg.handle, msg.batch);
      else if (msg.event === "frames") this.#push(this.frames, msg.handle, msg.batch);
      else if (msg.event === "error") this.#push(this.errors, msg.handle, [msg.error]);
      else if (msg.id !== undefined) this.#pending.get(msg.id)?.(msg as Reply);
    });
  }

  #push<T>(map: Map<number, T[]>, h: number, batch: T[]): void {
    if (!map.has(h)) map.set(h, []);
    map.get(h)!.push(...batch);
    for (const w of this.#waiters.splice(0)) w();
  }

  async call(op: string, args: Record<string, unknown> = {}): Promise<Reply> {
    await this.#ready;
    const id = this.#id++;
    const reply = new Promise<Reply>((resolve) => this.#pending.set(id, resolve));
    this.#child.stdin.write(JSON.stringify({ id, op, ...args }) + "\n");
    return reply;
  }

  /** call() that expects success. */
  async ok<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const r = await this.call(op, args);
    if (!r.ok) throw new Error(`agent ${op} failed: ${r.error.message}\n${this.stderr.join("")}`);
    return r.result as T;
  }

  /** Waits until pred() holds (re-checked on every event), or rejects after ms. */
  async until(pred: () => boolean, ms = 3000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for packets");
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 100));
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Lets in-flight packets arrive, for negative checks. */
  settle(ms = 300): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
  }

  close(): void {
    this.#child.stdin.end();
    setTimeout(() => this.#child.kill("SIGKILL"), 2000).unref();
  }
}
