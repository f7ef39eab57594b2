// Two namespaces (A, B) on a bridge that lives in a third namespace, so nothing touches the host's
// own interfaces. B also has an interface off the bridge ("other0") for "bound to another interface" checks.
// Addresses come from documentation ranges only. destroy() removes everything, also after failures.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

export interface Topology {
  nsA: string;
  nsB: string;
  nsBridge: string;
  /** Interface names inside A and B (the same name in each namespace). */
  ifname: string;
  other: string;
  a4: string;
  b4: string;
  a6: string;
  b6: string;
  other4: string;
  other6: string;
  destroy(): void;
}

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

function sysctl(ns: string, key: string, value: string): void {
  execFileSync("ip", ["netns", "exec", ns, "sysctl", "-qw", `${key}=${value}`], { stdio: "ignore" });
}

export function createTopology(prefix = "cio"): Topology {
  const tag = `${prefix}${process.pid % 10000}${randomBytes(2).toString("hex")}`;
  const nsA = `${tag}a`;
  const nsB = `${tag}b`;
  const nsBridge = `${tag}br`;
  const created: string[] = [];
  const destroy = (): void => {
    for (const ns of created.reverse()) {
      try {
        ip("netns", "del", ns);
      } catch {
        /* already gone */
      }
    }
    created.length = 0;
  };
  try {
    for (const ns of [nsBridge, nsA, nsB]) {
      ip("netns", "add", ns);
      created.push(ns);
    }
    ip("-n", nsBridge, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
    ip("-n", nsBridge, "link", "set", "br0", "up");
    for (const [ns, port] of [
      [nsA, "pa"],
      [nsB, "pb"],
    ]) {
      ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", nsBridge);
      ip("-n", nsBridge, "link", "set", port, "master", "br0");
      ip("-n", nsBridge, "link", "set", port, "up");
      sysctl(ns, "net.ipv6.conf.eth0.accept_dad", "0");
      ip("-n", ns, "link", "set", "lo", "up");
    }
    // A veth pair with both ends in B: up, addressed, but not on the bridge.
    ip("-n", nsB, "link", "add", "other0", "type", "veth", "peer", "name", "other1");
    sysctl(nsB, "net.ipv6.conf.other0.accept_dad", "0");
    const topo = {
      nsA,
      nsB,
      nsBridge,
      ifname: "eth0",
      other: "other0",
      a4: "198.51.100.1",
      b4: "198.51.100.2",
      a6: "2001:db8:1::1",
      b6: "2001:db8:1::2",
      other4: "203.0.113.2",
      other6: "2001:db8:2::2",
      destroy,
    };
    ip("-n", nsA, "addr", "add", `${topo.a4}/24`, "dev", "eth0");
    ip("-n", nsA, "addr", "add", `${topo.a6}/64`, "dev", "eth0", "nodad");
    ip("-n", nsB, "addr", "add", `${topo.b4}/24`, "dev", "eth0");
    ip("-n", nsB, "addr", "add", `${topo.b6}/64`, "dev", "eth0", "nodad");
    ip("-n", nsB, "addr", "add", `${topo.other4}/24`, "dev", "other0");
    ip("-n", nsB, "addr", "add", `${topo.other6}/64`, "dev", "other0", "nodad");
    for (const [ns, dev] of [
      [nsA, "eth0"],
      [nsB, "eth0"],
      [nsB, "other0"],
      [nsB, "other1"],
    ]) {
      ip("-n", ns, "link", "set", dev, "up");
    }
    return topo;
  } catch (e) {
    destroy();
    throw e;
  }
}

/** The MAC address of an interface inside a namespace. */
export function macOf(ns: string, dev: string): string {
  const out = execFileSync("ip", ["-n", ns, "-j", "link", "show", "dev", dev], { encoding: "utf8" });
  return (JSON.parse(out) as { address: string }[])[0].address;
}

export function ifindexOf(ns: string, dev: string): number {
  const out = execFileSync("ip", ["-n", ns, "-j", "link", "show", "dev", dev], { encoding: "utf8" });
  return (JSON.parse(out) as { ifindex: number }[])[0].ifindex;
}
