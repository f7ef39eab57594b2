// Syslog output (ucarp --facility): log lines also go to the local syslog socket (/dev/log, or
// $CARP_SYSLOG_SOCKET), with the facility and a priority per line. One unix datagram socket from the
// carp_io addon stays open between lines (no `logger` child); each line is one RFC 3164 datagram
// "<PRI>Mmm dd hh:mm:ss tag[pid]: message", as logger(1) sends to a local socket. When the socket does
// not exist, syslog output is skipped (the daemon says so once, at debug level); so it is when stdout is
// the systemd journal, which has every line already. A send that fails (syslog daemon restarting, queue
// full) drops that line only.
import { existsSync } from "node:fs";

import { DatagramSender } from "../host/sys.js";
import { syslogSkipReason, type LogLevel } from "./log.js";

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

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The RFC 3164 timestamp "Mmm dd hh:mm:ss" (local time, day padded with a space). */
export function syslogTimestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export class SyslogWriter {
  private readonly sender: DatagramSender;
  /** Lines that could not be sent. */
  dropped = 0;

  private constructor(
    readonly facility: string,
    readonly socket: string,
    private readonly tag: string,
  ) {
    this.sender = new DatagramSender(socket);
  }

  /**
   * A writer for `facility`, or a reason why there is none ("none" facility, socket missing).
   * socket: default $CARP_SYSLOG_SOCKET or /dev/log ("@name" = an abstract socket).
   */
  static open(facility: string, opts: { socket?: string; tag?: string } = {}): SyslogWriter | { skipped: string } {
    if (facility === "none") return { skipped: "facility none" };
    const journal = syslogSkipReason(); // under systemd: once, in the journal, not twice
    if (journal) return { skipped: journal };
    if (!(facility in FACILITY_CODES)) return { skipped: `unknown facility ${facility}` };
    const socket = opts.socket ?? (process.env.CARP_SYSLOG_SOCKET || DEFAULT_SYSLOG_SOCKET);
    if (!socket.startsWith("@") && !existsSync(socket)) return { skipped: `${socket} does not exist` };
    return new SyslogWriter(facility, socket, opts.tag ?? "carp");
  }

  write(level: LogLevel, msg: string): void {
    // One line per entry: embedded newlines would start a new, prefix-less message.
    const line = `<${syslogPri(this.facility, level)}>${syslogTimestamp(new Date())} ${this.tag}[${process.pid}]: ${msg.replace(/[\r\n]+/g, " ")}`;
    if (!this.sender.send(line).ok) this.dropped++;
  }

  /** Closes the socket (every line was sent synchronously). */
  close(): Promise<void> {
    this.sender.close();
    return Promise.resolve();
  }
}
