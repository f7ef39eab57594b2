// `carp run`: the daemon. Accepts every ucarp option (long and short, same meaning) plus our extras;
// see UCARP_USAGE in src/daemon/config-ucarp.ts. Signals: SIGUSR1 logs status, SIGUSR2 forces BACKUP,
// SIGTERM/SIGINT stop gracefully (bow-out, VIPs removed, -z downscript, exit 0), SIGHUP reloads.
import { setPriority } from "node:os";
import { closeSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { UCARP_USAGE } from "../daemon/config-ucarp.js";
import type { Config } from "../daemon/config.js";
import { ControlServer } from "../daemon/control.js";
import { CarpNode, CarpNodeError } from "../daemon/node.js";
import { capabilityProblems, livePidIn, loadRunConfig, runProblems, type RunConfig } from "./check.js";
import { daemonize, notifyService } from "./service.js";
import { RuntimeError, UsageError, exitCodeFor, oneLine } from "./errors.js";
import { setRealtimePriority } from "../host/sys.js";

export const summary = "run the CARP daemon (ucarp-compatible options; --config/--rc-conf for many vhids)";

function load(argv: string[], quiet = false): RunConfig | null {
  const rc = loadRunConfig(argv); // the control-socket defaults live there (shared with `carp check`)
  if (rc && !quiet) for (const w of rc.warnings) process.stderr.write(`carp: warning: ${w}\n`);
  return rc;
}

const asCliError = (e: unknown): Error =>
  e instanceof CarpNodeError ? (e.kind === "usage" ? new UsageError(e.message) : new RuntimeError(e.message)) : (e as Error);

export async function run(argv: string[]): Promise<number> {
  const rc = load(argv, process.env.CARP_DAEMONIZED === "1");
  if (rc === null) {
    process.stdout.write(UCARP_USAGE);
    return 0;
  }
  const { cfg } = rc;
  if (cfg.daemonize && process.env.CARP_DAEMONIZED !== "1") {
    // ucarp -B: everything `carp check` checks is checked before the fork, so a bad line fails here.
    const problems = await runProblems(rc);
    if (problems.length) {
      for (const p of problems.slice(1)) process.stderr.write(`carp: ${p}\n`);
      throw new UsageError(problems[0]);
    }
    return daemonize(argv);
  }
  // Raw sockets need CAP_NET_RAW, VIPs CAP_NET_ADMIN: the effective set counts, not the uid. Say so
  // before anything half-starts (a daemon with only CAP_NET_RAW would otherwise become MASTER with no VIP).
  const caps = capabilityProblems(cfg);
  if (caps.length) throw new UsageError(caps.join("; ")); // one line, naming every missing capability
  if (rc.pidfile !== undefined) {
    const pid = livePidIn(rc.pidfile);
    if (pid !== null) throw new UsageError(`--pidfile: ${rc.pidfile} belongs to running process ${pid}`);
  }

  // Failover timing is the point of the daemon: as root, run at nice -10 (like keepalived's vrrp_priority)
  // so a busy host delays our timers less. CARP_NICE=<n> picks another value, CARP_NICE=0 keeps the default.
  const nice = Number(process.env.CARP_NICE ?? -10);
  if (Number.isInteger(nice) && nice !== 0) {
    try {
      setPriority(0, Math.max(-20, Math.min(19, nice)));
    } catch {
      /* not permitted (capabilities without CAP_SYS_NICE): run at the inherited priority */
    }
  }
  // Opt-in real-time scheduling (like keepalived's vrrp_rt_priority): CARP_RTPRIO=<1-99> puts the event
  // loop thread in SCHED_FIFO, so other processes cannot preempt an advert pass (the scale bench's p99
  // interval jitter drops from ~4-6 ms to ~1.4 ms on a loaded 2-core host). Off by default: a runaway
  // loop at RT priority would starve the CPU (the kernel's RT throttling caps it at 95 %).
  const rtprio = process.env.CARP_RTPRIO;
  if (rtprio !== undefined && rtprio !== "" && rtprio !== "0") {
    const n = Number(rtprio);
    if (!Number.isInteger(n) || n < 1 || n > 99) {
      process.stderr.write(`carp: CARP_RTPRIO: must be 1-99, got ${JSON.stringify(rtprio)}\n`);
      return 2;
    }
    const r = setRealtimePriority(n); // sched_setscheduler in the addon, no chrt child
    if (!r.ok) process.stderr.write(`carp: CARP_RTPRIO ${n}: ${r.error}; running without real-time priority\n`);
  }
  // Logs go to stdout; a reader that went away (EPIPE) must not take the daemon down with it. Same for
  // stderr, which a -B parent reads only until the daemon is up.
  process.stdout.on("error", () => undefined);
  process.stderr.on("error", () => undefined);
  const node = new CarpNode(cfg);
  for (const n of rc.notices) node.log.warn(n);
  const control = new ControlServer(cfg.control, node);
  // A daemon that dies for any reason bows out and deletes the VIPs it holds first (node.abort: synchronous
  // netlink), then exits 1 with one line. SIGKILL cannot be caught: the next start removes what it left.
  const fatal = (what: string, e: unknown) => {
    let line = `fatal: ${what}: ${oneLine(e)}`;
    try {
      line = node.abort(line) ?? line;
    } catch (x) {
      line += `; cleanup failed: ${oneLine(x)}`;
    }
    process.stderr.write(`carp: ${line}\n`);
    process.exit(1);
  };
  process.on("uncaughtException", (e) => fatal("uncaught exception", e));
  process.on("unhandledRejection", (e) => fatal("unhandled rejection", e));
  try {
    await control.start();
    await node.start();
  } catch (e) {
    control.close();
    const err = asCliError(e);
    // A start that failed after a vhid became MASTER (rc.conf `state master`) must not leave its VIP.
    const line = node.abort(`start failed: ${oneLine(err)}`, true);
    if (line !== null) {
      process.stderr.write(`carp: ${line}\n`);
      process.exit(exitCodeFor(err));
    }
    throw err;
  }
  // Every vhid is initialised: pidfile, systemd READY=1, and the -B parent may return.
  if (rc.pidfile !== undefined) {
    try {
      writeFileSync(rc.pidfile, `${process.pid}\n`);
    } catch (e) {
      node.log.error(`--pidfile: cannot write ${rc.pidfile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  notifyService(node.log, "READY=1", `MAINPID=${process.pid}`);
  if (process.env.CARP_DAEMONIZED === "1") {
    try {
      writeSync(3, "ready\n"); // the -B parent's readiness pipe
      closeSync(3);
    } catch {
      /* started by hand with CARP_DAEMONIZED=1: no parent waiting */
    }
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      node.log.info(`${sig}: stopping`, { event: "signal", signal: sig });
      notifyService(node.log, "STOPPING=1");
      void node.stop().finally(() => {
        control.close();
        if (rc.pidfile !== undefined && livePidIn(rc.pidfile) === null) {
          try {
            unlinkSync(rc.pidfile);
          } catch {
            /* gone */
          }
        }
        for (const s of ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"] as const) process.removeAllListeners(s);
        if (process.env.CARP_DEBUG === "1") setTimeout(() => process.stderr.write(`active: ${process.getActiveResourcesInfo().join(", ")}\n`), 500).unref();
        resolve(0);
      });
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGUSR1", () => node.logStatus());
    process.on("SIGUSR2", () => {
      node.log.info("SIGUSR2: forcing BACKUP", { event: "signal", signal: "SIGUSR2" });
      node.forceBackup();
    });
    process.on("SIGHUP", () => {
      let next: Config | null;
      try {
        next = load(argv, true)?.cfg ?? null;
      } catch (e) {
        node.log.error(`SIGHUP: configuration not reloaded: ${(e as Error).message}`);
        return;
      }
      if (!next) return;
      notifyService(node.log, "RELOADING=1");
      node
        .reload(next)
        .catch((e) => node.log.error(`SIGHUP: reload failed: ${(e as Error).message}`))
        .finally(() => notifyService(node.log, "READY=1"));
    });
  });
}
