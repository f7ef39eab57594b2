// Loads the optional C++ addons from build/Release. Everything works without them (the TypeScript
// codec is the reference); the addons are the fast path and the raw-socket/libpcap layer.
// A leaf module: it imports nothing of ours, so any layer may use it.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const buildDir = join(dirname(fileURLToPath(import.meta.url)), "..", "build", "Release");

const cache = new Map<string, unknown>();
const errors = new Map<string, string>();

/** Returns the addon's exports, or null when it was not built (see addonError for why). */
export function loadAddon<T>(name: "carp_codec" | "carp_io"): T | null {
  if (cache.has(name)) return cache.get(name) as T | null;
  let mod: unknown = null;
  if (process.env.CARP_NO_NATIVE !== "1") {
    try {
      mod = require(join(buildDir, `${name}.node`));
    } catch (e) {
      errors.set(name, (e as Error).message.split("\n")[0]);
    }
  } else {
    errors.set(name, "disabled by CARP_NO_NATIVE=1");
  }
  cache.set(name, mod);
  return mod as T | null;
}

export function addonError(name: "carp_codec" | "carp_io"): string | undefined {
  return errors.get(name);
}
