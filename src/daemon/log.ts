// Daemon log lines: text ("2026-11-25T02:30:00.123Z info vhid 1@eth0: BACKUP -> MASTER (master timed out)")
// or JSON lines ({"time":…,"ts":…,"level":…,"msg":…, …fields}). `ts` is epoch milliseconds with a
// fractional part from the monotonic clock (performance.timeOrigin + performance.now()), so log lines of
// daemons on one host can be compared to the millisecond (the failover bench does).
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

/** Epoch milliseconds (fractional) derived from the monotonic clock. */
export function epochMs(mono: number = performance.now()): number {
  return performance.timeOrigin + mono;
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

export class Logger {
  constructor(
    public format: LogFormat = "text",
    public debugEnabled = false,
    private readonly sink: LogSink = (l) => process.stdout.write(l + "\n"),
    private readonly listener?: (e: LogEntry) => void,
  ) {}

  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (level === "debug" && !this.debugEnabled) return;
    const e: LogEntry = { ts: epochMs(), level, msg, ...fields };
    try {
      this.sink(formatLog(e, this.format));
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
