// `carp run`: the daemon. Accepts every ucarp option (long and short, same meaning) plus our extras;
// see UCARP_USAGE in src/daemon/config-ucarp.ts. Signals: SIGUSR1 logs status, SIGUSR2 forces BACKUP,
// SIGTERM/SIGINT stop gracefully (bow-out, VIPs removed, -z downscript, exit 0), SIGHUP reloads.
import { spawn, spawnSync } from "node:child_process";
import { setPriority } from "node:os";
import { loadConfigFromArgv, parseUcarpArgv, UCARP_USAGE } from "../daemon/config-ucarp.js";
import type { Config } from "../daemon/config.js";
import { CONTROL_DIR, ControlServer, defaultControlFor } from "../daemon/control.js";
import { DEFAULTS } from "../daemon/config.js";
import { basename, dirname, join } from "node:path";
import { CarpNode, CarpNodeError } from "../daemon/node.js";
import { RuntimeError, UsageError } from "./errors.js";

export const summary = "run the CARP daemon (ucarp-compatible options; --config/--rc-conf for many vhids)";

function load(argv: string[], quiet = false): Config | null {
  const r = loadConfigFromArgv(argv);
  if (!r.ok) throw new UsageError(r.error);
  if (!quiet) for (const w of r.warnings) process.stderr.write(`carp: warning: ${w}\n`);
  if (r.value.help) return null;
  const { help: _h, ...cfg } = r.value;
  // A ucarp-style command line (no --control, no config file) gets a socket of its own, so several
  // single-vhid processes can run side by side exactly as several ucarps do: /run/carp/<if>-<vhid>.sock
  // (CARP_RUN_DIR replaces /run/carp).
  const p = parseUcarpArgv(argv);
  if (p.ok && p.value.global.control === undefined && p.value.configFile === undefined && p.value.rcConfFile === undefined && cfg.vhids.length === 1) {
    cfg.control = defaultControlFor(cfg.vhids[0].interface, cfg.vhids[0].vhid);
  } else if (cfg.control === DEFAULTS.control && CONTROL_DIR !== dirname(DEFAULTS.control)) {
    cfg.control = join(CONTROL_DIR, basename(DEFAULTS.control)); // CARP_RUN_DIR moves the default too
  }
  return cfg;
}

const asCliError = (e: unknown): Error =>
  e instanceof CarpNodeError ? (e.kind === "usage" ? new UsageError(e.message) : new RuntimeError(e.message)) : (e as Error);

export async function run(argv: string[]): Promise<number> {
  const cfg = load(argv);
  if (cfg === null) {
    process.stdout.write(UCARP_USAGE);
    return 0;
  }
  if (cfg.daemonize && process.env.CARP_DAEMONIZED !== "1") {
    // ucarp -B: re-run ourselves detached and return at once.
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1], "run", ...argv], {
      detached: true,
      stdio: "ignore",
      env: { ...process.env, CARP_DAEMONIZED: "1" },
    });
    child.unref();
    return 0;
  }
  if (typeof process.getuid === "function" && process.getuid() !== 0 && process.env.CARP_SKIP_ROOT_CHECK !== "1") {
    // Raw sockets and `ip addr` need root (or CAP_NET_RAW + CAP_NET_ADMIN); say so before anything half-starts.
    // A capability-only setup can skip this check with CARP_SKIP_ROOT_CHECK=1.
    throw new UsageError("carp run needs root (or CAP_NET_RAW and CAP_NET_ADMIN with CARP_SKIP_ROOT_CHECK=1)");
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
    const r = spawnSync("chrt", ["-f", "-p", String(n), String(process.pid)], { encoding: "utf8" });
    if (r.status !== 0) process.stderr.write(`carp: CARP_RTPRIO ${n}: ${(r.stderr || r.error?.message || "chrt failed").trim()}; running without real-time priority\n`);
  }
  // Logs go to stdout; a reader that went away (EPIPE) must not take the daemon down with it.
  process.stdout.on("error", () => undefined);
  const node = new CarpNode(cfg);
  const control = new ControlServer(cfg.control, node);
  try {
    await control.start();
    await node.start();
  } catch (e) {
    control.close();
    throw asCliError(e);
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      node.log.info(`${sig}: stopping`, { event: "signal", signal: sig });
      void node.stop().finally(() => {
        control.close();
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
        next = load(argv, true);
      } catch (e) {
        node.log.error(`SIGHUP: configuration not reloaded: ${(e as Error).message}`);
        return;
      }
      if (!next) return;
      node.reload(next).catch((e) => node.log.error(`SIGHUP: reload failed: ${(e as Error).message}`));
    });
  });
}
