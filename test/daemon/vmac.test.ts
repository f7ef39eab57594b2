// Virtual MAC mode (--vmac): a macvlan carp0 with 00:00:5e:00:01:vhid holds the VIPs, up on MASTER and
// down on BACKUP; adverts, GARP and NA leave from the virtual MAC (FreeBSD test_source_mac,
// nd6_ns_source_mac); an observer's neighbour entry for the VIP is always the virtual MAC; devd IFNET
// carp0 LINK_UP/LINK_DOWN actions run from the kernel's link events.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { createLab, sleep, waitFor, type Lab, type LabHost } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const tmp = mkdtempSync(join(tmpdir(), "carp-vmac-"));
const labs: Lab[] = [];
afterAll(async () => {
  await Promise.all(labs.map((l) => l.destroy()));
  rmSync(tmp, { recursive: true, force: true });
});

const VMAC = "00:00:5e:00:01:09";
const VIP4 = "198.51.100.109";
const VIP6 = "2001:db8:100::109";

const devdConf = (h: LabHost) => {
  const f = join(tmp, `${h.ns}.devd.conf`);
  const out = join(tmp, `${h.ns}.devd.out`);
  writeFileSync(
    f,
    `notify 30 {\n match "system" "IFNET";\n match "subsystem" "carp0";\n match "type" "LINK_UP";\n action "echo master >> ${out}";\n};\n` +
      `notify 30 {\n match "system" "IFNET";\n match "subsystem" "carp0";\n match "type" "LINK_DOWN";\n action "echo slave >> ${out}";\n};\n`,
  );
  return { conf: f, out };
};
const devdLines = (out: string) => {
  try {
    return readFileSync(out, "utf8").trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
};

const run = (h: LabHost, skew: number, extra: string[] = []) =>
  h.carp([
    "run", "-i", "eth0", "-v", "9", "-p", "vmacpw", "-a", `${VIP4}/24`, "-a", `${VIP6}/64`, "--semantics", "freebsd", "-b", "1", "-k", String(skew),
    "--vmac", "--carp-name", "carp0", "--fix-sysctls", "--log-format", "json", "-f", "none", "--control", join(tmp, `${h.ns}.sock`), ...extra,
  ]);

const realMac = (h: LabHost) => (JSON.parse(h.exec("ip", ["-j", "link", "show", "dev", "eth0"])) as Array<{ address: string }>)[0].address;
const carp0 = (h: LabHost): { up: boolean; mac: string; addrs: string[] } | null => {
  const r = h.tryExec("ip", ["-j", "addr", "show", "dev", "carp0"]);
  if (r.code !== 0) return null;
  const j = (JSON.parse(r.stdout) as Array<{ flags: string[]; address: string; addr_info: Array<{ local: string }> }>)[0];
  return { up: j.flags.includes("UP"), mac: j.address, addrs: j.addr_info.map((a) => a.local) };
};
const neigh = (h: LabHost, ip: string): string | null => {
  const j = JSON.parse(h.exec("ip", ["-j", "neigh", "show", ip])) as Array<{ lladdr?: string }>;
  return j[0]?.lladdr ?? null;
};
/** Sends a UDP datagram to the VIP from the observer (which resolves it), then returns the neighbour entry's MAC. */
const resolveFrom = (obs: LabHost, ip: string): string | null => {
  obs.tryExec("ip", ["neigh", "flush", "to", ip]);
  const fam = ip.includes(":") ? "AF_INET6" : "AF_INET";
  obs.exec("python3", ["-c", `import socket,time\ns=socket.socket(socket.${fam},socket.SOCK_DGRAM)\nfor i in range(5):\n s.sendto(b"x",("${ip}",9))\n time.sleep(0.1)`]);
  return neigh(obs, ip);
};

describe("virtual MAC mode (--vmac)", () => {
  requires("netns");
  test("carp0 with 00:00:5e:00:01:vhid: adverts/GARP/NA from the virtual MAC, link up on MASTER only, devd from kernel link events, swap on failover", async () => {
    const l = createLab({ hosts: 3, prefix: "vm" });
    labs.push(l);
    const [a, b, obs] = l.hosts;
    const macs = [realMac(a), realMac(b)];
    const da = devdConf(a);
    const db = devdConf(b);
    // Every neighbour change the observer's kernel makes for the VIPs, for the whole test.
    const mon = obs.spawn("ip", ["monitor", "neigh"]);
    const cap = obs.spawn("tcpdump", ["-i", "eth0", "-e", "-n", "-l", "ip proto 112 or ip6 proto 112 or arp or icmp6"]);
    await sleep(500);
    const na = run(a, 10, ["--devd-conf", da.conf, "--debug"]);
    await na.waitState("MASTER", 8000);
    const nb = run(b, 20, ["--devd-conf", db.conf, "--debug"]);
    await nb.waitState("BACKUP", 5000);
    await sleep(1500);

    // The sysctls were set (--fix-sysctls) on the parent and on carp0.
    expect(a.exec("sysctl", ["-n", "net.ipv4.conf.eth0.arp_ignore"]).trim()).toBe("1");
    expect(a.exec("sysctl", ["-n", "net.ipv4.conf.carp0.rp_filter"]).trim()).toMatch(/^[02]$/);

    // carp0: UP with the VIPs on the master, DOWN without them on the backup.
    const ca = carp0(a)!;
    const cb = carp0(b)!;
    expect(ca).toMatchObject({ up: true, mac: VMAC });
    expect(ca.addrs).toEqual(expect.arrayContaining([VIP4, VIP6]));
    expect(cb).toMatchObject({ up: false, mac: VMAC });
    expect(cb.addrs).not.toContain(VIP4);
    expect(devdLines(da.out)).toEqual(["master"]);

    // The observer resolves both VIPs to the virtual MAC.
    expect(resolveFrom(obs, VIP4)).toBe(VMAC);
    expect(resolveFrom(obs, VIP6)).toBe(VMAC);

    // Failover: a stops (bow-out), b takes over; carp0 swaps, devd runs on b from its link event.
    const t0 = Date.now();
    na.kill("SIGTERM");
    await na.exited;
    await nb.waitState("MASTER", 5000, t0);
    expect(await waitFor(() => carp0(b)?.up === true && carp0(b)!.addrs.includes(VIP4), 3000)).toBe(true);
    expect(carp0(a)).toBeNull(); // removed on exit
    expect(await waitFor(() => devdLines(db.out).includes("master"), 3000)).toBe(true);
    expect(resolveFrom(obs, VIP4)).toBe(VMAC);
    expect(resolveFrom(obs, VIP6)).toBe(VMAC);

    // a comes back as BACKUP: its carp0 is created again, down.
    const na2 = run(a, 30, ["--devd-conf", da.conf]);
    await na2.waitState("BACKUP", 6000);
    expect(carp0(a)).toMatchObject({ up: false, mac: VMAC });

    // devd follows the kernel's link state, not our transitions: carp0 set down by hand on the master.
    b.exec("ip", ["link", "set", "carp0", "down"]);
    expect(await waitFor(() => devdLines(db.out).includes("slave"), 3000)).toBe(true);
    b.exec("ip", ["link", "set", "carp0", "up"]);
    expect(await waitFor(() => devdLines(db.out).filter((x) => x === "master").length === 2, 3000)).toBe(true);

    nb.kill("SIGTERM");
    na2.kill("SIGTERM");
    await Promise.all([nb.exited, na2.exited]);
    mon.kill();
    cap.kill();
    await Promise.all([mon.exited, cap.exited]);

    // Adverts (both families) and the announcements came from the virtual MAC only.
    const carpFrames = cap.lines.filter((x) => /proto CARP|proto VRRP|ip-proto-112|CARPv2|VRRPv2|next-header 112|: (ip-proto|carp|vrrp)/i.test(x) && /ethertype IPv[46]/.test(x));
    expect(carpFrames.length).toBeGreaterThan(4);
    for (const f of carpFrames) expect(f.startsWith(`${f.split(" ")[0]} ${VMAC} >`)).toBe(true);
    const v6Adverts = carpFrames.filter((x) => x.includes("IPv6"));
    expect(v6Adverts.length).toBeGreaterThan(0);
    // The observer never held a host's real MAC for a VIP.
    const vipLines = mon.lines.filter((x) => x.startsWith(`${VIP4} `) || x.startsWith(`${VIP6} `));
    expect(vipLines.some((x) => x.includes(VMAC))).toBe(true);
    for (const m of macs) expect(vipLines.filter((x) => x.includes(m))).toEqual([]);
    // b removed its carp0 on exit as well.
    expect(carp0(b)).toBeNull();
  }, 60_000);

  test("carp check lists the sysctls vmac needs and warns about each wrong one with the value to set", () => {
    const l = createLab({ hosts: 1, prefix: "vc" });
    labs.push(l);
    const [h] = l.hosts;
    const args = ["check", "-i", "eth0", "-v", "9", "-p", "x", "-a", `${VIP4}/24`, "--vmac", "--control", join(tmp, "check.sock")];
    const r = h.carpSync(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("virtual MAC 00:00:5e:00:01:09 on carp9 (macvlan of eth0, up on MASTER only)");
    expect(r.stdout).toMatch(/sysctl net\.ipv4\.conf\.eth0\.arp_ignore = 0 WRONG, set 1/);
    expect(r.stdout).toMatch(/sysctl net\.ipv4\.conf\.carp9\.arp_announce = 0 \(from default\) WRONG, set 2/);
    // (stderr also carries "warning: net.ipv4.conf.eth0.arp_ignore is 0, set 1 (sysctl -w ...)"; tryExec keeps stderr only on failure)
    h.exec("sysctl", ["-qw", "net.ipv4.conf.eth0.arp_ignore=1", "net.ipv4.conf.eth0.arp_announce=2", "net.ipv4.conf.default.arp_ignore=1", "net.ipv4.conf.default.arp_announce=2", "net.ipv4.conf.default.promote_secondaries=1"]);
    const ok = h.carpSync(args);
    expect(ok.stdout).not.toContain("WRONG");
    expect(h.tryExec("ip", ["link", "show", "carp9"]).code).not.toBe(0); // check creates nothing
  });

  test("unicast peers: adverts to the peer leave from the virtual MAC; after a SIGKILL the macvlan is adopted, not duplicated", async () => {
    const l = createLab({ hosts: 2, prefix: "vu" });
    labs.push(l);
    const [a, b] = l.hosts;
    const cap = b.spawn("tcpdump", ["-i", "eth0", "-e", "-n", "-l", "ip proto 112"]);
    await sleep(500);
    const na = run(a, 10, ["--peer", b.ip4]);
    await na.waitState("MASTER", 8000);
    const nb = run(b, 20, ["--peer", a.ip4]);
    await nb.waitState("BACKUP", 5000);
    await sleep(3500);
    const fromA = cap.lines.filter((x) => x.includes(`${a.ip4} > ${b.ip4}`));
    expect(fromA.length).toBeGreaterThanOrEqual(3);
    // The first one may go through the kernel while b's MAC is unresolved; every later one has the virtual MAC.
    expect(fromA.slice(1).every((x) => x.split(" ")[1] === VMAC)).toBe(true);
    expect(fromA.every((x) => / > (00:00:5e:00:01:09|[0-9a-f:]{17}), ethertype IPv4/.test(x))).toBe(true);

    // A crash leaves carp0 (up, with the VIP) behind; the next start adopts it.
    na.kill("SIGKILL");
    await na.exited;
    expect(carp0(a)).toMatchObject({ up: true, mac: VMAC });
    await nb.waitState("MASTER", 6000);
    const na2 = run(a, 30, ["--peer", b.ip4]);
    await na2.waitJson((e) => e.event === "vmac" && /adopted from an earlier run/.test(String(e.msg)), 6000, "adopted");
    await na2.waitState("BACKUP", 6000);
    const macvlans = (JSON.parse(a.exec("ip", ["-j", "-d", "link", "show", "type", "macvlan"])) as unknown[]).length;
    expect(macvlans).toBe(1);
    expect(carp0(a)).toMatchObject({ up: false, mac: VMAC });
    expect(carp0(a)!.addrs).not.toContain(VIP4);
    na2.kill("SIGTERM");
    nb.kill("SIGTERM");
    await Promise.all([na2.exited, nb.exited]);
    expect(carp0(a)).toBeNull();
    cap.kill();
  }, 60_000);

  test("without --fix-sysctls the daemon only warns, naming each wrong sysctl and the value to set", async () => {
    const l = createLab({ hosts: 1, prefix: "vw" });
    labs.push(l);
    const [h] = l.hosts;
    const n = h.carp(["run", "-i", "eth0", "-v", "9", "-p", "x", "-a", `${VIP4}/24`, "--semantics", "freebsd", "--vmac", "--log-format", "json", "-f", "none", "--control", join(tmp, "warn.sock")]);
    await n.waitState("MASTER", 8000);
    const warn = await n.waitJson((e) => e.level === "warn" && String(e.msg).startsWith("net.ipv4.conf.eth0.arp_ignore is 0, set 1"), 3000, "sysctl warning");
    expect(warn.msg).toContain("sysctl -w net.ipv4.conf.eth0.arp_ignore=1, or --fix-sysctls");
    expect(n.json().some((e) => e.level === "warn" && String(e.msg).startsWith("net.ipv4.conf.carp9.arp_announce is 0, set 2"))).toBe(true);
    expect(h.exec("sysctl", ["-n", "net.ipv4.conf.eth0.arp_ignore"]).trim()).toBe("0");
    n.kill("SIGTERM");
    await n.exited;
  }, 30_000);
});
