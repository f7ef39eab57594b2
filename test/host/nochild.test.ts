// End to end: `carp run` with PATH=/nonexistent (no ip, logger, chrt, sh reachable) in a namespace becomes
// MASTER, its VIP is present, syslog lines reach a listener, CARP_RTPRIO took effect, and the daemon has
// no child process at all (no `ip monitor`, no `logger`).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";

import { Netlink } from "../../src/host/netlink.js";
import { CARP_CLI, createLab, Proc, waitFor, type Lab } from "../helpers/netns.js";

const tmp = mkdtempSync(join(tmpdir(), "carp-nochild-"));
const procs: ChildProcess[] = [];
const labs: Lab[] = [];
afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(labs.map((l) => l.destroy()));
  rmSync(tmp, { recursive: true, force: true });
});

/** Children of every thread of `pid` (the kernel's own list, /proc/PID/task/TID/children). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    out.push(...readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number));
  }
  return out;
}

function sched(pid: number): { policy: number; rtprio: number } {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { rtprio: Number(f[37]), policy: Number(f[38]) };
}

describe("carp run without external binaries", () => {
  test("PATH=/nonexistent: MASTER with its VIP, syslog and SCHED_FIFO on, no child processes", async () => {
    expect(existsSync(CARP_CLI)).toBe(true);
    // The syslog listener (python3 unix datagram socket).
    const logPath = join(tmp, "log");
    const code = `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("ready",flush=True)\nwhile True:\n print(s.recv(65535).decode(errors="replace").replace("\\n"," "),flush=True)\n`;
    const syslogd = spawn("python3", ["-c", code, logPath], { stdio: ["ignore", "pipe", "inherit"] });
    procs.push(syslogd);
    const logged: string[] = [];
    syslogd.stdout!.on("data", (d: Buffer) => logged.push(...d.toString().split("\n").filter(Boolean)));
    expect(await waitFor(() => logged.includes("ready"))).toBe(true);

    const l = createLab({ hosts: 1, prefix: "nc" });
    labs.push(l);
    const [a] = l.hosts;
    writeFileSync(join(tmp, "pw"), "nochild\n", { mode: 0o600 });
    // `ip netns exec` by absolute path; the daemon itself (node by absolute path) gets PATH=/nonexistent.
    const child = spawn(
      "/usr/bin/ip",
      ["netns", "exec", a.ns, process.execPath, CARP_CLI, "run", "-i", "eth0", "-s", a.ip4, "-v", "61", "--passfile", join(tmp, "pw"),
        "-a", "203.0.113.61/24", "-b", "1", "--log-format", "json", "-f", "local3", "--control", join(tmp, "c.sock")],
      { stdio: ["ignore", "pipe", "pipe"], env: { PATH: "/nonexistent", CARP_SYSLOG_SOCKET: logPath, CARP_RTPRIO: "5", CARP_RUN_DIR: tmp } },
    );
    const p = new Proc(child);
    procs.push(child);
    try {
      await p.waitState("MASTER", 8000);
      const pid = p.pid;
      // The VIP is there (netlink, from the test).
      const nl = Netlink.for(a.ns);
      const eth0 = nl.link("eth0");
      expect(eth0.ok).toBe(true);
      const addrs = eth0.ok ? nl.addresses(eth0.value.ifindex) : null;
      expect(addrs?.ok && addrs.value.find((x) => x.address === "203.0.113.61")).toMatchObject({ prefix: 24, label: "eth0:carp61" });
      // No child process, on any thread.
      expect(childrenOf(pid)).toEqual([]);
      expect(sched(pid)).toEqual({ policy: 1, rtprio: 5 });
      expect(await waitFor(() => logged.some((x) => new RegExp(`^<158>.*carp\\[${pid}\\]: vhid 61@eth0: .*-> MASTER`).test(x)))).toBe(true);
      // Nothing complained about a missing program.
      expect(p.lines.join("\n")).not.toMatch(/ENOENT|not found|spawn/);
      // Let it run a few advert intervals, then check again (watchers, announcements, adverts).
      await new Promise((r) => setTimeout(r, 1500));
      expect(childrenOf(pid)).toEqual([]);
      p.kill("SIGTERM");
      await p.exited;
      // A graceful stop removes the VIP.
      const after = eth0.ok ? nl.addresses(eth0.value.ifindex) : null;
      expect(after?.ok && after.value.some((x) => x.address === "203.0.113.61")).toBe(false);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
