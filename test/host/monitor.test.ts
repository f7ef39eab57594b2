// Link and address watching spawn nothing: LinkWatcher and VipWatcher share the process's one netlink
// subscription (one socket), which closes when the last of them stops, and no child process appears.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { LinkWatcher } from "../../src/host/link.js";
import { NetlinkEvents } from "../../src/host/netlink.js";
import { VipWatcher } from "../../src/host/vips.js";
import { socketFdsWithInodes } from "../helpers/unix.js";

/** Live processes whose parent is `ppid`. */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
      if (f[0] !== "Z" && Number(f[1]) === ppid) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Netlink sockets this process holds (socket inodes whose protocol is NETLINK_ROUTE). */
function netlinkRouteSockets(): number {
  const inodes = new Set<string>();
  for (const line of readFileSync("/proc/self/net/netlink", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode: Eth 0 = NETLINK_ROUTE
    if (f.length >= 10 && f[1] === "0" && f[3] !== "00000000") inodes.add(f[9]);
  }
  return socketFdsWithInodes(inodes);
}

describe("watchers", () => {
  it("share one netlink subscription, spawn no child process, and stop quietly", async () => {
    const before = childrenOf(process.pid);
    const subscribedBefore = netlinkRouteSockets();
    const link = new LinkWatcher("lo");
    const link2 = new LinkWatcher("lo");
    const vw = new VipWatcher();
    const errors: string[] = [];
    for (const w of [link, link2, vw]) w.on("error", (m: string) => errors.push(m));
    expect((await link.start()).up).toBe(true);
    await link2.start();
    expect(await vw.start()).toBeNull();
    try {
      expect(link.subscribed && link2.subscribed).toBe(true);
      expect(NetlinkEvents.usersOf()).toBe(3);
      expect(netlinkRouteSockets() - subscribedBefore).toBe(1); // one subscribed socket for all three
      expect(vw.subscriptionFd).toBeGreaterThanOrEqual(0);
      expect(childrenOf(process.pid)).toEqual(before);
    } finally {
      link.stop();
      link2.stop();
      vw.stop();
    }
    expect(NetlinkEvents.usersOf()).toBe(0);
    expect(netlinkRouteSockets()).toBe(subscribedBefore);
    expect(errors).toEqual([]);
  });
});
