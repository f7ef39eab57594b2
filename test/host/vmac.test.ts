// VirtualMacLink and the rtnetlink calls under it (macvlan create/adopt/delete, link kind, neighbour
// lookup), against a real namespace.
import { afterAll, describe, expect, test } from "vitest";
import { Netlink } from "../../src/host/netlink.js";
import { VirtualMacLink, vmacName } from "../../src/host/vmac.js";
import { createLab, type Lab } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const labs: Lab[] = [];
afterAll(async () => {
  await Promise.all(labs.map((l) => l.destroy()));
});

describe("VirtualMacLink", () => {
  requires("netns");
  test("creates a bridge-mode macvlan with 00:00:5e:00:01:vhid, adopts it the second time, refuses a foreign interface of that name, removes it", () => {
    const l = createLab({ hosts: 1, prefix: "hv" });
    labs.push(l);
    const [h] = l.hosts;
    const c = VirtualMacLink.ensure("eth0", "carp7", 7, h.ns);
    if (!c.ok) throw new Error(c.error);
    expect(c.value).toMatchObject({ name: "carp7", parent: "eth0", mac: "00:00:5e:00:01:07", adopted: false });
    const j = JSON.parse(h.exec("ip", ["-j", "-d", "link", "show", "carp7"]))[0];
    expect(j.address).toBe("00:00:5e:00:01:07");
    expect(j.linkinfo.info_kind).toBe("macvlan");
    expect(j.linkinfo.info_data.mode).toBe("bridge");
    expect(j.flags).not.toContain("UP");
    const kind = Netlink.for(h.ns).linkKind(c.value.ifindex);
    expect(kind.ok && kind.value).toMatchObject({ kind: "macvlan", macvlanMode: "bridge" });

    expect(c.value.setUp(true).ok).toBe(true);
    const again = VirtualMacLink.ensure("eth0", "carp7", 7, h.ns);
    if (!again.ok) throw new Error(again.error);
    expect(again.value).toMatchObject({ adopted: true, ifindex: c.value.ifindex });
    expect(JSON.parse(h.exec("ip", ["-j", "link", "show", "carp7"]))[0].flags).not.toContain("UP"); // adopted down

    // Same name, other vhid's MAC: not ours.
    const other = VirtualMacLink.ensure("eth0", "carp7", 8, h.ns);
    expect(other.ok).toBe(false);
    if (!other.ok) expect(other.error).toMatch(/vmac carp7: an interface of that name exists \(a macvlan of ifindex \d+ with MAC 00:00:5e:00:01:07\), not a macvlan of eth0 with 00:00:5e:00:01:08/);
    h.exec("ip", ["link", "add", "carp9", "type", "veth", "peer", "name", "carp9p"]);
    const veth = VirtualMacLink.ensure("eth0", "carp9", 9, h.ns);
    expect(!veth.ok && veth.code).toBe("EEXIST");

    expect(again.value.remove().ok).toBe(true);
    expect(h.tryExec("ip", ["link", "show", "carp7"]).code).not.toBe(0);
    expect(again.value.remove().ok).toBe(true); // already gone is fine
    const noParent = VirtualMacLink.ensure("eth9", "carp7", 7, h.ns);
    expect(!noParent.ok && noParent.error).toBe("vmac carp7: parent eth9: interface not found");
    expect(vmacName({ vhid: 3 })).toBe("carp3");
    expect(vmacName({ vhid: 3, carpName: "carp0" })).toBe("carp0");
  });

  test("neighbour lookup: the MAC of a usable entry, null when there is none", () => {
    const l = createLab({ hosts: 1, prefix: "hn" });
    labs.push(l);
    const [h] = l.hosts;
    const nl = Netlink.for(h.ns);
    const eth0 = nl.link("eth0");
    if (!eth0.ok) throw new Error(eth0.error);
    h.exec("ip", ["neigh", "add", "198.51.100.77", "lladdr", "02:00:00:00:00:77", "dev", "eth0", "nud", "permanent"]);
    h.exec("ip", ["-6", "neigh", "add", "2001:db8:100::77", "lladdr", "02:00:00:00:00:78", "dev", "eth0", "nud", "permanent"]);
    expect(nl.neighbour(eth0.value.ifindex, 4, "198.51.100.77")).toEqual({ ok: true, value: "02:00:00:00:00:77" });
    expect(nl.neighbour(eth0.value.ifindex, 6, "2001:db8:100::77")).toEqual({ ok: true, value: "02:00:00:00:00:78" });
    expect(nl.neighbour(eth0.value.ifindex, 4, "198.51.100.78")).toEqual({ ok: true, value: null });
    expect(nl.neighbour(eth0.value.ifindex, 4, "not-an-ip").ok).toBe(false);
  });
});
