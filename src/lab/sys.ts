// Small wrappers over the commands the lab drives (ip, nft, tc, tcpdump). Failures become LabError
// with one line naming the command and the tool's own first line of stderr.
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export class LabError extends Error {
  override name = "LabError";
}

/** Runs a command synchronously; returns stdout or throws LabError. */
export function sh(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
  if (r.error) throw new LabError(`${cmd}: ${(r.error as NodeJS.ErrnoException).code === "ENOENT" ? "not installed" : r.error.message}`);
  if (r.status !== 0) {
    const why = (r.stderr || r.stdout || "").trim().split("\n")[0] || `exit status ${r.status}`;
    throw new LabError(`${cmd} ${args.join(" ")}: ${why}`);
  }
  return r.stdout;
}

/** Like sh() but never throws: for cleanup paths. */
export function shQuiet(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return "";
  }
}

/** Absolute path of an executable on PATH (plus the sbin directories), or null. */
export function which(name: string): string | null {
  const dirs = (process.env.PATH ?? "").split(delimiter).concat(["/usr/sbin", "/sbin", "/usr/local/sbin"]);
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Throws a LabError naming the Debian packages for any missing tool. */
export function requireTools(tools: Record<string, string>): void {
  const missing = Object.entries(tools).filter(([t]) => !which(t));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map(([, p]) => p))].join(" ");
  throw new LabError(`missing ${missing.map(([t]) => t).join(", ")} (apt-get install ${pkgs})`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `ms` elapse; returns the last value. */
export async function until<T>(fn: () => T | Promise<T>, ms: number, every = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() >= end) return v;
    await sleep(every);
  }
}
