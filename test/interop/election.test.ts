// `carp run` against Debian's ucarp (/usr/sbin/ucarp) in both roles, real processes in namespaces.
// Same vhid/password/VIP on both sides; ucarp manages the VIP with its up/down scripts, we manage ours.
// advbase 1: our advskew-20 backup has master-down 3 s + 20/256 s = 3078 ms.
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { labScope, sleep, UCARP, waitFor, type LabHost, type Proc } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const VIP = "198.51.100.100";
const MASTER_DOWN_20 = 3000 + (20 * 1000) / 256;
const { tmp, lab } = labScope("carp-interop-election-");

const ctl = (h: LabHost) => join(tmp, `${h.ns}.sock`);

function ours(h: LabHost, skew: number, extra: string[] = []): Proc {
  return h.carp([
    "run", "-i", "eth0", "-s", h.ip4, "-v", "9", "-p", "s3cret", "-a", VIP, "-b", "1", "-k", String(skew),
    "--log-format", "json", "-f", "none", "--control", ctl(h), ...extra,
  ]);
}

/** ucarp with scripts that add/remove the VIP (as Debian's examples do) and log "up"/"down". */
function ucarp(h: LabHost, skew: number, opts: { password?: string; preempt?: boolean } = {}) {
  const log = join(tmp, `${h.ns}-ucarp.log`);
  const up = join(tmp, `${h.ns}-up.sh`);
  const down = join(tmp, `${h.ns}-down.sh`);
  writeFileSync(up, `#!/bin/sh\nip addr add "$2"/32 dev "$1" 2>/dev/null\necho up >> ${log}\n`);
  writeFileSync(down, `#!/bin/sh\nip addr del "$2"/32 dev "$1" 2>/dev/null\necho down >> ${log}\n`);
  chmodSync(up, 0o755);
  chmodSync(down, 0o755);
  const args = ["-i", "eth0", "-s", h.ip4, "-v", "9", "-p", opts.password ?? "s3cret", "-a", VIP, "-b", "1", "-k", String(skew), "-u", up, "-d", down, "-f", "none"];
  if (opts.preempt) args.push("-P");
  const proc = h.spawn(UCARP, args);
  const states = () => proc.errLines.map((l) => /Switching to state: (\w+)/.exec(l)?.[1]).filter((s): s is string => !!s);
  return { proc, states, scriptLog: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []) };
}

function status(h: LabHost): { vhids: Array<Record<string, any>>; carpstats: Record<string, number> } {
  const r = h.carpSync(["status", "--json", "--control", ctl(h)]);
  if (r.code !== 0) throw new Error(`carp status: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const mac = (h: LabHost) => (JSON.parse(h.exec("ip", ["-j", "link", "show", "dev", "eth0"])) as Array<{ address: string }>)[0].address;
const neighMac = (h: LabHost, addr: string) => {
  const j = JSON.parse(h.exec("ip", ["-j", "neigh", "show", addr, "dev", "eth0"])) as Array<{ lladdr?: string }>;
  return j[0]?.lladdr ?? null;
};
function reach(h: LabHost, addr: string): boolean {
  const code = `const s = require("net").connect(9, ${JSON.stringify(addr)});
    s.on("connect", () => process.exit(0));
    s.on("error", (e) => process.exit(e.code === "ECONNREFUSED" ? 0 : 1));
    setTimeout(() => process.exit(1), 1500);`;
  return h.tryExec(process.execPath, ["-e", code]).code === 0;
}

describe.concurrent("carp run <-> ucarp", () => {
  requires("netns", "ucarp", "ours");
  test("ucarp MASTER (advskew 10), ours BACKUP (20); SIGKILL ucarp -> ours takes over within master-down + 50 ms", async () => {
    const l = lab(3, "ua");
    const [u, o, obs] = l.hosts;
    const uc = ucarp(u, 10);
    expect(await waitFor(() => uc.states().includes("MASTER"), 8000)).toBe(true);
    const n = ours(o, 20);
    await n.waitState("BACKUP", 3000);
    await sleep(2000);
    expect(n.transitions("MASTER")).toHaveLength(0);
    const s = status(o);
    expect(s.vhids[0].lastMaster).toMatchObject({ address: u.ip4, advskew: 10, advbase: 1 });
    expect(s.carpstats.badauth + s.carpstats.badttl + s.carpstats.badsum).toBe(0);
    expect(uc.states()).toEqual(["BACKUP", "MASTER"]); // ucarp never stepped down for us
    expect(reach(obs, VIP)).toBe(true);
    expect(neighMac(obs, VIP)).toBe(mac(u));

    const killed = Date.now();
    uc.proc.kill("SIGKILL");
    u.exec("ip", ["link", "set", "eth0", "down"]); // the dead host's stale VIP must not answer either
    const t = await n.waitState("MASTER", 8000, killed);
    const delay = (t.ts as number) - (t.lastMasterAt as number);
    expect(delay).toBeGreaterThanOrEqual(MASTER_DOWN_20 - 5);
    expect(delay).toBeLessThanOrEqual(MASTER_DOWN_20 + 50);
    expect(await waitFor(() => o.addresses().includes(VIP), 2000)).toBe(true);
    expect(await waitFor(() => neighMac(obs, VIP) === mac(o), 3000)).toBe(true);
    expect(reach(obs, VIP)).toBe(true);
  });

  test("ours MASTER (10), ucarp BACKUP (20) accepts our adverts; wrong-password ucarp is badauth; SIGTERM hands over", async () => {
    const l = lab(3, "ub");
    const [o, u, bad] = l.hosts;
    const n = ours(o, 10);
    await n.waitState("MASTER", 8000);
    const uc = ucarp(u, 20);
    expect(await waitFor(() => uc.states().includes("BACKUP"), 3000)).toBe(true);
    // A ucarp with the wrong password: its adverts (advskew 0) are rejected and cannot take our VIP.
    const ub = ucarp(bad, 0, { password: "wrong" });
    await sleep(4500);
    expect(uc.states()).toEqual(["BACKUP"]); // our signed adverts keep the right ucarp a backup
    expect(ub.states()).toContain("MASTER"); // the wrong one hears nothing it accepts
    const s = status(o);
    expect(s.vhids[0].state).toBe("MASTER");
    expect(s.carpstats.badauth).toBeGreaterThan(0);
    expect(s.vhids[0].counters.badauth).toBe(s.carpstats.badauth);
    expect(o.addresses()).toContain(VIP);
    expect(u.addresses()).not.toContain(VIP);
    ub.proc.kill("SIGKILL");
    bad.exec("ip", ["link", "set", "eth0", "down"]);

    // Graceful stop: our bow-out (advbase/advskew 255) makes ucarp's "master will time out" rule fire.
    const stopAt = Date.now();
    n.kill("SIGTERM");
    expect((await n.exited).code).toBe(0);
    expect(o.addresses()).not.toContain(VIP);
    expect(await waitFor(() => uc.states().includes("MASTER"), 5000)).toBe(true);
    // ucarp logs "<local time with µs>: [WARNING] Switching to state: MASTER"; our log has the signal's epoch ms.
    const sig = (await n.waitJson((e) => e.event === "signal", 1000)).ts as number;
    const line = uc.proc.errLines.filter((x) => x.includes("Switching to state: MASTER")).at(-1)!;
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})/.exec(line)!;
    const ucarpMasterAt = new Date(m[1]).getTime() + Number(m[2]) / 1000;
    // Without the bow-out ucarp would wait its master-down (3 s + 20/256 s). With it, ucarp reacts as soon
    // as it reads the packet; its libpcap read timeout adds a few hundred ms (measured ~330 ms).
    expect(ucarpMasterAt - sig).toBeGreaterThanOrEqual(0);
    expect(ucarpMasterAt - sig).toBeLessThan(1000);
    expect(Date.now() - stopAt).toBeLessThan(MASTER_DOWN_20);
    expect(await waitFor(() => u.addresses().includes(VIP), 2000)).toBe(true);
  });

  test("preempt: ours (10, -P) takes mastership from a ucarp master (20)", async () => {
    const l = lab(2, "uc");
    const [u, o] = l.hosts;
    const uc = ucarp(u, 20);
    expect(await waitFor(() => uc.states().includes("MASTER"), 8000)).toBe(true);
    const n = ours(o, 10, ["-P"]);
    const t = await n.waitState("MASTER", 3000);
    expect(String(t.reason)).toMatch(new RegExp(`preempting a slower master ${u.ip4.replace(/\./g, "\\.")}`));
    expect(await waitFor(() => uc.states().at(-1) === "BACKUP", 2000)).toBe(true);
    expect(await waitFor(() => !u.addresses().includes(VIP) && o.addresses().includes(VIP), 2000)).toBe(true);
    await sleep(1500);
    expect(uc.states().at(-1)).toBe("BACKUP");
    expect(n.transitions()).toHaveLength(2);
  });

  test("preempt: ucarp (10, -P) takes mastership from our master (20)", async () => {
    const l = lab(2, "ud");
    const [o, u] = l.hosts;
    const n = ours(o, 20);
    await n.waitState("MASTER", 8000);
    const before = Date.now();
    const uc = ucarp(u, 10, { preempt: true });
    const back = await n.waitState("BACKUP", 3000, before);
    expect(String(back.reason)).toMatch(new RegExp(`more frequent advertisement received from ${u.ip4.replace(/\./g, "\\.")}`));
    expect(await waitFor(() => uc.states().at(-1) === "MASTER", 2000)).toBe(true);
    expect(await waitFor(() => u.addresses().includes(VIP) && !o.addresses().includes(VIP), 2000)).toBe(true);
  });
});
