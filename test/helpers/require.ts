// Tests never skip for a missing tool: `npm test` runs scripts/test-deps.sh first, which installs the
// tools and builds the addon and dist/, so anything still missing fails the suite with one line naming it.
import { beforeAll } from "vitest";
import { nativeCodecAvailable, nativeCodecError } from "../../src/protocol/native-codec.js";
import { oursAvailable, which } from "../../src/lab/index.js";
import { canUseNetns } from "./netns.js";

/** A system command by name, or one of: "netns" (root + ip netns), "native" (carp_codec addon), "ours" (built CLI). */
export type Requirement = "netns" | "native" | "ours" | (string & {});

function missing(r: Requirement): string | null {
  if (r === "netns") return canUseNetns() ? null : "root and iproute2 (network namespaces)";
  if (r === "native") return nativeCodecAvailable() ? null : `the carp_codec addon (${nativeCodecError()})`;
  if (r === "ours") return oursAvailable() ? null : "the built CLI dist/cli/main.js";
  return which(r) ? null : r;
}

/** Why the requirements are not met (one line), or null when they are. */
export function unmet(...reqs: Requirement[]): string | null {
  const gone = reqs.map(missing).filter((m): m is string => m !== null);
  if (gone.length === 0) return null;
  return `missing ${gone.join(", ")}: run the tests with npm test as root (its pretest, scripts/test-deps.sh, installs and builds them)`;
}

/** Call inside a describe: its tests fail (never skip) with one line when a requirement is missing. */
export function requires(...reqs: Requirement[]): void {
  beforeAll(() => {
    const why = unmet(...reqs);
    if (why) throw new Error(why);
  });
}
