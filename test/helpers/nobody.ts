// Tests that drop root (setpriv --reuid=65534) must run code uid 65534 can read. A clone under /root
// (mode 0700, the usual place on a fresh machine) is not: then this makes a world-readable copy of what
// those children load — dist/, the addons, the yaml runtime dependency — once per test worker.
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(__dirname, "../..");
let root: string | undefined;

function nobodyCanRead(file: string): boolean {
  return spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "test", "-r", file]).status === 0;
}

/** A directory laid out like the repository (dist/, build/Release/, node_modules/yaml) that uid 65534 can read. */
export function nobodyRoot(): string {
  if (root !== undefined) return root;
  if (nobodyCanRead(join(REPO, "dist", "cli", "main.js")) && nobodyCanRead(join(REPO, "build", "Release", "carp_io.node"))) return (root = REPO);
  const dir = mkdtempSync(join(tmpdir(), "carp-nobody-"));
  chmodSync(dir, 0o755);
  for (const p of ["package.json", "dist", "build/Release", "prebuilds", "node_modules/yaml"]) {
    if (existsSync(join(REPO, p))) cpSync(join(REPO, p), join(dir, p), { recursive: true });
  }
  spawnSync("chmod", ["-R", "a+rX", dir]);
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return (root = dir);
}
