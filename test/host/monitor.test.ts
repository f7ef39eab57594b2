// The `ip monitor` children of LinkWatcher/VipWatcher must die with the daemon and not with a Ctrl-C
// aimed at the daemon's process group.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { LinkWatcher } from "../../src/host/link.js";
import { spawnMonitor, VipWatcher } from "../../src/host/vips.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stat(pid: number): { ppid: number; pgrp: number; comm: string } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    if (f[0] === "Z") return null;
    return { ppid: Number(f[1]), pgrp: Number(f[2]), comm: s.slice(s.indexOf("(") + 1, s.lastIndexOf(")")) };
  } catch {
    return null;
  }
}

/** Live processes whose parent is `ppid`. */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    if (stat(Number(d))?.ppid === ppid) out.push(Number(d));
  }
  return out;
}

async function until(cond: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(25);
  }
  return cond();
}

describe("monitor children", () => {
  it("run in their own process group and stop quietly (no 'monitor exited' on an orderly stop)", async () => {
    const link = new LinkWatcher("lo");
    const vw = new VipWatcher();
    const errors: string[] = [];
    link.on("error", (m: string) => errors.push(m));
    vw.on("error", (m: string) => errors.push(m));
    await link.start(100);
    await vw.start(100);
    const pids = [link.monitorPid!, vw.monitorPid!];
    try {
      for (const pid of pids) {
        expect(stat(pid)?.pgrp).toBe(pid); // a group of its own: not hit by the daemon's Ctrl-C
        expect(stat(pid)?.pgrp).not.toBe(stat(process.pid)?.pgrp);
        const kids = childrenOf(pid).map((p) => stat(p)?.comm);
        expect(kids).toContain("ip");
      }
    } finally {
      link.stop();
      vw.stop();
    }
    expect(await until(() => pids.every((p) => stat(p) === null && childrenOf(p).length === 0))).toBe(true);
    await sleep(100);
    expect(errors).toEqual([]);
  });

  it("the monitor exits when the daemon's end of its stdin closes (what a SIGKILL of the daemon does)", async () => {
    const child = spawnMonitor("ip", ["-o", "monitor", "link"]);
    await sleep(200);
    const sh = child.pid!;
    const ip = childrenOf(sh).filter((p) => stat(p)?.comm === "ip");
    expect(ip.length).toBe(1);
    const exited = new Promise((r) => child.on("exit", r));
    child.stdin!.destroy(); // the kernel does this for us when the daemon dies
    expect(await until(() => stat(ip[0]) === null && stat(sh) === null)).toBe(true);
    await exited;
  });

  it("reports the monitor's own death (and LinkWatcher falls back to polling)", async () => {
    const link = new LinkWatcher("lo", { pollMs: 100 });
    const errors: string[] = [];
    link.on("error", (m: string) => errors.push(m));
    await link.start(100);
    const ip = childrenOf(link.monitorPid!).find((p) => stat(p)?.comm === "ip")!;
    process.kill(ip, "SIGKILL");
    expect(await until(() => errors.length > 0)).toBe(true);
    expect(errors[0]).toMatch(/link monitor exited .*polling instead/);
    link.stop();
  });
});
