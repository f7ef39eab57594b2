// `carp events [--json] [--since N] [--control PATH]`: follows a running daemon's event stream (like
// `ip monitor`) until interrupted. Every event carries the daemon's sequence number; a gap means events
// were missed (reconnect with --since to get them while the daemon still buffers them).
import { basename } from "node:path";
import { connect } from "node:net";
import { CONTROL_DIR, listControlSockets } from "../daemon/control.js";
import type { CarpEvent } from "../daemon/events.js";
import { RuntimeError, UsageError } from "./errors.js";
import { parseFlags } from "./status.js";

export const summary = "follow a running daemon's transitions, demotions, faults and VIP changes";

const USAGE = `usage: carp events [--json] [--since N] [--control PATH]
  --json          one JSON object per line, as the daemon sends it
  --since N       first replay the buffered events after sequence number N (the daemon keeps the last 1000)
  --control PATH  one daemon's control socket; default: every socket in ${CONTROL_DIR}
Follows new events until interrupted (exit 0 on SIGINT/SIGTERM). Exit 1 when the daemon goes away or
drops a consumer that does not keep up (an "overflow" event, printed first).
`;

const iso = (ts: number) => new Date(ts).toISOString();

/** One event as a text line: "<seq> <time> <type> <details>". */
export function formatEvent(e: CarpEvent | { type: "overflow"; ts: number; lastSeq: number; reason: string }): string {
  if (e.type === "overflow") return `- ${iso(e.ts)} overflow after ${e.lastSeq}: ${e.reason}`;
  const head = `${e.seq} ${iso(e.ts)} ${e.type}`;
  switch (e.type) {
    case "transition":
      return `${head} vhid ${e.vhid}@${e.interface} ${e.from} -> ${e.to} (${e.reason})`;
    case "demotion":
      return `${head} ${e.delta > 0 ? "+" : ""}${e.delta} ${e.source}${e.group ? ` group ${e.group}` : ""} (${e.reason}); global ${e.value}`;
    case "check":
      return `${head} ${e.check} ${e.up ? "up" : "down"}${e.detail ? ` (${e.detail})` : ""}`;
    case "fault":
      return `${head} vhid ${e.vhid}@${e.interface} ${e.active ? "FAULT" : "clear"} (${e.reason})`;
    case "vip":
      return `${head} vhid ${e.vhid}@${e.interface} ${e.op} ${e.address}/${e.prefix}`;
    default:
      return `${head} ${JSON.stringify(e)}`;
  }
}

const open = new Set<import("node:net").Socket>();

/** Streams one socket; resolves with the exit code when the daemon closes it. */
function follow(path: string, since: number | undefined, json: boolean, prefix: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    open.add(sock);
    let buf = "";
    let header = false;
    let code = 1;
    sock.on("error", (e: NodeJS.ErrnoException) => {
      const why = e.code === "ENOENT" || e.code === "ECONNREFUSED" ? "no carp daemon listening" : e.code === "EACCES" ? "permission denied (the socket is 0600: run as the daemon's user)" : (e.code ?? e.message);
      reject(new RuntimeError(`--control ${path}: ${why}`));
    });
    sock.once("connect", () => sock.write(JSON.stringify({ op: "events", ...(since !== undefined ? { since } : {}) }) + "\n"));
    sock.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          sock.destroy();
          return reject(new RuntimeError(`--control ${path}: unparsable line from the daemon`));
        }
        if (!header) {
          header = true;
          if (msg.ok !== true) {
            sock.destroy();
            const err = String(msg.error ?? "refused");
            return reject(msg.kind === "usage" ? new UsageError(err) : new RuntimeError(`--control ${path}: ${err}`));
          }
          if (since !== undefined && typeof msg.oldest === "number" && msg.oldest > since + 1 && (msg.seq as number) >= msg.oldest) {
            process.stderr.write(`carp events: ${prefix}events ${since + 1}-${msg.oldest - 1} are no longer buffered\n`);
          }
          continue;
        }
        const out = json ? JSON.stringify(prefix ? { control: path, ...msg } : msg) : prefix + formatEvent(msg as unknown as CarpEvent);
        // A slow stdout (a pipe into a busy reader) stops our reading: the daemon then sees a slow consumer
        // and, past its limit, drops us with an overflow event; our memory does not grow either.
        if (!process.stdout.write(out + "\n") && !sock.isPaused()) {
          sock.pause();
          process.stdout.once("drain", () => sock.resume());
        }
        if (msg.type === "overflow") code = 1;
      }
    });
    sock.on("close", () => {
      if (!header) return reject(new RuntimeError(`--control ${path}: the daemon closed the connection without an answer`));
      process.stderr.write(`carp events: ${prefix}the daemon closed the stream\n`);
      resolve(code);
    });
  });
}

export async function run(argv: string[]): Promise<number> {
  const f = parseFlags(argv, { json: false, since: true, control: true, help: false });
  if (f.has("help")) {
    process.stdout.write(USAGE);
    return 0;
  }
  let since: number | undefined;
  if (f.has("since")) {
    const s = f.get("since") as string;
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new UsageError(`--since: must be a sequence number (integer >= 0), got ${JSON.stringify(s)}`);
    since = Number(s);
  }
  const control = f.get("control") as string | undefined;
  const paths = control !== undefined ? [control] : listControlSockets();
  if (paths.length === 0) throw new RuntimeError(`no carp daemon found (no socket in ${CONTROL_DIR}); use --control PATH`);
  if (since !== undefined && paths.length > 1) throw new UsageError(`--since: sequence numbers are per daemon; give --control PATH (found ${paths.length} sockets)`);
  process.stdout.on("error", () => process.exit(0)); // `carp events | head`
  const stop = () => process.exit(0);
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const codes = await Promise.all(paths.map((p) => follow(p, since, f.has("json"), paths.length > 1 ? `${basename(p, ".sock")}: ` : "")));
    return Math.max(...codes);
  } finally {
    for (const s of open) s.destroy(); // one daemon failed: stop following the others too
  }
}
