// Creates a throwaway network namespace holding a veth pair (va <-> vb), both up. Always call destroy().
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

export interface TestNs {
  name: string;
  ip(...args: string[]): string;
  destroy(): void;
}

export function createNs(prefix: string): TestNs {
  const name = `${prefix}${process.pid % 10000}${randomBytes(2).toString("hex")}`;
  const ip = (...args: string[]) => execFileSync("ip", ["-n", name, ...args], { encoding: "utf8" });
  execFileSync("ip", ["netns", "add", name]);
  try {
    ip("link", "add", "va", "type", "veth", "peer", "name", "vb");
    ip("link", "set", "va", "up");
    ip("link", "set", "vb", "up");
  } catch (e) {
    execFileSync("ip", ["netns", "del", name]);
    throw e;
  }
  return {
    name,
    ip,
    destroy() {
      try {
        execFileSync("ip", ["netns", "del", name]);
      } catch {
        /* already gone */
      }
    },
  };
}

/** Polls `fn` until it returns true or `ms` elapse. */
export async function waitFor(fn: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return fn();
}
