// rtnetlink through the addon, in real network namespaces: address add/list/delete (IPv4 with label,
// IPv6 nodad), errno values (EEXIST, EADDRNOTAVAIL, ENODEV, ENOENT, EPERM), link get/set, and the one
// event subscription (link down/up, address add/delete) with receive timestamps.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { uniquePrefix } from "../../src/lab/names.js";
import { Lab, type LabHost } from "../../src/lab/topology.js";
import { Netlink, NetlinkEvents, type NetlinkEvent } from "../../src/host/netlink.js";
import { waitFor } from "./netns-helper.js";
import { nobodyRoot } from "../helpers/nobody.js";

let lab: Lab;
let a: LabHost;
let nl: Netlink;
let eth0: number;

beforeAll(() => {
  lab = Lab.create({ prefix: uniquePrefix("tnl") });
  a = lab.addHost("a");
  nl = Netlink.for(a.ns);
  const l = nl.link("eth0");
  if (!l.ok) throw new Error(l.error);
  eth0 = l.value.ifindex;
});
afterAll(() => lab?.destroy());

const kernelAddrs = () =>
  JSON.parse(a.ip("-j", "addr", "show", "dev", "eth0"))[0].addr_info as Array<{ family: string; local: string; prefixlen: number; label?: string; tentative?: boolean; nodad?: boolean }>;

describe("links", () => {
  it("gets a link by name and by index: ifindex, MAC, flags, operstate, mtu", () => {
    const byName = nl.link("eth0");
    expect(byName.ok).toBe(true);
    if (!byName.ok) return;
    expect(byName.value).toMatchObject({ name: "eth0", mac: a.mac, up: true, mtu: 1500 });
    expect(byName.value.ifindex).toBe(a.link().ifindex);
    expect(byName.value.operstate).toBe(a.link().operstate);
    const byIndex = nl.link(byName.value.ifindex);
    expect(byIndex.ok && byIndex.value.name).toBe("eth0");
    expect(nl.link("lo").ok && (nl.link("lo") as { value: { mac: string | null } }).value.mac).toBeNull(); // not Ethernet
    const all = nl.links();
    expect(all.ok && all.value.map((l) => l.name).sort()).toEqual(["eth0", "lo"]);
  });

  it("reports a missing interface and a missing namespace as errno values", () => {
    const r = nl.link("nosuch0");
    expect(r).toMatchObject({ ok: false, code: "ENODEV" });
    expect(nl.link(9999)).toMatchObject({ ok: false, code: "ENODEV" });
    const n = Netlink.for(`${a.ns}zz`).link("eth0");
    expect(n).toMatchObject({ ok: false, code: "ENOENT" });
    if (!n.ok) expect(n.error).toContain(`${a.ns}zz`);
  });
});

describe("addresses", () => {
  it("adds IPv4 with a label and IPv6 with nodad, lists them with flags, deletes them", () => {
    expect(nl.addAddress(eth0, { family: 4, address: "203.0.113.5", prefix: 24, label: "eth0:carp5" })).toEqual({ ok: true, value: true });
    expect(nl.addAddress(eth0, { family: 6, address: "2001:db8:5::5", prefix: 64, nodad: true })).toEqual({ ok: true, value: true });
    // The kernel has them the moment addAddress returns (the ACK came after the change).
    const k = kernelAddrs();
    expect(k.find((x) => x.local === "203.0.113.5")).toMatchObject({ prefixlen: 24, label: "eth0:carp5" });
    const k6 = k.find((x) => x.local === "2001:db8:5::5");
    expect(k6?.prefixlen).toBe(64);
    expect(k6?.tentative).toBeFalsy();

    const listed = nl.addresses(eth0);
    expect(listed.ok).toBe(true);
    if (!listed.ok) return;
    const v4 = listed.value.find((x) => x.address === "203.0.113.5");
    expect(v4).toMatchObject({ family: 4, prefix: 24, label: "eth0:carp5", ifindex: eth0 });
    expect(v4!.flags).toContain("permanent");
    expect(v4!.flags).not.toContain("secondary");
    const v6 = listed.value.find((x) => x.address === "2001:db8:5::5");
    expect(v6).toMatchObject({ family: 6, prefix: 64 });
    expect(v6!.flags).toContain("nodad");
    expect(v6!.flags).not.toContain("tentative");
    // A second address in the same subnet is a secondary.
    expect(nl.addAddress(eth0, { family: 4, address: "203.0.113.6", prefix: 24 }).ok).toBe(true);
    const sec = nl.addresses(eth0);
    expect(sec.ok && sec.value.find((x) => x.address === "203.0.113.6")!.flags).toContain("secondary");
    // All interfaces: lo's 127.0.0.1 is there too.
    const all = nl.addresses();
    expect(all.ok && all.value.some((x) => x.address === "127.0.0.1")).toBe(true);

    expect(nl.addAddress(eth0, { family: 4, address: "203.0.113.5", prefix: 24 })).toMatchObject({ ok: false, code: "EEXIST" });
    expect(nl.deleteAddress(eth0, { family: 4, address: "203.0.113.6", prefix: 24 })).toEqual({ ok: true, value: true });
    expect(nl.deleteAddress(eth0, { family: 4, address: "203.0.113.5", prefix: 24 })).toEqual({ ok: true, value: true });
    expect(nl.deleteAddress(eth0, { family: 6, address: "2001:db8:5::5", prefix: 64 })).toEqual({ ok: true, value: true });
    expect(nl.deleteAddress(eth0, { family: 4, address: "203.0.113.5", prefix: 24 })).toMatchObject({ ok: false, code: "EADDRNOTAVAIL" });
    expect(kernelAddrs().some((x) => x.local === "203.0.113.5" || x.local === "2001:db8:5::5")).toBe(false);
    expect(nl.addAddress(9999, { family: 4, address: "203.0.113.7", prefix: 24 })).toMatchObject({ ok: false, code: "ENODEV" });
    expect(nl.addAddress(eth0, { family: 4, address: "not-an-ip", prefix: 24 })).toMatchObject({ ok: false, code: "EINVAL" });
  });

  it("EPERM as a value with the reason, from a process without CAP_NET_ADMIN", () => {
    // The compiled module in a child that dropped root (setpriv) inside the namespace: nothing changes.
    const dist = join(nobodyRoot(), "dist/host/netlink.js");
    const code = `import(${JSON.stringify(dist)}).then(({ Netlink }) => { const n = Netlink.for(); const l = n.link("eth0"); ` +
      `console.log(JSON.stringify(n.addAddress(l.value.ifindex, { family: 4, address: "203.0.113.77", prefix: 32 }))); })`;
    const out = execFileSync("ip", ["netns", "exec", a.ns, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", code], { encoding: "utf8" });
    const r = JSON.parse(out.trim());
    expect(r).toMatchObject({ ok: false, code: "EPERM" });
    expect(r.error).toMatch(/needs root or CAP_NET_ADMIN/);
    expect(kernelAddrs().some((x) => x.local === "203.0.113.77")).toBe(false);
  });

  it("sets promote_secondaries per interface (read back from the kernel)", () => {
    expect(nl.setPromoteSecondaries(eth0, false).ok).toBe(true);
    expect(nl.link(eth0)).toMatchObject({ ok: true, value: { promoteSecondaries: false } });
    expect(a.exec("sysctl", ["-n", "net.ipv4.conf.eth0.promote_secondaries"]).trim()).toBe("0");
    expect(nl.setPromoteSecondaries(eth0, true).ok).toBe(true);
    expect(nl.link(eth0)).toMatchObject({ ok: true, value: { promoteSecondaries: true } });
    expect(a.exec("sysctl", ["-n", "net.ipv4.conf.eth0.promote_secondaries"]).trim()).toBe("1");
  });
});

describe("events", () => {
  it("one subscription per namespace delivers link down/up and address add/delete with timestamps", async () => {
    const s1 = NetlinkEvents.acquire(a.ns);
    const s2 = NetlinkEvents.acquire(a.ns);
    expect(s1.ok && s2.ok).toBe(true);
    if (!s1.ok || !s2.ok) return;
    expect(s1.value).toBe(s2.value); // shared: one socket
    expect(NetlinkEvents.usersOf(a.ns)).toBe(2);
    const events: NetlinkEvent[] = [];
    s1.value.on("event", (e: NetlinkEvent) => events.push(e));
    const t0 = Date.now();
    try {
      expect(nl.setLinkUp(eth0, false).ok).toBe(true);
      expect(await waitFor(() => events.some((e) => e.type === "link" && e.link.name === "eth0" && !e.link.up))).toBe(true);
      expect(nl.link("eth0")).toMatchObject({ ok: true, value: { up: false } });
      expect(nl.setLinkUp(eth0, true).ok).toBe(true);
      expect(await waitFor(() => events.some((e) => e.type === "link" && e.link.name === "eth0" && e.link.up && e.link.lowerUp))).toBe(true);
      a.ip("addr", "add", "203.0.113.9/24", "dev", "eth0", "label", "eth0:x");
      a.ip("addr", "add", "2001:db8:9::9/64", "dev", "eth0", "nodad");
      a.ip("addr", "del", "203.0.113.9/24", "dev", "eth0");
      a.ip("addr", "del", "2001:db8:9::9/64", "dev", "eth0");
      const seen = (kind: string, addr: string) => events.some((e) => e.type === "address" && e.kind === kind && e.address.address === addr && e.ifname === "eth0");
      expect(await waitFor(() => seen("new", "203.0.113.9") && seen("del", "203.0.113.9") && seen("new", "2001:db8:9::9") && seen("del", "2001:db8:9::9"))).toBe(true);
      const add4 = events.find((e) => e.type === "address" && e.kind === "new" && e.address.address === "203.0.113.9");
      expect(add4).toMatchObject({ address: { family: 4, prefix: 24, label: "eth0:x" } });
      for (const e of events) {
        expect(e.ts).toBeGreaterThanOrEqual(t0 - 1000);
        expect(e.ts).toBeLessThanOrEqual(Date.now() + 1000);
      }
    } finally {
      s1.value.release();
      expect(s1.value.fd).toBeGreaterThanOrEqual(0); // still one user
      s2.value.release();
      expect(s2.value.fd).toBe(-1);
      expect(NetlinkEvents.usersOf(a.ns)).toBe(0);
    }
  });
});
