// A throwaway network namespace holding a veth pair (va <-> vb), both up, built on src/lab's Lab (the
// host also has the lab's eth0, unaddressed). Always call destroy().
import { Lab } from "../../src/lab/topology.js";
import { uniquePrefix } from "../../src/lab/names.js";

export interface TestNs {
  name: string;
  ip(...args: string[]): string;
  destroy(): void;
}

export function createNs(prefix: string): TestNs {
  const lab = Lab.create({ prefix: uniquePrefix(prefix) });
  try {
    const h = lab.addHost("ns");
    h.addVeth("va", "vb");
    return { name: h.ns, ip: (...args) => h.ip(...args), destroy: () => lab.destroy() };
  } catch (e) {
    lab.destroy();
    throw e;
  }
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
