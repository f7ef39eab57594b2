// Loads the optional C++ addons: a local source build (build/Release) first, then the prebuilt binary
// shipped in the package for this platform (prebuilds/<platform>-<arch>/, made at `npm pack` time by
// scripts/prebuild.mjs). Everything works without them (the TypeScript codec is the reference); the
// addons are the fast path and the raw-socket/libpcap layer.
// A leaf module: it imports nothing of ours, so any layer may use it.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export type AddonName = "carp_codec" | "carp_io";

const cache = new Map<string, unknown>();
const errors = new Map<string, string>();
const loadedFrom = new Map<string, string>();

/** Where the addon is looked for, in order. */
export function addonCandidates(name: AddonName): string[] {
  return [
    join(root, "build", "Release", `${name}.node`),
    join(root, "prebuilds", `${process.platform}-${process.arch}`, `${name}.node`),
  ];
}

/** Returns the addon's exports, or null when none could be loaded (see addonError for why). */
export function loadAddon<T>(name: AddonName): T | null {
  if (cache.has(name)) return cache.get(name) as T | null;
  let mod: unknown = null;
  if (process.env.CARP_NO_NATIVE === "1") {
    errors.set(name, "disabled by CARP_NO_NATIVE=1");
  } else {
    const why: string[] = [];
    for (const file of addonCandidates(name)) {
      if (!existsSync(file)) continue;
      try {
        mod = require(file);
        loadedFrom.set(name, file);
        break;
      } catch (e) {
        why.push(`${file}: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    if (!mod) {
      errors.set(name, why.length > 0 ? why.join("; ") : `not built (no build/Release or prebuilds/${process.platform}-${process.arch})`);
    }
  }
  cache.set(name, mod);
  return mod as T | null;
}

export function addonError(name: AddonName): string | undefined {
  return errors.get(name);
}

/** The file the addon was loaded from, once loadAddon succeeded. */
export function addonFile(name: AddonName): string | undefined {
  return loadedFrom.get(name);
}
