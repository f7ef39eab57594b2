// Daemon log lines: text ("2026-11-25T02:30:00.123Z info vhid 1@eth0: BACKUP -> MASTER (master timed out)")
// or JSON lines ({"time":…,"ts":…,"level":…,"msg":…, …fields}). `ts` is epoch milliseconds with a
// fractional part from the monotonic clock (performance.timeOrigin + performance.now()), so log lines of
// daemons on one host can be compared to the millisecond (the failover bench does).
import { fstatSync } from "node:fs";
import { performance } from "node:perf_hooks";
import type { LogFormat } from "./config.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LogEntry {
  ts: number;
  level: LogLevel;
  msg: string;
  [field: string]: unknown;
}

export type LogSink = (line: string) => void;

/**
 * Epoch milliseconds (fractional) of a moment on the monotonic clock. The offset between the two clocks is
 * taken now, not at process start: on a VM the wall clock is stepped (tens of ms within seconds were seen
 * here), and log times must agree with the wall clock of other programs' logs.
 */
export function epochMs(mono?: number): number {
  const now = performance.now();
  return Date.now() + ((mono ?? now) - now);
}

const replacer = (_k: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);

export function formatLog(e: LogEntry, format: LogFormat): string {
  const time = new Date(e.ts).toISOString();
  if (format === "json") {
    const { ts, level, msg, ...rest } = e;
    return JSON.stringify({ time, ts: Math.round(ts * 1000) / 1000, level, msg, ...rest }, replacer);
  }
  return `${time} ${e.level} ${e.msg}`;
}

/**
 * Is stdout connected to the systemd journal? True when $JOURNAL_STREAM ("<device>:<inode>", set by
 * systemd for StandardOutput=journal) matches stdout's device and inode; a child whose stdout was
 * redirected elsewhere inherits the variable but fails the match (sd_journal_stream_fd(3) rules).
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? "");
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]) && st.ino === BigInt(m[2]);
  } catch {
    return false;
  }
}

/**
 * Where the daemon's lines go besides stdout: under systemd stdout already is the journal, so a syslog
 * copy would log every line twice (journald also reads /dev/log). Returns why syslog is skipped, or null.
 */
export function syslogSkipReason(env: NodeJS.ProcessEnv = process.env): string | null {
  return stdoutIsJournal(env) ? "stdout is the systemd journal (JOURNAL_STREAM)" : null;
}

/** sd-daemon(3) priority prefix ("<3>" error … "<7>" debug): journald reads it from stdout lines. */
const JOURNAL_PRIORITY: Record<LogLevel, string> = { error: "<3>", warn: "<4>", info: "<6>", debug: "<7>" };

/** The default sink: stdout, with a priority prefix per line when stdout is the journal. */
function stdoutSink(): (line: string, level: LogLevel) => void {
  const journal = stdoutIsJournal();
  return (line, level) => process.stdout.write(journal ? `${JOURNAL_PRIORITY[level]}${line}\n` : line + "\n");
}

export class Logger {
  constructor(
    public format: LogFormat = "text",
    public debugEnabled = false,
    private readonly sink: LogSink | ((line: string, level: LogLevel) => void) = stdoutSink(),
    private readonly listener?: (e: LogEntry) => void,
  ) {}

  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (level === "debug" && !this.debugEnabled) return;
    const e: LogEntry = { ts: epochMs(), level, msg, ...fields };
    try {
      this.sink(formatLog(e, this.format), level);
    } catch {
      /* a closed stdout must not kill the daemon */
    }
    this.listener?.(e);
  }
  debug(msg: string, f?: Record<string, unknown>): void {
    this.log("debug", msg, f);
  }
  info(msg: string, f?: Record<string, unknown>): void {
    this.log("info", msg, f);
  }
  warn(msg: string, f?: Record<string, unknown>): void {
    this.log("warn", msg, f);
  }
  error(msg: string, f?: Record<string, unknown>): void {
    this.log("error", msg, f);
  }
}
