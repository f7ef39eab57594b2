// The control socket: JSON lines over a unix stream socket (mode 0600). One request per line, one
// response per line:
//   {"op":"status"}                                  -> {"ok":true,"status":NodeStatus}
//   {"op":"set","vhid":1,"advskew":30}               -> {"ok":true,"vhid":VhidReport}
//   {"op":"metrics"}                                 -> {"ok":true,"metrics":MetricsInput}
//   {"op":"demote","delta":N[,"group":"NAME"]}       -> {"ok":true,"status":NodeStatus} (global or group demotion)
//   {"op":"events","since":N}  (since optional)      -> {"ok":true,"seq":LAST,"oldest":OLDEST}, then one
//        CarpEvent per line (buffered ones after N first) until the client closes; a client that leaves
//        more than maxPendingOutputBytes unread gets {"type":"overflow",...} and is disconnected
//   anything wrong                                   -> {"ok":false,"error":"--advskew: …"}
// Limits (CONTROL_LIMITS): a request line of at most 64 KiB, a complete request within 5 s, 32 connections.
import { chmodSync, mkdirSync, readdirSync, readlinkSync, unlinkSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { CarpNodeError, type CarpNode, type SetRequest } from "./node.js";

export type ControlRequest = { op: "status" } | { op: "metrics" } | ({ op: "set" } & SetRequest) | { op: "events"; since?: number } | { op: "demote"; delta: number; group?: string };
export type ControlResponse = { ok: true; [k: string]: unknown } | { ok: false; error: string; kind?: "usage" | "runtime" };

const replacer = (_k: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);

/** Limits of the server side: one client can neither hold memory nor the event loop. */
export const CONTROL_LIMITS = {
  /** Longest request line in bytes (newline excluded); past it the connection is answered once and closed. */
  maxRequestBytes: 64 * 1024,
  /** A connection without a complete request for this long is answered once and closed. */
  idleMs: 5000,
  /** Connections open at once; one more is answered with one error line and closed. */
  maxConnections: 32,
  /** Unread answers a client may leave queued before it is dropped. */
  maxPendingOutputBytes: 1024 * 1024,
};

const SET_KEYS: Record<string, "number" | "string" | "boolean" | "state"> = {
  vhid: "number", interface: "string", advskew: "number", advbase: "number", state: "state", preempt: "boolean", demote: "number",
};

/** A `set` request with only known keys of the right JSON types, or a usage error naming the key. */
function checkSet(req: Record<string, unknown>): SetRequest | string {
  for (const [k, v] of Object.entries(req)) {
    if (k === "op") continue;
    const t = SET_KEYS[k];
    if (!t) return `unknown key ${JSON.stringify(k)} in set request`;
    const ok = t === "state" ? v === "master" || v === "backup" : typeof v === t;
    if (!ok) return `--${k}: must be ${t === "state" ? "master or backup" : `a ${t}`}, got ${JSON.stringify(v)}`;
  }
  if (req.vhid === undefined) return "--vhid: required";
  const { op: _op, ...rest } = req;
  return rest as unknown as SetRequest;
}

function handle(node: CarpNode, line: string): ControlResponse {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch {
    return { ok: false, error: "request is not JSON", kind: "usage" };
  }
  if (typeof req !== "object" || req === null || Array.isArray(req)) return { ok: false, error: "request is not a JSON object", kind: "usage" };
  const r = req as Record<string, unknown>;
  try {
    if (r.op === "status") {
      const extra = Object.keys(r).find((k) => k !== "op");
      if (extra !== undefined) return { ok: false, error: `unknown key ${JSON.stringify(extra)} in status request`, kind: "usage" };
      return { ok: true, status: node.status() };
    }
    if (r.op === "metrics") {
      const extra = Object.keys(r).find((k) => k !== "op");
      if (extra !== undefined) return { ok: false, error: `unknown key ${JSON.stringify(extra)} in metrics request`, kind: "usage" };
      return { ok: true, metrics: node.metricsSnapshot() };
    }
    if (r.op === "set") {
      const set = checkSet(r);
      if (typeof set === "string") return { ok: false, error: set, kind: "usage" };
      return { ok: true, vhid: node.set(set) };
    }
    if (r.op === "demote") {
      const extra = Object.keys(r).find((k) => k !== "op" && k !== "delta" && k !== "group");
      if (extra !== undefined) return { ok: false, error: `unknown key ${JSON.stringify(extra)} in demote request`, kind: "usage" };
      if (typeof r.delta !== "number" || !Number.isInteger(r.delta)) return { ok: false, error: "--demote: must be an integer", kind: "usage" };
      if (r.group !== undefined && (typeof r.group !== "string" || r.group === "")) return { ok: false, error: "--group: must be a group name", kind: "usage" };
      return { ok: true, status: node.demote({ delta: r.delta, ...(r.group !== undefined ? { group: r.group as string } : {}) }) };
    }
    return { ok: false, error: `unknown op ${JSON.stringify(r.op)}`, kind: "usage" };
  } catch (e) {
    return { ok: false, error: (e as Error).message, kind: e instanceof CarpNodeError ? e.kind : "runtime" };
  }
}

/**
 * `{"op":"events","since":N}` -> { since } (since absent: only new events), a usage error, or null for
 * any other line (handled by handle()).
 */
function eventsRequest(line: string): { since?: number } | string | null {
  let r: unknown;
  try {
    r = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof r !== "object" || r === null || (r as { op?: unknown }).op !== "events") return null;
  const { op: _op, since, ...rest } = r as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) return `unknown key ${JSON.stringify(extra)} in events request`;
  if (since === undefined) return {};
  if (typeof since !== "number" || !Number.isSafeInteger(since) || since < 0) return `--since: must be a sequence number (integer >= 0), got ${JSON.stringify(since)}`;
  return { since };
}

const DISCARD_AFTER_REFUSAL = 1024 * 1024;

const errorLine = (error: string) => JSON.stringify({ ok: false, error, kind: "usage" }) + "\n";

/**
 * One client connection. Bytes are counted as they arrive; at most maxRequestBytes of an unfinished line are
 * kept. One request is answered per event-loop turn (a pipelined burst cannot hold up an advert), and
 * reading pauses while the client leaves answers unread.
 */
function serveConnection(sock: Socket, node: CarpNode, limits: typeof CONTROL_LIMITS): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const lines: string[] = [];
  let closing = false;
  let scheduled = false;

  // Answers once and closes. Whatever the client still sends is discarded, never kept, for at most 1 s and
  // 1 MiB (so a client that stops sending reads the answer instead of a reset); then the socket is destroyed.
  // Stops reading requests: from now on what the client sends is counted and dropped, and past `limit`
  // bytes the connection is destroyed.
  const stopReading = (limit: number) => {
    closing = true;
    clearTimeout(idle);
    pending = [];
    lines.length = 0;
    sock.removeAllListeners("data");
    let discarded = 0;
    sock.on("data", (d: Buffer) => {
      discarded += d.length;
      if (discarded > limit) sock.destroy();
    });
  };
  const refuse = (why: string) => {
    if (closing) return;
    stopReading(DISCARD_AFTER_REFUSAL);
    sock.resume();
    const t = setTimeout(() => sock.destroy(), 1000);
    t.unref();
    sock.end(errorLine(why));
    sock.once("close", () => clearTimeout(t));
  };
  let idle = setTimeout(() => refuse(`no complete request within ${limits.idleMs} ms`), limits.idleMs);
  const rearm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => refuse(`no complete request within ${limits.idleMs} ms`), limits.idleMs);
  };

  const drainLines = () => {
    scheduled = false;
    if (closing || sock.destroyed) return;
    const line = lines.shift();
    const ev = line !== undefined ? eventsRequest(line) : null;
    if (ev !== null && typeof ev !== "string") return stream(ev.since);
    if (line !== undefined && line.trim()) {
      const res = typeof ev === "string" ? { ok: false, error: ev, kind: "usage" } : handle(node, line);
      sock.write(JSON.stringify(res, replacer) + "\n");
      if (sock.writableLength > limits.maxPendingOutputBytes) {
        sock.destroy();
        return;
      }
    }
    if (lines.length > 0) {
      scheduled = true;
      setImmediate(drainLines);
    } else if (!sock.writableNeedDrain) {
      sock.resume();
    } else {
      sock.once("drain", () => {
        if (!closing && lines.length === 0) sock.resume();
      });
    }
  };

  // The events op: the connection becomes a stream until either side closes. What the client sends from now
  // on is discarded (at most maxRequestBytes of it); a client that stops reading is dropped with an overflow line.
  const stream = (since: number | undefined) => {
    stopReading(limits.maxRequestBytes);
    sock.on("end", () => sock.destroy());
    sock.write(JSON.stringify({ ok: true, seq: node.events.lastSeq, oldest: node.events.oldestSeq }) + "\n");
    let stopped = false; // also during the replay, before `sub` exists
    let sub: { close(): void } | undefined;
    sub = node.events.subscribe(since, (e) => {
      if (stopped) return;
      if (sock.destroyed) {
        stopped = true;
        sub?.close();
        return;
      }
      if (sock.writableLength > limits.maxPendingOutputBytes) {
        stopped = true;
        sub?.close();
        sock.end(JSON.stringify({ type: "overflow", ts: Date.now(), lastSeq: e.seq - 1, reason: `more than ${limits.maxPendingOutputBytes} bytes unread: disconnected (reconnect with since ${e.seq - 1})` }) + "\n");
        setTimeout(() => sock.destroy(), 10_000).unref();
        return;
      }
      sock.write(JSON.stringify(e) + "\n");
    });
    if (stopped || sock.destroyed) sub.close();
    else sock.once("close", () => sub?.close());
    sock.resume();
  };

  sock.on("data", (chunk: Buffer) => {
    if (closing) return;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      if (pendingBytes + (nl - start) > limits.maxRequestBytes) return refuse(`request longer than ${limits.maxRequestBytes} bytes`);
      pending.push(chunk.subarray(start, nl));
      lines.push(Buffer.concat(pending).toString("utf8"));
      pending = [];
      pendingBytes = 0;
      start = nl + 1;
      rearm();
    }
    const rest = chunk.length - start;
    if (pendingBytes + rest > limits.maxRequestBytes) return refuse(`request longer than ${limits.maxRequestBytes} bytes`);
    if (rest > 0) {
      // Copy: a small slice must not pin the socket's whole 64 KiB read buffer.
      pending.push(Buffer.from(chunk.subarray(start)));
      pendingBytes += rest;
    }
    if (lines.length > 0 && !scheduled) {
      sock.pause();
      scheduled = true;
      setImmediate(drainLines);
    }
  });
  sock.on("close", () => clearTimeout(idle));
}

/** Is something already answering on this unix socket path? (also `carp check`'s "in use" test) */
export function socketAlive(path: string): Promise<boolean> {
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
    private readonly limits: typeof CONTROL_LIMITS = CONTROL_LIMITS,
  ) {}

  /** Listens; a stale socket file is replaced, a live one is an error (another daemon uses it). */
  async start(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    if (await socketAlive(this.path)) {
      throw new CarpNodeError(`--control: ${this.path} is in use by another carp daemon (choose another --control PATH)`, "usage");
    }
    try {
      unlinkSync(this.path);
    } catch {
      /* not there */
    }
    const server = createServer((sock) => {
      sock.on("error", () => sock.destroy());
      if (this.clients.size >= this.limits.maxConnections) {
        // Over the cap: one line, then closed, without reading anything.
        sock.pause();
        sock.end(errorLine(`too many control connections (limit ${this.limits.maxConnections})`), () => sock.destroy());
        setTimeout(() => sock.destroy(), 1000).unref();
        return;
      }
      this.clients.add(sock);
      sock.on("close", () => this.clients.delete(sock));
      serveConnection(sock, this.node, this.limits);
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

const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

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
    // The answer line, bounded too (a status of thousands of vhids is a few MB; anything past 64 MiB is not ours).
    const parts: Buffer[] = [];
    let size = 0;
    sock.on("data", (chunk: Buffer) => {
      const nl = chunk.indexOf(10);
      parts.push(nl < 0 ? chunk : chunk.subarray(0, nl));
      size += chunk.length;
      if (nl < 0 && size <= MAX_ANSWER_BYTES) return;
      clearTimeout(timer);
      sock.destroy();
      if (nl < 0) return reject(new Error(`--control ${path}: answer longer than ${MAX_ANSWER_BYTES} bytes`));
      try {
        resolve(JSON.parse(Buffer.concat(parts).toString("utf8")) as ControlResponse);
      } catch {
        reject(new Error(`--control ${path}: unparsable answer`));
      }
    });
    sock.on("close", () => {
      clearTimeout(timer);
      reject(new Error(`--control ${path}: the daemon closed the connection without an answer`));
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
