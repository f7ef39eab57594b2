// The control socket: JSON lines over a unix stream socket (mode 0600). One request per line, one
// response per line:
//   {"op":"status"}                                  -> {"ok":true,"status":NodeStatus}
//   {"op":"set","vhid":1,"advskew":30}               -> {"ok":true,"vhid":VhidReport}
//   anything wrong                                   -> {"ok":false,"error":"--advskew: …"}
import { chmodSync, mkdirSync, readdirSync, readlinkSync, unlinkSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { CarpNodeError, type CarpNode, type SetRequest } from "./node.js";

export type ControlRequest = { op: "status" } | ({ op: "set" } & SetRequest);
export type ControlResponse = { ok: true; [k: string]: unknown } | { ok: false; error: string; kind?: "usage" | "runtime" };

const replacer = (_k: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);

function handle(node: CarpNode, line: string): ControlResponse {
  let req: ControlRequest;
  try {
    req = JSON.parse(line) as ControlRequest;
  } catch {
    return { ok: false, error: "request is not JSON", kind: "usage" };
  }
  try {
    if (req?.op === "status") return { ok: true, status: node.status() };
    if (req?.op === "set") {
      const { op: _op, ...rest } = req;
      return { ok: true, vhid: node.set(rest) };
    }
    return { ok: false, error: `unknown op ${JSON.stringify((req as { op?: unknown })?.op)}`, kind: "usage" };
  } catch (e) {
    return { ok: false, error: (e as Error).message, kind: e instanceof CarpNodeError ? e.kind : "runtime" };
  }
}

/** Is something already answering on this path? */
function alive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

export class ControlServer {
  private server: Server | null = null;
  private readonly clients = new Set<Socket>();
  constructor(
    readonly path: string,
    private readonly node: CarpNode,
  ) {}

  /** Listens; a stale socket file is replaced, a live one is an error (another daemon uses it). */
  async start(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    if (await alive(this.path)) {
      throw new CarpNodeError(`--control: ${this.path} is in use by another carp daemon (choose another --control PATH)`, "usage");
    }
    try {
      unlinkSync(this.path);
    } catch {
      /* not there */
    }
    const server = createServer((sock) => {
      this.clients.add(sock);
      sock.on("close", () => this.clients.delete(sock));
      sock.on("error", () => sock.destroy());
      // readline re-emits socket errors: handle them here too, or a client hanging up kills the daemon.
      const rl = createInterface({ input: sock });
      rl.on("error", () => sock.destroy());
      rl.on("line", (line) => {
        if (!line.trim()) return;
        const res = handle(this.node, line);
        if (!sock.destroyed) sock.write(JSON.stringify(res, replacer) + "\n");
      });
    });
    // umask-independent 0600: create under a restrictive umask, then chmod to be sure.
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.path, () => resolve());
      });
    } catch (e) {
      throw new CarpNodeError(`--control: cannot listen on ${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, "runtime");
    } finally {
      process.umask(old);
    }
    chmodSync(this.path, 0o600);
    this.server = server;
  }

  close(): void {
    for (const c of this.clients) c.destroy();
    this.server?.close();
    this.server = null;
    try {
      unlinkSync(this.path);
    } catch {
      /* gone */
    }
  }
}

/** Client side: sends one request and resolves with the response (or rejects with a one-line Error). */
export function controlRequest(path: string, req: ControlRequest, timeoutMs = 5000): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = e.code === "ENOENT" || e.code === "ECONNREFUSED" ? "no carp daemon listening" : e.code === "EACCES" ? "permission denied (the socket is 0600: run as the daemon's user)" : (e.code ?? e.message);
      reject(Object.assign(new Error(`--control ${path}: ${why}`), { code: e.code }));
    });
    sock.once("connect", () => sock.write(JSON.stringify(req) + "\n"));
    const rl = createInterface({ input: sock });
    rl.on("error", () => undefined); // the socket's own handler above reports it
    rl.once("line", (line) => {
      clearTimeout(timer);
      sock.destroy();
      try {
        resolve(JSON.parse(line) as ControlResponse);
      } catch {
        reject(new Error(`--control ${path}: unparsable answer`));
      }
    });
  });
}

/** This process's network namespace inode ("net:[4026531840]" -> "4026531840"), or null off Linux. */
export function netnsInode(): string | null {
  try {
    return /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/net"))?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * Where daemons put their sockets by default: <dir>/carp.sock (config files) or <dir>/<if>-<vhid>.sock
 * (ucarp-style runs). <dir> is /run/carp/net-<inode of this network namespace>: /run is shared by every
 * namespace of a host (`ip netns exec` does not remount it), so keying by the namespace lets identical
 * command lines run side by side in two namespaces, as ucarp does, and `carp status`/`carp set` see the
 * daemons of their own namespace. CARP_RUN_DIR replaces the whole directory (used as given, not keyed).
 */
export const CONTROL_DIR = process.env.CARP_RUN_DIR || join("/run/carp", `net-${netnsInode() ?? "default"}`);

/** The default socket of a ucarp-style command-line run (one vhid per process, like ucarp). */
export function defaultControlFor(ifname: string, vhid: number): string {
  return join(CONTROL_DIR, `${ifname}-${vhid}.sock`);
}

/** Every *.sock in `dir` (the candidates for `carp status` / `carp set` without --control). */
export function listControlSockets(dir = CONTROL_DIR): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith(".sock"))
      .sort()
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}
