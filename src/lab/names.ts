// Unique, recognisable names for everything a lab run creates, and removal of leftovers by prefix
// (namespaces, the processes inside them, and the run's temp directory).
import { randomBytes } from "node:crypto";
import { readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { LabError, shQuiet } from "./sys.js";

const PREFIX_RE = /^[a-z][a-z0-9]{2,15}-[a-z0-9-]*$/;

/** `<base>-<pid>-<4 hex>-`, e.g. carplab-4242-9f1c-: unique per run so tests can run in parallel. */
export function uniquePrefix(base = "carplab"): string {
  return `${base}-${process.pid}-${randomBytes(2).toString("hex")}-`;
}

/** Rejects prefixes that could match things a lab did not make (cleanup deletes by prefix). */
export function checkPrefix(prefix: string): void {
  if (!PREFIX_RE.test(prefix)) {
    throw new LabError(`lab prefix ${JSON.stringify(prefix)} must look like 'carplab-' or 'carpdemo-123-'`);
  }
}

export function listNamespaces(prefix = ""): string[] {
  return shQuiet("ip", ["netns", "list"])
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n): n is string => !!n && n.startsWith(prefix));
}

/** Kills every process inside a namespace (they were started there by a lab) and deletes it. */
export function removeNamespace(ns: string): void {
  for (let round = 0; round < 3; round++) {
    const pids = shQuiet("ip", ["netns", "pids", ns]).split(/\s+/).filter(Boolean).map(Number);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, round === 0 ? "SIGTERM" : "SIGKILL");
      } catch {
        /* gone */
      }
    }
    const end = Date.now() + 300;
    while (Date.now() < end && shQuiet("ip", ["netns", "pids", ns]).trim()) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  shQuiet("ip", ["netns", "del", ns]);
}

export function labTmpDirs(prefix: string): string[] {
  try {
    return readdirSync(tmpdir())
      .filter((n) => n.startsWith(prefix))
      .map((n) => join(tmpdir(), n));
  } catch {
    return [];
  }
}

/** Removes everything left behind by runs whose prefix starts with `prefix`; returns the names removed. */
export function cleanupPrefix(prefix: string): string[] {
  checkPrefix(prefix);
  const removed: string[] = [];
  for (const ns of listNamespaces(prefix)) {
    removeNamespace(ns);
    removed.push(ns);
  }
  for (const dir of labTmpDirs(prefix)) {
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
