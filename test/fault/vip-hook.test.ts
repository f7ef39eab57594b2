// A VIP deleted by hand on the master (re-added and announced: the GARP is seen by a third host), and a
// hung hook (the next transition's hook runs within the supersede bound, the hung one is killed).
// Control-socket abuse (huge line, slow client, thousands of connections) is covered by
// test/daemon/control.test.ts ("abuse").
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { labScope, sleep, waitFor } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";
import { allAlive, carp, cli, flaps, lastSeen, oneMaster, VIP4, VipWatch, masterAndBackup } from "./fault-lab.js";

const { tmp, lab } = labScope("carp-fault-viphook-");

describe.concurrent("VIP and hooks", () => {
  requires("netns", "ours", "tcpdump");

  test("VIP deleted by hand on the master: re-added, announced by GARP, no role change", async () => {
    const l = lab(3, "fv");
    const [a, b, obs] = l.hosts;
    const { na, nodes } = await masterAndBackup(tmp, a, b);
    const dump = obs.spawn("tcpdump", ["-l", "-n", "-e", "-i", "eth0", "arp"]);
    expect(await waitFor(() => dump.errLines.some((x) => /listening on/.test(x)), 10_000)).toBe(true);
    const w = await VipWatch.start([a, b], VIP4);
    await sleep(1500);
    const t0 = Date.now();
    const seen = dump.lines.length;
    a.exec("ip", ["addr", "del", `${VIP4}/24`, "dev", "eth0"]);
    const re = await na.p.waitJson((e) => e.event === "vipReadded" && (e.ts as number) >= t0 - 50, 10_000, "vipReadded");
    const readdMs = (re.ts as number) - t0;
    expect(await waitFor(() => a.addresses().includes(VIP4), 2000)).toBe(true);
    const mac = (JSON.parse(a.exec("ip", ["-j", "link", "show", "dev", "eth0"])) as Array<{ address: string }>)[0].address;
    const garp = new RegExp(`^(\\S+) ${mac} > .*(who-has ${VIP4.replace(/\./g, "\\.")} tell ${VIP4.replace(/\./g, "\\.")}|Reply ${VIP4.replace(/\./g, "\\.")} is-at ${mac})`);
    expect(await waitFor(() => dump.lines.slice(seen).some((x) => garp.test(x)), 5000), dump.lines.slice(-5).join("\n")).toBe(true);
    await sleep(2000);
    expect(await oneMaster(nodes, 0), lastSeen(nodes)).toBe(0);
    expect(flaps(nodes, t0)).toEqual([]);
    expect(await allAlive(nodes)).toBe(true);
    const gap = w.gapMs(t0);
    expect(w.overlapMs(t0)).toBe(0);
    expect(gap).toBeLessThan(5000);
    console.log(`vip deleted: re-added ${readdMs} ms after the delete (VIP absent ${gap} ms), GARP seen, no transition`);
  });

  test("hung upscript: the next transition's downscript runs within the supersede bound, the hung one is killed", async () => {
    const l = lab(2, "fh");
    const [a, b] = l.hosts;
    const log = join(tmp, `${l.tag}-hooks.log`);
    const up = join(tmp, `${l.tag}-up.sh`);
    const down = join(tmp, `${l.tag}-down.sh`);
    writeFileSync(up, `#!/bin/sh\necho "up $(date +%s%3N)" >> ${log}\nexec sleep 600\n`);
    writeFileSync(down, `#!/bin/sh\necho "down $(date +%s%3N)" >> ${log}\n`);
    chmodSync(up, 0o755);
    chmodSync(down, 0o755);
    const lines = () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []);
    const na = carp(tmp, a, ["-a", `${VIP4}/24`, "-u", up, "-d", down]);
    await na.p.waitState("MASTER", 10_000);
    const nb = carp(tmp, b, ["-a", `${VIP4}/24`, "-k", "100"]);
    const nodes = [na, nb];
    expect(await oneMaster(nodes, 10_000), lastSeen(nodes)).toBe(0);
    expect(await waitFor(() => lines().some((x) => x.startsWith("up ")), 5000)).toBe(true);
    const w = await VipWatch.start([a, b], VIP4);
    const tw = Date.now();
    // The hung upscript does not hold adverts back: b stays BACKUP for several intervals.
    await sleep(3500);
    expect(await oneMaster(nodes, 0), lastSeen(nodes)).toBe(0);
    const sleeping = () => a.tryExec("sh", ["-c", `for p in $(ip netns pids ${a.ns}); do cat /proc/$p/cmdline 2>/dev/null | tr '\\0' ' '; echo; done`]).stdout.includes("sleep 600");
    expect(sleeping()).toBe(true);
    const t0 = Date.now();
    expect(cli(a, ["set", "--control", na.sock, "--vhid", "1", "--state", "backup"]).code).toBe(0);
    const set = await na.p.waitJson((e) => e.event === "set" && (e.ts as number) >= t0 - 50, 3000, "set log");
    expect(await waitFor(() => lines().filter((x) => x.startsWith("down ")).length >= 2, 10_000), lines().join(" | ")).toBe(true);
    const ranAt = Number(lines().filter((x) => x.startsWith("down ")).at(-1)!.split(" ")[1]);
    const delay = ranAt - (set.ts as number);
    expect(delay).toBeLessThan(4000); // documented: ~1.5 s (1 s grace, SIGTERM, SIGKILL 0.5 s later)
    expect(await waitFor(() => !sleeping(), 3000)).toBe(true);
    // Both BACKUP now: whichever master-down timer fires first (a's, advskew 0, as a rule) takes over.
    expect(await oneMaster(nodes, 10_000), lastSeen(nodes)).toBeGreaterThanOrEqual(0);
    expect(await allAlive(nodes)).toBe(true);
    // The VIP follows the states, whatever the hook does.
    const overlap = w.overlapMs(tw);
    expect(overlap).toBeLessThan(500);
    console.log(`hung hook: VIP on two hosts ${overlap} ms; next downscript ran ${delay} ms after the transition; the hung upscript was killed`);
  });
});
