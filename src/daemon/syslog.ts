// Syslog output (ucarp --facility): log lines also go to the local syslog socket (/dev/log, or
// $CARP_SYSLOG_SOCKET), with the facility and a priority per line. Node has no unix datagram sockets,
// so one long-lived util-linux `logger` child does the writing: it reads "<PRI>message" lines on its
// stdin (--prio-prefix) and exits when that pipe closes, i.e. with the daemon. When the socket does not
// exist, syslog output is skipped (the daemon says so once, at debug level).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";

import type { LogLevel } from "./log.js";

const FACILITY_CODES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};
const SEVERITY: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 };

export const DEFAULT_SYSLOG_SOCKET = "/dev/log";

/** The syslog PRI of one line: facility * 8 + severity. */
export function syslogPri(facility: string, level: LogLevel): number {
  return (FACILITY_CODES[facility] ?? FACILITY_CODES.daemon) * 8 + SEVERITY[level];
}

export class SyslogWriter {
  private child: ChildProcess | null = null;
  private broken = false;

  private constructor(
    readonly facility: string,
    readonly socket: string,
    private readonly tag: string,
  ) {}

  /**
   * A writer for `facility`, or a reason why there is none ("none" facility, socket missing).
   * socket: default $CARP_SYSLOG_SOCKET or /dev/log.
   */
  static open(facility: string, opts: { socket?: string; tag?: string } = {}): SyslogWriter | { skipped: string } {
    if (facility === "none") return { skipped: "facility none" };
    if (!(facility in FACILITY_CODES)) return { skipped: `unknown facility ${facility}` };
    const socket = opts.socket ?? (process.env.CARP_SYSLOG_SOCKET || DEFAULT_SYSLOG_SOCKET);
    if (!existsSync(socket)) return { skipped: `${socket} does not exist` };
    return new SyslogWriter(facility, socket, opts.tag ?? "carp");
  }

  private start(): ChildProcess | null {
    if (this.broken) return null;
    if (this.child) return this.child;
    const c = spawn("logger", ["--prio-prefix", `--id=${process.pid}`, "-t", this.tag, "-u", this.socket, "--socket-errors=off"], {
      stdio: ["pipe", "ignore", "ignore"],
      detached: true, // not killed by a Ctrl-C to our group: the daemon's last lines still get out
    });
    c.on("error", () => (this.broken = true)); // no logger binary: stdout keeps working
    c.on("exit", () => (this.child = null));
    c.stdin!.on("error", () => undefined);
    c.unref();
    (c.stdin as unknown as { unref?: () => void }).unref?.();
    this.child = c;
    return c;
  }

  write(level: LogLevel, msg: string): void {
    const c = this.start();
    if (!c?.stdin?.writable) return;
    // One line per entry: embedded newlines would start a new, prefix-less message.
    c.stdin.write(`<${syslogPri(this.facility, level)}>${msg.replace(/[\r\n]+/g, " ")}\n`);
  }

  /** Flushes what was written and lets the logger exit. */
  close(): Promise<void> {
    const c = this.child;
    this.child = null;
    if (!c) return Promise.resolve();
    return new Promise((res) => {
      const t = setTimeout(res, 1000);
      c.on("exit", () => {
        clearTimeout(t);
        res();
      });
      c.stdin?.end();
    });
  }
}
