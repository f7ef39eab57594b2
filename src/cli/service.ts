// How `carp run` fits a service manager: `-B` (fork into the background once the daemon is up, like
// daemon(3) with a readiness pipe) and systemd's sd_notify (READY=1, RELOADING=1, STOPPING=1).
import { spawn } from "node:child_process";
import type { Logger } from "../daemon/log.js";
import { sdNotify } from "../host/sys.js";

/** How long a -B parent waits for the daemon to come up before returning anyway. */
const READY_WAIT_MS = 30_000;

/**
 * ucarp -B: re-runs `carp run <argv>` detached (own session, stdin/stdout on /dev/null, logs to syslog)
 * and waits until it is up: "ready" on fd 3 -> exit 0; the child exits first -> its stderr (already
 * copied to ours) and its exit code. Afterwards the child's stderr pipe is closed.
 */
export function daemonize(argv: string[]): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], "run", ...argv], {
    detached: true,
    stdio: ["ignore", "ignore", "pipe", "pipe"],
    env: { ...process.env, CARP_DAEMONIZED: "1" },
  });
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stderr?.destroy();
      (child.stdio[3] as NodeJS.ReadableStream & { destroy(): void } | null)?.destroy();
      child.unref();
      resolve(code);
    };
    const timer = setTimeout(() => {
      process.stderr.write(`carp: warning: -B: the daemon (pid ${child.pid}) did not report ready within ${READY_WAIT_MS / 1000} s; it keeps starting in the background\n`);
      finish(0);
    }, READY_WAIT_MS);
    child.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
    const ready = child.stdio[3] as NodeJS.ReadableStream | null;
    ready?.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) finish(0);
    });
    ready?.on("error", () => undefined);
    child.on("error", (e) => {
      process.stderr.write(`carp: -B: cannot start the daemon: ${e.message}\n`);
      finish(1);
    });
    child.on("exit", (code) => finish(code ?? 1));
  });
}

/**
 * sd_notify: tells systemd (Type=notify) about the daemon's state when $NOTIFY_SOCKET is set; a no-op
 * otherwise. A failure is logged once, never fatal.
 */
let notifyFailed = false;
export function notifyService(log: Logger, ...states: string[]): void {
  if (!process.env.NOTIFY_SOCKET || notifyFailed) return;
  const r = sdNotify(states.join("\n"));
  if (!r.ok) {
    notifyFailed = true;
    log.warn(`sd_notify ${states[0]}: ${r.error}`);
  }
}
