// Ports of FreeBSD tests/sys/netinet/carp.sh to two of our daemons in namespaces: basic v4/v6 (one
// master, VIP answers a third host), unicast v4/v6 across a router (a third namespace routing between two
// subnets), negative demotion (PR 259528), nd6 NS source (the backup cannot source from the VIP, the
// master's solicitation maps the VIP to its MAC), switch (forced backup then master are accepted).
import { execFileSync } from "node:child_process";
import { describe, expect, test } from "vitest";
import { labScope, sleep, type LabHost } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";
import { alive, allAlive, carp, cli, flaps, lastSeen, oneMaster, reach, state, status, VIP4, VIP6, VipWatch } from "./fault-lab.js";

const { tmp, lab } = labScope("carp-fault-freebsd-");

const neigh = (h: LabHost, addr: string) =>
  (JSON.parse(h.exec("ip", ["-j", "neigh", "show", addr, "dev", "eth0"])) as Array<{ lladdr?: string }>)[0]?.lladdr ?? null;
const mac = (h: LabHost) => (JSON.parse(h.exec("ip", ["-j", "link", "show", "dev", "eth0"])) as Array<{ address: string }>)[0].address;

describe.concurrent("FreeBSD carp.sh", () => {
  requires("netns", "ours");

  for (const [name, vip, len] of [["basic_v4", VIP4, 24], ["basic_v6", VIP6, 64]] as const) {
    const sem = vip === VIP6 ? ["--semantics", "freebsd"] : []; // ucarp semantics need an IPv4 VIP
    test(`${name}: default options, one master and never two, the VIP answers a third host`, async () => {
      const l = lab(3, name === "basic_v4" ? "fb4" : "fb6");
      const [client, one, two] = l.hosts;
      const w = await VipWatch.start([one, two], vip);
      const t0 = Date.now();
      const nodes = [carp(tmp, one, ["-a", `${vip}/${len}`, ...sem]), carp(tmp, two, ["-a", `${vip}/${len}`, ...sem])];
      const m = await oneMaster(nodes, 12_000);
      expect(m).toBeGreaterThanOrEqual(0);
      await sleep(3000);
      expect(await oneMaster(nodes, 0), lastSeen(nodes)).toBe(m);
      expect(w.holders()).toEqual([m]);
      // Equal advskew: whoever times out second sees the first's advert; the loser may have been MASTER
      // for at most the moment it took the advert to arrive.
      const overlap = w.overlapMs(t0);
      expect(overlap).toBeLessThan(1000);
      for (let i = 0; i < 3; i++) expect(await reach(client, vip)).toBe("ok");
      expect(neigh(client, vip)).toBe(mac(nodes[m].h));
      expect(await allAlive(nodes)).toBe(true);
      console.log(`${name}: master ${m}, VIP on two hosts ${overlap} ms, transitions ${flaps(nodes, 0).join(" ")}`);
    });
  }

  for (const fam of [4, 6] as const) {
    test(`unicast_v${fam}: peers in two subnets across a router, one master, the router reaches the VIP`, async () => {
      const l = lab(3, `fu${fam}`);
      const [router, a, b] = l.hosts;
      // Move b to a second bridge with a second router leg: a and b no longer share a link.
      const sw = (...args: string[]) => execSw(l.bridgeNs, args);
      sw("link", "add", "br1", "type", "bridge", "mcast_snooping", "0", "stp_state", "0", "forward_delay", "0");
      sw("link", "set", "br1", "up");
      sw("link", "set", "ph2", "nomaster");
      sw("link", "set", "ph2", "master", "br1");
      sw("link", "add", "pr1", "type", "veth", "peer", "name", "eth1", "netns", router.ns);
      sw("link", "set", "pr1", "master", "br1");
      sw("link", "set", "pr1", "up");
      for (const h of [router, a, b]) h.exec("ip", ["addr", "flush", "dev", "eth0", "scope", "global"]);
      router.exec("ip", ["link", "set", "eth1", "up"]);
      router.exec("sysctl", ["-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.eth1.accept_dad=0"]);
      // FreeBSD's newest version: the second node's address ends in .224 (PR 284872, an address taken for multicast).
      const v4 = { r0: "198.51.100.1/25", r1: "198.51.100.129/25", a: "198.51.100.2", b: "198.51.100.224", vip: "203.0.113.1" };
      const v6 = { r0: "2001:db8:1::1/64", r1: "2001:db8:2::1/64", a: "2001:db8:1::2", b: "2001:db8:2::2", vip: "2001:db8:3::1" };
      const addr = (h: LabHost, dev: string, x: string) => h.exec("ip", ["addr", "add", x, "dev", dev, ...(x.includes(":") ? ["nodad"] : [])]);
      addr(router, "eth0", v4.r0);
      addr(router, "eth1", v4.r1);
      addr(a, "eth0", `${v4.a}/25`);
      addr(b, "eth0", `${v4.b}/25`);
      a.exec("ip", ["route", "add", "default", "via", "198.51.100.1"]);
      b.exec("ip", ["route", "add", "default", "via", "198.51.100.129"]);
      if (fam === 6) {
        addr(router, "eth0", v6.r0);
        addr(router, "eth1", v6.r1);
        addr(a, "eth0", `${v6.a}/64`);
        addr(b, "eth0", `${v6.b}/64`);
        a.exec("ip", ["-6", "route", "add", "default", "via", "2001:db8:1::1"]);
        b.exec("ip", ["-6", "route", "add", "default", "via", "2001:db8:2::1"]);
      }
      // Sanity: the nodes reach each other through the router.
      expect(await reach(a, fam === 4 ? v4.b : v6.b)).toBe("ok");
      const p = fam === 4 ? v4 : v6;
      // FreeBSD semantics: the TTL is checked only for multicast adverts (a routed unicast one arrives with 254).
      const args = (self: string, peer: string) =>
        fam === 4
          ? ["-s", self, "--peer", peer, "-a", `${p.vip}/32`, "--semantics", "freebsd"]
          : ["-s", fam === 6 ? (self === v6.a ? v4.a : v4.b) : self, "--srcip6", self, "--peer6", peer, "-a", `${p.vip}/128`, "--semantics", "freebsd"];
      const w = await VipWatch.start([a, b], p.vip);
      const t0 = Date.now();
      const nodes = [carp(tmp, a, args(p.a, p.b)), carp(tmp, b, args(p.b, p.a))];
      const m = await oneMaster(nodes, 12_000);
      expect(m).toBeGreaterThanOrEqual(0);
      await sleep(3000);
      expect(await oneMaster(nodes, 0), lastSeen(nodes)).toBe(m);
      const st = await status(nodes[1 - m]);
      expect(st.carpstats.badttl).toBe(0);
      expect(st.vhids[0].lastMaster?.address).toBe(m === 0 ? p.a : p.b);
      // The router routes the VIP to whichever node is master, and reaches it.
      router.exec("ip", [...(fam === 6 ? ["-6"] : []), "route", "add", p.vip, "via", m === 0 ? p.a : p.b]);
      expect(await reach(router, p.vip)).toBe("ok");
      // Changing advskew on the live vhid keeps the unicast peer (the backup still hears the master).
      expect(cli(nodes[m].h, ["set", "--control", nodes[m].sock, "--vhid", "1", "--advskew", "2"]).code).toBe(0);
      await sleep(2500);
      expect(await oneMaster(nodes, 0), lastSeen(nodes)).toBe(m);
      expect((await status(nodes[1 - m])).vhids[0].lastMaster?.advskew).toBe(2);
      const overlap = w.overlapMs(t0);
      expect(overlap).toBeLessThan(1000);
      expect(await allAlive(nodes)).toBe(true);
      console.log(`unicast_v${fam}: master ${m}, VIP on two hosts ${overlap} ms, transitions ${flaps(nodes, 0).join(" ")}`);
    });
  }

  test("negative_demotion: a global demotion of -1 never makes two masters", async () => {
    const l = lab(2, "fnd");
    const [one, two] = l.hosts;
    const nodes = [carp(tmp, one, ["-a", `${VIP4}/24`, "-P", "-k", "0"]), carp(tmp, two, ["-a", `${VIP4}/24`, "-P", "-k", "100"])];
    expect(await oneMaster(nodes, 12_000), lastSeen(nodes)).toBe(0);
    const w = await VipWatch.start([one, two], VIP4);
    const t0 = Date.now();
    const r = cli(one, ["set", "--control", nodes[0].sock, "--demote", "-1"]);
    expect(r.code, r.stderr).toBe(0);
    await sleep(3000);
    const s = await status(nodes[0]);
    expect(s.globalDemotion).toBe(-1);
    expect(s.vhids[0].effectiveAdvskew).toBe(0); // 0 + (-1) clamped: never a negative skew on the wire
    expect(await oneMaster(nodes, 0), lastSeen(nodes)).toBe(0);
    expect((await status(nodes[1])).vhids[0].lastMaster?.advskew).toBe(0);
    // And the other way round: the backup demoted to -1 (skew 99) still loses to skew 0.
    expect(cli(two, ["set", "--control", nodes[1].sock, "--demote", "-1"]).code).toBe(0);
    await sleep(3000);
    expect(await oneMaster(nodes, 0), lastSeen(nodes)).toBe(0);
    expect(w.overlapMs(t0)).toBe(0);
    expect(flaps(nodes, t0)).toEqual([]);
  });

  test("nd6_ns_source_mac: the backup cannot source from the VIP; the master's solicitation maps the VIP to the master", async () => {
    const l = lab(3, "fns");
    const [bridge, master, slave] = l.hosts;
    const f = ["--semantics", "freebsd"];
    const nodes = [carp(tmp, master, ["-a", `${VIP6}/64`, "-k", "0", ...f]), carp(tmp, slave, ["-a", `${VIP6}/64`, "-k", "100", ...f])];
    expect(await oneMaster(nodes, 12_000), lastSeen(nodes)).toBe(0);
    const w = await VipWatch.start([master, slave], VIP6);
    const t0 = Date.now();
    await sleep(1000);
    expect(await reach(slave, bridge.ip6, VIP6)).toBe("EADDRNOTAVAIL");
    bridge.exec("ip", ["neigh", "flush", "dev", "eth0"]);
    master.exec("ip", ["neigh", "flush", "dev", "eth0"]);
    expect(await reach(master, bridge.ip6, VIP6)).toBe("ok");
    // The bridge host learnt the VIP from the master's NS (sourced from the VIP): the master's MAC.
    expect(neigh(bridge, VIP6)).toBe(mac(master));
    expect(await allAlive(nodes)).toBe(true);
    expect(w.overlapMs(t0)).toBe(0);
    expect(w.holders()).toEqual([0]);
  });

  test("switch: forced backup then forced master are accepted on a lone node", async () => {
    const l = lab(1, "fsw");
    const [h] = l.hosts;
    const n = carp(tmp, h, ["-a", `${VIP4}/24`, "-k", "100"]);
    await n.p.waitState("MASTER", 8000);
    const t0 = Date.now();
    expect(cli(h, ["set", "--control", n.sock, "--vhid", "1", "--state", "backup"]).code).toBe(0);
    expect(await state(n)).toBe("BACKUP");
    expect(cli(h, ["set", "--control", n.sock, "--vhid", "1", "--state", "master"]).code).toBe(0);
    expect(await state(n)).toBe("MASTER");
    await sleep(500);
    expect(h.addresses()).toContain(VIP4);
    expect(flaps([n], t0)).toEqual(["0:MASTER->BACKUP", "0:BACKUP->MASTER"]);
    expect(await alive(n)).toBe(true);
  });
});

function execSw(ns: string, args: string[]): string {
  return execFileSync("ip", ["-n", ns, ...args], { encoding: "utf8" });
}
