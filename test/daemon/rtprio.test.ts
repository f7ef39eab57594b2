// CARP_RTPRIO: opt-in SCHED_FIFO for the daemon's event loop; a bad value is a one-line error, exit 2.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { createLab, type Lab } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const tmp = mkdtempSync(join(tmpdir(), "carp-rtprio-"));
const labs: Lab[] = [];
afterAll(async () => {
  await Promise.all(labs.map((l) => l.destroy()));
  rmSync(tmp, { recursive: true, force: true });
});

/** Scheduling policy of a process (field 41 of /proc/PID/stat): 0 SCHED_OTHER, 1 SCHED_FIFO. */
function policy(pid: number): { policy: number; rtprio: number } {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { rtprio: Number(f[37]), policy: Number(f[38]) };
}

describe("CARP_RTPRIO", () => {
  requires("netns");
  test("runs the daemon SCHED_FIFO at the given priority; default stays SCHED_OTHER; bad value exits 2", async () => {
    const l = createLab({ hosts: 1, prefix: "rt" });
    labs.push(l);
    const [a] = l.hosts;
    const args = (v: string) => ["run", "-i", "eth0", "-s", a.ip4, "-v", v, "-p", "rt", "-a", `198.51.100.${v}/24`, "--log-format", "json", "-f", "none", "--control", join(tmp, `${v}.sock`)];
    const rt = a.carp(args("51"), { env: { ...process.env, CARP_RTPRIO: "7" } });
    const plain = a.carp(args("52"));
    await rt.waitState("BACKUP", 5000);
    await plain.waitState("BACKUP", 5000);
    expect(policy(rt.pid)).toEqual({ policy: 1, rtprio: 7 });
    expect(policy(plain.pid).policy).toBe(0);
    rt.kill("SIGINT");
    plain.kill("SIGINT");
    await Promise.all([rt.exited, plain.exited]);
    const bad = a.carpSync(args("53"), { env: { ...process.env, CARP_RTPRIO: "fast" } });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('carp: CARP_RTPRIO: must be 1-99, got "fast"');
  });
});
