// VipManager over rtnetlink inside a private network namespace: add/remove idempotency, labels, nodad,
// ownership via the state file, stale cleanup, removal detection through the netlink subscription,
// EPERM reporting, and one vhid's VIP removal never taking another vhid's VIP with it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAddress } from "../../src/daemon/config.js";
import {
  VipManager,
  VipWatcher,
  vhidFromLabel,
  vipLabel,
  type AddressEvent,
} from "../../src/host/vips.js";
import { Netlink, NetlinkEvents, type NetlinkEvent } from "../../src/host/netlink.js";
import { createNs, waitFor, type TestNs } from "./netns-helper.js";
import { nobodyRoot } from "../helpers/nobody.js";

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

  it("addAll/removeAll give per-address results", async () => {
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

  it("says EPERM needs root or CAP_NET_ADMIN (a process without the capability)", () => {
    // The compiled VipManager in a child that dropped root (setpriv) inside the namespace: the kernel
    // refuses before anything changes.
    const dist = join(nobodyRoot(), "dist/host/vips.js");
    const code =
      `import(${JSON.stringify(dist)}).then(async ({ VipManager }) => { const m = new VipManager({ stateFile: "/nonexistent/x.json" }); ` +
      `const one = await m.add("va", 1, { family: 4, address: "198.51.100.77", prefix: 32 }); ` +
      `const all = await m.addAll("va", 1, [{ family: 4, address: "198.51.100.77", prefix: 32 }, { family: 6, address: "2001:db8::77", prefix: 128 }]); ` +
      `console.log(JSON.stringify({ one, all })); })`;
    const out = execFileSync("ip", ["netns", "exec", ns.name, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", code], { encoding: "utf8" });
    const { one, all } = JSON.parse(out.trim());
    expect(one).toMatchObject({ ok: false, code: "EPERM" });
    expect(one.error).toMatch(/needs root or CAP_NET_ADMIN/);
    expect(all.map((x: { ok: boolean; code?: string }) => !x.ok && x.code)).toEqual(["EPERM", "EPERM"]);
    expect(addrJson().some((a) => a.local === "198.51.100.77")).toBe(false);
  });

  it("addNow: the address exists when it returns; the state file records it one turn later", async () => {
    const stateFile = join(dir, "now.json");
    const m = new VipManager({ netns: ns.name, stateFile });
    const a = parseAddress("2001:db8::88/128", "t");
    const { results, recorded } = m.addNow("va", 5, [a]);
    expect(results).toEqual([{ ok: true, value: true }]);
    expect(addrJson().some((x) => x.local === "2001:db8::88")).toBe(true);
    expect(() => readFileSync(stateFile, "utf8")).toThrow(); // not yet: after the caller's turn
    expect(await recorded).toBeNull();
    expect(JSON.parse(readFileSync(stateFile, "utf8")).vips).toEqual([{ ifname: "va", vhid: 5, address: "2001:db8::88", prefix: 128, family: 6 }]);
    await m.remove("va", a);
    expect(JSON.parse(readFileSync(stateFile, "utf8")).vips).toEqual([]);
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

describe("VipWatcher after the kernel dropped events (ENOBUFS)", () => {
  it("lists again and reports what changed meanwhile, then keeps delivering", async () => {
    ns.ip("addr", "add", "203.0.113.1/32", "dev", "vb");
    // A tiny socket buffer, and the event loop blocked while 200 addresses come and one goes: overflow.
    const w = new VipWatcher({ netns: ns.name, rcvbuf: 1 });
    const events: AddressEvent[] = [];
    w.on("added", (e: AddressEvent) => events.push(e));
    w.on("removed", (e: AddressEvent) => events.push(e));
    expect(await w.start()).toBeNull();
    const sub = NetlinkEvents.acquire(ns.name);
    if (!sub.ok) throw new Error(sub.error);
    let overruns = 0;
    const onEv = (e: NetlinkEvent) => void (e.type === "overrun" && overruns++);
    sub.value.on("event", onEv);
    const batch = join(dir, "batch");
    const cmds = Array.from({ length: 200 }, (_, i) => `addr add 203.0.113.${i + 10}/32 dev vb`);
    cmds.push("addr del 203.0.113.1/32 dev vb");
    writeFileSync(batch, cmds.join("\n") + "\n");
    try {
      execFileSync("ip", ["-n", ns.name, "-batch", batch]);
      expect(await waitFor(() => overruns > 0)).toBe(true);
      const added = () => new Set(events.filter((e) => e.kind === "added" && e.ifname === "vb").map((e) => e.address));
      expect(await waitFor(() => added().size >= 200)).toBe(true);
      expect(events.some((e) => e.kind === "removed" && e.address === "203.0.113.1")).toBe(true);
      // Still subscribed: a later change arrives as a plain event.
      ns.ip("addr", "del", "203.0.113.10/32", "dev", "vb");
      expect(await waitFor(() => events.some((e) => e.kind === "removed" && e.address === "203.0.113.10"))).toBe(true);
    } finally {
      sub.value.off("event", onEv);
      sub.value.release();
      w.stop();
      writeFileSync(batch, cmds.slice(1, 200).map((c) => c.replace(" add ", " del ")).join("\n") + "\n");
      execFileSync("ip", ["-n", ns.name, "-batch", batch]);
    }
  });
});

describe("one vhid's VIP removal never touches another vhid's VIP", () => {
  // The interface has no address of its own in 198.51.100.0/24: the first VIP added there becomes the
  // primary and the second a secondary. With promote_secondaries = 0, deleting the primary flushes the
  // secondary (the kernel's rule); VipManager turns promote_secondaries on before adding IPv4 VIPs.
  const p10 = parseAddress("198.51.100.10/24", "t");
  const p20 = parseAddress("198.51.100.20/24", "t");
  const sysctl = (v?: 0 | 1) =>
    execFileSync("ip", ["netns", "exec", ns.name, "sysctl", "-n", ...(v === undefined ? [] : ["-w"]), `net.ipv4.conf.vb.promote_secondaries${v === undefined ? "" : `=${v}`}`], { encoding: "utf8" }).trim();

  /** Address deletions seen on netlink while `fn` runs. */
  async function deletions(fn: () => Promise<void> | void): Promise<string[]> {
    const sub = NetlinkEvents.acquire(ns.name);
    if (!sub.ok) throw new Error(sub.error);
    const seen: string[] = [];
    const on = (e: NetlinkEvent) => {
      if (e.type === "address" && e.kind === "del" && e.ifname === "vb") seen.push(e.address.address);
    };
    sub.value.on("event", on);
    try {
      await fn();
      await new Promise((r) => setTimeout(r, 300)); // events of the change are in by now
    } finally {
      sub.value.off("event", on);
      sub.value.release();
    }
    return seen;
  }

  it("the kernel rule itself: deleting the primary flushes the secondary when promote_secondaries = 0", async () => {
    sysctl(0);
    const nl = Netlink.for(ns.name);
    const vb = nl.link("vb");
    if (!vb.ok) throw new Error(vb.error);
    expect(nl.addAddress(vb.value.ifindex, { ...p10 }).ok).toBe(true);
    expect(nl.addAddress(vb.value.ifindex, { ...p20 }).ok).toBe(true);
    const gone = await deletions(() => void nl.deleteAddress(vb.value.ifindex, p10));
    expect(gone.sort()).toEqual(["198.51.100.10", "198.51.100.20"]);
  });

  it("VipManager: giving up vhid 1's VIP leaves vhid 2's VIP in place, not even briefly absent", async () => {
    sysctl(0);
    const m = new VipManager({ netns: ns.name, stateFile: join(dir, "promote.json") });
    expect(await m.add("vb", 1, p10)).toEqual({ ok: true, value: true });
    expect(await m.add("vb", 2, p20)).toEqual({ ok: true, value: true });
    const gone = await deletions(async () => {
      expect(await m.remove("vb", p10)).toEqual({ ok: true, value: true });
    });
    expect(gone).toEqual(["198.51.100.10"]); // 198.51.100.20 never had an RTM_DELADDR
    expect(sysctl()).toBe("1"); // how: promote_secondaries was turned on for vb
    const left = JSON.parse(ns.ip("-j", "addr", "show", "dev", "vb"))[0].addr_info.map((a: { local: string; label?: string }) => `${a.local} ${a.label}`);
    expect(left).toContain("198.51.100.20 vb:carp2");
    expect(await m.present("vb", p20)).toEqual({ ok: true, value: true });
    expect(await m.remove("vb", p20)).toEqual({ ok: true, value: true });
  });
});
