// Real iproute2 inside a private network namespace: add/remove idempotency, labels, nodad, ownership via
// the state file, stale cleanup, removal detection through `ip -o monitor address`, EPERM reporting.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync, chmodSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAddress } from "../../src/daemon/config.js";
import {
  VipManager,
  VipWatcher,
  classifyIpError,
  parseAddressMonitorLine,
  vhidFromLabel,
  vipLabel,
  type AddressEvent,
} from "../../src/host/vips.js";
import { createNs, waitFor, type TestNs } from "./netns-helper.js";

let ns: TestNs;
let dir: string;
const v4 = parseAddress("198.51.100.50/24", "t");
const v6 = parseAddress("2001:db8::50/64", "t");

beforeAll(() => {
  ns = createNs("cvip");
  dir = mkdtempSync(join(tmpdir(), "carp-vips-"));
});
afterAll(() => {
  ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const addrJson = () =>
  JSON.parse(ns.ip("-j", "addr", "show", "dev", "va"))[0].addr_info as Array<{
    family: string;
    local: string;
    prefixlen: number;
    label?: string;
    tentative?: boolean;
  }>;

describe("labels", () => {
  it("fits the 15-character limit or falls back", () => {
    expect(vipLabel("eth0", 1)).toBe("eth0:carp1");
    expect(vipLabel("enp0s31f6", 255)).toBe("enp0s31f6:c255");
    expect(vipLabel("enp0s31f6xyz", 255)).toBeUndefined();
    for (const l of [vipLabel("abcdefghij", 7), vipLabel("abcdefgh", 200)]) expect(l!.length).toBeLessThanOrEqual(15);
    expect(vhidFromLabel("eth0", "eth0:carp12")).toBe(12);
    expect(vhidFromLabel("eth0", "eth0:c3")).toBe(3);
    expect(vhidFromLabel("eth0", "eth0:web")).toBeUndefined();
    expect(vhidFromLabel("eth0", "eth1:carp1")).toBeUndefined();
  });
});

describe("VipManager in a namespace", () => {
  it("adds IPv4 with our label and IPv6 with nodad, idempotently", async () => {
    const m = new VipManager({ netns: ns.name, stateFile: join(dir, "s1.json") });
    const a1 = await m.add("va", 7, v4);
    expect(a1).toEqual({ ok: true, value: true });
    const a2 = await m.add("va", 7, v4);
    expect(a2).toEqual({ ok: true, value: false });
    expect(await m.add("va", 7, v6)).toEqual({ ok: true, value: true });
    expect(await m.add("va", 7, v6)).toEqual({ ok: true, value: false });
    const info = addrJson();
    const a4 = info.find((a) => a.local === "198.51.100.50");
    expect(a4?.label).toBe("va:carp7");
    expect(a4?.prefixlen).toBe(24);
    const a6 = info.find((a) => a.local === "2001:db8::50");
    expect(a6?.prefixlen).toBe(64);
    expect(a6?.tentative).toBeFalsy(); // nodad: usable at once
    expect((await m.present("va", v4)).ok && (await m.present("va", v4))).toEqual({ ok: true, value: true });

    const listed = await m.list("va");
    expect(listed.ok && listed.value.map((x) => `${x.vhid} ${x.address}/${x.prefix}`).sort()).toEqual([
      "7 198.51.100.50/24",
      "7 2001:db8::50/64",
    ]);
    // The state file records both (IPv6 has no label).
    const st = JSON.parse(readFileSync(join(dir, "s1.json"), "utf8"));
    expect(st.vips.length).toBe(2);

    expect(await m.remove("va", v4)).toEqual({ ok: true, value: true });
    expect(await m.remove("va", v4)).toEqual({ ok: true, value: false });
    expect(await m.remove("va", v6)).toEqual({ ok: true, value: true });
    expect(await m.remove("va", v6)).toEqual({ ok: true, value: false });
    expect(addrJson().some((a) => a.local === "198.51.100.50" || a.local === "2001:db8::50")).toBe(false);
    expect(await m.present("va", v4)).toEqual({ ok: true, value: false });
    expect(JSON.parse(readFileSync(join(dir, "s1.json"), "utf8")).vips).toEqual([]);
  });

  it("addAll/removeAll use one ip -batch with per-address results", async () => {
    const m = new VipManager({ netns: ns.name, stateFile: join(dir, "s7.json") });
    const a = parseAddress("198.51.100.70/24", "t");
    const b = parseAddress("198.51.100.71/24", "t");
    const c = parseAddress("2001:db8::70/64", "t");
    ns.ip("addr", "add", "198.51.100.71/24", "dev", "va"); // already there (not ours)
    const r = await m.addAll("va", 8, [a, b, c]);
    expect(r).toEqual([
      { ok: true, value: true },
      { ok: true, value: false },
      { ok: true, value: true },
    ]);
    const info = addrJson();
    expect(info.find((x) => x.local === "198.51.100.70")?.label).toBe("va:carp8");
    expect(info.find((x) => x.local === "2001:db8::70")?.tentative).toBeFalsy();
    expect((await m.addAll("va", 8, [a, c])).every((x) => x.ok && x.value === false)).toBe(true);
    const st = JSON.parse(readFileSync(join(dir, "s7.json"), "utf8")).vips.map((v: { address: string }) => v.address).sort();
    expect(st).toEqual(["198.51.100.70", "2001:db8::70"]); // the pre-existing address is not recorded as ours
    // (Deleting .71 first would take .70 with it: a primary's removal removes its secondaries.)
    expect(await m.removeAll("va", [a, parseAddress("198.51.100.72/24", "t"), c])).toEqual([
      { ok: true, value: true },
      { ok: true, value: false },
      { ok: true, value: true },
    ]);
    expect(JSON.parse(readFileSync(join(dir, "s7.json"), "utf8")).vips).toEqual([]);
    ns.ip("addr", "del", "198.51.100.71/24", "dev", "va");
    const bad = await m.addAll("nosuch0", 8, [a, c]);
    expect(bad.map((x) => !x.ok && x.code)).toEqual(["ENODEV", "ENODEV"]);
    const nons = await new VipManager({ netns: `${ns.name}zz`, stateFile: join(dir, "s8.json") }).addAll("va", 8, [a]);
    expect(nons[0].ok).toBe(false);
  });

  it("reports an unknown interface and a missing namespace as errors with a reason", async () => {
    const m = new VipManager({ netns: ns.name, stateFile: join(dir, "s2.json") });
    const r = await m.add("nosuch0", 1, v4);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe("ENODEV");
      expect(r.error).toMatch(/nosuch0/);
    }
    const bad = new VipManager({ netns: `${ns.name}zz`, stateFile: join(dir, "s3.json") });
    const r2 = await bad.add("va", 1, v4);
    expect(r2.ok).toBe(false);
  });

  it("says EPERM needs root or CAP_NET_ADMIN (real unprivileged ip)", async () => {
    const wrapper = join(dir, "ip-nobody");
    writeFileSync(wrapper, `#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups ip "$@"\n`);
    chmodSync(wrapper, 0o755);
    // Host namespace, loopback, documentation address: the kernel refuses before anything changes.
    const m = new VipManager({ ipPath: wrapper, stateFile: join(dir, "s4.json") });
    const r = await m.add("lo", 1, parseAddress("198.51.100.77/32", "t"));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe("EPERM");
      expect(r.error).toMatch(/needs root or CAP_NET_ADMIN/);
    }
    const all = await m.addAll("lo", 1, [parseAddress("198.51.100.77/32", "t"), parseAddress("2001:db8::77/128", "t")]);
    expect(all.map((x) => !x.ok && x.code)).toEqual(["EPERM", "EPERM"]);
  });

  it("removes stale VIPs of ours at startup and leaves foreign addresses alone", async () => {
    const stateFile = join(dir, "s5.json");
    const crashed = new VipManager({ netns: ns.name, stateFile });
    const a = parseAddress("198.51.100.60/32", "t");
    const b = parseAddress("2001:db8::60/128", "t");
    const keep = parseAddress("198.51.100.61/32", "t");
    expect((await crashed.add("va", 3, a)).ok).toBe(true);
    expect((await crashed.add("va", 3, b)).ok).toBe(true);
    expect((await crashed.add("va", 4, keep)).ok).toBe(true);
    ns.ip("addr", "add", "198.51.100.99/24", "dev", "va"); // admin's own address, no label
    ns.ip("addr", "add", "2001:db8::99/64", "dev", "va", "nodad");
    // A label that is ours but unknown to the state file (e.g. state file lost) is still recognised.
    ns.ip("addr", "add", "198.51.100.62/32", "dev", "va", "label", "va:carp9");

    const fresh = new VipManager({ netns: ns.name, stateFile });
    const r = await fresh.removeStale({ own: [{ ifname: "va", vhid: 3 }, { ifname: "va", vhid: 9 }], keep: (v) => v.address === "198.51.100.61" });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value.errors).toEqual([]);
      expect(r.value.removed.map((v) => v.address).sort()).toEqual(["198.51.100.60", "198.51.100.62", "2001:db8::60"]);
    }
    const left = addrJson().map((x) => x.local);
    expect(left).toContain("198.51.100.99");
    expect(left).toContain("2001:db8::99");
    expect(left).toContain("198.51.100.61");
    expect(left).not.toContain("198.51.100.60");
    expect(left).not.toContain("198.51.100.62");
    expect(left).not.toContain("2001:db8::60");
    ns.ip("addr", "del", "198.51.100.99/24", "dev", "va");
    ns.ip("addr", "del", "2001:db8::99/64", "dev", "va");
    await fresh.remove("va", keep);
  });
});

describe("VipManager.removeStale default scope", () => {
  it("touches only what this instance's state file lists: another instance's labelled VIPs stay", async () => {
    const other = new VipManager({ netns: ns.name, stateFile: join(dir, "other.json") });
    const mine = new VipManager({ netns: ns.name, stateFile: join(dir, "mine.json") });
    const theirs = parseAddress("198.51.100.70/32", "t");
    const ours = parseAddress("198.51.100.71/32", "t");
    expect((await other.add("va", 5, theirs)).ok).toBe(true); // labelled va:carp5, in other.json only
    expect((await mine.add("va", 6, ours)).ok).toBe(true);
    const r = await new VipManager({ netns: ns.name, stateFile: join(dir, "mine.json") }).removeStale();
    expect(r.ok && r.value.removed.map((v) => v.address)).toEqual(["198.51.100.71"]);
    const left = addrJson().map((x) => x.local);
    expect(left).toContain("198.51.100.70");
    expect(left).not.toContain("198.51.100.71");
    await other.remove("va", theirs);
  });

  it("defaults to a per-instance state file under CARP_RUN_DIR, not a shared vips.json", () => {
    expect(new VipManager().stateFile).toMatch(/\/carp\.sock\.vips\.json$/);
  });
});

describe("VipWatcher", () => {
  it("parses monitor lines", () => {
    expect(parseAddressMonitorLine("Deleted 3: va    inet 198.51.100.9/24 scope global va:carp1\\       valid_lft forever")).toEqual({
      kind: "removed", ifindex: 3, ifname: "va", address: "198.51.100.9", prefix: 24, family: 4,
    });
    expect(parseAddressMonitorLine("3: va    inet6 2001:db8::5/64 scope global nodad \\       valid_lft forever")).toMatchObject({
      kind: "added", address: "2001:db8::5", prefix: 64, family: 6,
    });
    expect(parseAddressMonitorLine("2: vb@va: <BROADCAST,MULTICAST> mtu 1500")).toBeNull();
  });

  it("detects a VIP removed behind our back, and it can be re-added", async () => {
    const m = new VipManager({ netns: ns.name, stateFile: join(dir, "s6.json") });
    const w = new VipWatcher({ netns: ns.name });
    const events: AddressEvent[] = [];
    w.on("removed", (e: AddressEvent) => events.push(e));
    w.on("added", (e: AddressEvent) => events.push(e));
    await w.start();
    try {
      expect((await m.add("va", 5, v4)).ok).toBe(true);
      expect((await m.add("va", 5, v6)).ok).toBe(true);
      expect(await waitFor(() => events.filter((e) => e.kind === "added" && e.ifname === "va").length >= 2)).toBe(true);
      ns.ip("addr", "del", "198.51.100.50/24", "dev", "va"); // someone else removes it
      ns.ip("addr", "del", "2001:db8::50/64", "dev", "va");
      expect(await waitFor(() => events.some((e) => e.kind === "removed" && e.address === "198.51.100.50" && e.prefix === 24))).toBe(true);
      expect(await waitFor(() => events.some((e) => e.kind === "removed" && e.address === "2001:db8::50"))).toBe(true);
      expect(await m.present("va", v4)).toEqual({ ok: true, value: false });
      expect(await m.add("va", 5, v4)).toEqual({ ok: true, value: true });
      expect(await m.present("va", v4)).toEqual({ ok: true, value: true });
      await m.remove("va", v4);
    } finally {
      w.stop();
    }
  });
});

describe("classifyIpError", () => {
  it("maps iproute2 messages", () => {
    expect(classifyIpError("RTNETLINK answers: Operation not permitted\n", "x").code).toBe("EPERM");
    expect(classifyIpError('Cannot find device "zz"\n', "x").code).toBe("ENODEV");
    expect(classifyIpError("Error: ipv4: Address already assigned.\n", "x").code).toBe("EEXIST");
    expect(classifyIpError("Error: ipv6: address not found.\n", "x").code).toBe("EADDRNOTAVAIL");
  });
});
