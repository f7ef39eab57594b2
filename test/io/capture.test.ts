// libpcap capture, injection and pcap files between two real namespaces (needs root, tcpdump).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { buildGratuitousArp, parseGratuitousArp } from "../../src/protocol/arp.js";
import { encodeCarp, CARP_GROUP_V4 } from "../../src/protocol/carp.js";
import { buildIpv4 } from "../../src/protocol/ip.js";
import { buildEthernet, CARP_MAC_V4, DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, ETHERTYPE_IPV4, parseFrame } from "../../src/protocol/link.js";
import { captureFilter } from "../../src/host/capture.js";
import { Agent, type WireFrame } from "./helpers/agent.js";
import { createTopology, type Topology } from "./helpers/netns.js";
import { transpileSrc } from "./helpers/transpile.js";

const advert = (vhid: number, counter: bigint): Buffer =>
  encodeCarp({ vhid, advskew: 0, advbase: 1, counter, hmac: Buffer.alloc(20, vhid) });

let topo: Topology;
let dist: { root: string; cleanup: () => void };
let tmp: string;
let A: Agent;
let B: Agent;

beforeAll(() => {
  dist = transpileSrc();
  topo = createTopology("ccp");
  tmp = mkdtempSync(join(tmpdir(), "carp-io-pcap-"));
  A = new Agent(topo.nsA, dist.root);
  B = new Agent(topo.nsB, dist.root);
});

afterAll(() => {
  A?.close();
  B?.close();
  topo?.destroy();
  dist?.cleanup();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const frames = (ag: Agent, h: number): WireFrame[] => ag.frames.get(h) ?? [];
const carpPayloads = (ag: Agent, h: number): string[] =>
  frames(ag, h).flatMap((f) => {
    const fr = parseFrame(f.linktype, Buffer.from(f.data, "hex"));
    return "error" in fr || fr.ip.proto !== 112 ? [] : [fr.ip.payload.toString("hex")];
  });

describe("live capture", () => {
  it("sees our adverts (Ethernet link type, time and lengths) but not a GARP, with the default filter", async () => {
    const cap = await B.ok<{ handle: number; linktype: number; filter: string }>("capture", { options: { interface: "eth0" } });
    expect(cap.linktype).toBe(DLT_EN10MB);
    expect(cap.filter).toBe("ip proto 112 or ip6 proto 112");
    const tx = await A.ok<{ handle: number }>("socket", { options: { interface: "eth0", family: 4 } });
    const inj = await A.ok<{ handle: number }>("capture", { options: { interface: "eth0" } });
    const garp = buildGratuitousArp({ vip: "198.51.100.50", mac: "00:00:5e:00:01:05" });
    expect(await A.ok("inject", { handle: inj.handle, frame: garp.toString("hex") })).toBe(garp.length);
    const ad = advert(5, 11n);
    const before = Date.now();
    await A.ok("send", { handle: tx.handle, payload: ad.toString("hex") });
    await B.until(() => carpPayloads(B, cap.handle).includes(ad.toString("hex")));
    await B.settle();
    const all = frames(B, cap.handle);
    expect(all.every((f) => parseGratuitousArp(f.linktype, Buffer.from(f.data, "hex")) === null)).toBe(true);
    const f = all.find((x) => x.data.endsWith(ad.toString("hex")))!;
    const parsed = parseFrame(f.linktype, Buffer.from(f.data, "hex"));
    if ("error" in parsed) throw new Error(parsed.detail);
    expect(parsed).toMatchObject({ srcMac: topo.A.link().address, dstMac: CARP_MAC_V4 });
    expect(parsed.ip).toMatchObject({ src: topo.a4, dst: CARP_GROUP_V4, ttl: 255, df: true });
    expect(f.origLen).toBe(f.data.length / 2);
    expect(f.time).toBeGreaterThan(before - 1000);
    expect(f.time).toBeLessThan(Date.now() + 1000);
    for (const [ag, h] of [[B, cap.handle], [A, tx.handle], [A, inj.handle]] as const) await ag.ok("close", { handle: h });
  });

  it("an injected GARP with a virtual source MAC arrives byte for byte (filter arp)", async () => {
    const cap = await B.ok<{ handle: number }>("capture", { options: { interface: "eth0", filter: "arp" } });
    const inj = await A.ok<{ handle: number }>("capture", { options: { interface: "eth0", filter: "arp" } });
    const garp = buildGratuitousArp({ vip: "198.51.100.51", mac: "00:00:5e:00:01:07" });
    await A.ok("inject", { handle: inj.handle, frame: garp.toString("hex") });
    const want = Buffer.concat([garp, Buffer.alloc(Math.max(0, 60 - garp.length))]).toString("hex");
    await B.until(() => frames(B, cap.handle).some((f) => f.data === garp.toString("hex") || f.data === want));
    const f = frames(B, cap.handle).find((x) => x.data.startsWith(garp.toString("hex")))!;
    expect(parseGratuitousArp(f.linktype, Buffer.from(f.data, "hex"))).toMatchObject({
      vip: "198.51.100.51",
      mac: "00:00:5e:00:01:07",
      srcMac: "00:00:5e:00:01:07",
    });
    await B.ok("close", { handle: cap.handle });
    await A.ok("close", { handle: inj.handle });
  });

  it("snaplen cuts frames and origLen keeps the wire length", async () => {
    const cap = await B.ok<{ handle: number }>("capture", { options: { interface: "eth0", snaplen: 40 } });
    const tx = await A.ok<{ handle: number }>("socket", { options: { interface: "eth0", family: 4 } });
    await A.ok("send", { handle: tx.handle, payload: advert(6, 1n).toString("hex") });
    await B.until(() => frames(B, cap.handle).length > 0);
    const f = frames(B, cap.handle)[0];
    expect(f.data.length / 2).toBe(40);
    expect(f.origLen).toBe(14 + 20 + 36);
    await B.ok("close", { handle: cap.handle });
    await A.ok("close", { handle: tx.handle });
  });

  it("VLAN: vlan 5 captures the VLAN 5 advert only, vlan 6 nothing", async () => {
    const tagged = await B.ok<{ handle: number; filter: string }>("capture", { options: { interface: "eth0", vlan: 5 } });
    expect(tagged.filter).toBe("vlan 5 and (ip proto 112 or ip6 proto 112)");
    const plain = await B.ok<{ handle: number }>("capture", { options: { interface: "eth0", vlan: 6 } });
    const inj = await A.ok<{ handle: number }>("capture", { options: { interface: "eth0" } });
    const mk = (vhid: number, vlan?: number[]): Buffer =>
      buildEthernet(CARP_MAC_V4, `00:00:5e:00:01:0${vhid}`, ETHERTYPE_IPV4, buildIpv4({ src: topo.a4, dst: CARP_GROUP_V4, proto: 112, payload: advert(vhid, 1n) }), vlan);
    const t = mk(8, [5]);
    const u = mk(9);
    await A.ok("inject", { handle: inj.handle, frame: t.toString("hex") });
    await A.ok("inject", { handle: inj.handle, frame: u.toString("hex") });
    await B.until(() => frames(B, tagged.handle).length > 0);
    await B.settle();
    expect(frames(B, tagged.handle).map((f) => f.data)).toEqual([t.toString("hex")]);
    expect(frames(B, plain.handle)).toEqual([]);
    for (const [ag, h] of [[B, tagged.handle], [B, plain.handle], [A, inj.handle]] as const) await ag.ok("close", { handle: h });
  });

  it("on the any device frames are Linux cooked and still parse", async () => {
    const cap = await B.ok<{ handle: number; linktype: number }>("capture", { options: { interface: "any" } });
    expect([DLT_LINUX_SLL, DLT_LINUX_SLL2]).toContain(cap.linktype);
    const tx = await A.ok<{ handle: number }>("socket", { options: { interface: "eth0", family: 6 } });
    const ad = advert(12, 4n).toString("hex");
    await A.ok("send", { handle: tx.handle, payload: ad });
    await B.until(() => carpPayloads(B, cap.handle).includes(ad));
    const r = await B.call("inject", { handle: cap.handle, frame: "00".repeat(60) });
    expect(r.ok).toBe(false); // libpcap cannot send on "any": an error, not a crash
    await B.ok("close", { handle: cap.handle });
    await A.ok("close", { handle: tx.handle });
  });

  it("a burst of 500 adverts is captured whole with the default ring", async () => {
    const cap = await B.ok<{ handle: number }>("capture", { options: { interface: "eth0" } });
    const inj = await A.ok<{ handle: number }>("capture", { options: { interface: "eth0" } });
    const body = advert(14, 5n);
    const frame = buildEthernet(CARP_MAC_V4, "00:00:5e:00:01:0e", ETHERTYPE_IPV4, buildIpv4({ src: topo.a4, dst: CARP_GROUP_V4, proto: 112, payload: body }));
    await A.ok("inject", { handle: inj.handle, frame: frame.toString("hex"), repeat: 500 });
    await B.until(() => frames(B, cap.handle).length >= 500, 5000);
    expect(await B.ok("stats", { handle: cap.handle })).toMatchObject({ received: 500, dropped: 0 });
    for (const [ag, h] of [[B, cap.handle], [A, inj.handle]] as const) await ag.ok("close", { handle: h });
  });

  it("the batch event: the same frames as the packets event, lent for the handler only", async () => {
    const viaPackets = await B.ok<{ handle: number }>("capture", { options: { interface: "eth0" } });
    const viaBatch = await B.ok<{ handle: number }>("capture", { options: { interface: "eth0" }, listen: "batch" });
    const inj = await A.ok<{ handle: number }>("capture", { options: { interface: "eth0" } });
    const body = advert(15, 6n);
    const frame = buildEthernet(CARP_MAC_V4, "00:00:5e:00:01:0f", ETHERTYPE_IPV4, buildIpv4({ src: topo.a4, dst: CARP_GROUP_V4, proto: 112, payload: body }));
    await A.ok("inject", { handle: inj.handle, frame: frame.toString("hex"), repeat: 300 });
    await B.until(() => frames(B, viaPackets.handle).length >= 300 && frames(B, viaBatch.handle).length >= 300, 5000);
    // Two captures: each may stamp a frame itself, so times agree only closely.
    const untimed = (h: number): unknown[] => frames(B, h).map((f) => ({ ...f, time: 0 }));
    expect(untimed(viaBatch.handle)).toEqual(untimed(viaPackets.handle));
    frames(B, viaBatch.handle).forEach((f, i) => expect(Math.abs(f.time - frames(B, viaPackets.handle)[i].time)).toBeLessThan(50));
    expect(frames(B, viaBatch.handle).every((f) => f.data === frame.toString("hex") && f.origLen === frame.length)).toBe(true);
    const kept = await B.ok<{ lent: boolean; viewLength: number; copied: string; hex: string }>("kept", { handle: viaBatch.handle });
    expect(kept).toEqual({ lent: true, viewLength: 0, copied: frame.toString("hex"), hex: frame.toString("hex") });
    for (const [ag, h] of [[B, viaPackets.handle], [B, viaBatch.handle], [A, inj.handle]] as const) await ag.ok("close", { handle: h });
  });

  it("writes a pcap file that tcpdump reads", async () => {
    const path = join(tmp, "adverts.pcap");
    const cap = await B.ok<{ handle: number }>("capture", { options: { interface: "eth0" } });
    await B.ok("dumpTo", { handle: cap.handle, path });
    const tx = await A.ok<{ handle: number }>("socket", { options: { interface: "eth0", family: 4 } });
    const ads = [1n, 2n, 3n].map((c) => advert(13, c).toString("hex"));
    for (const payload of ads) await A.ok("send", { handle: tx.handle, payload });
    await B.until(() => ads.every((a) => carpPayloads(B, cap.handle).includes(a)));
    await B.ok("stopDump", { handle: cap.handle });
    const out = execFileSync("tcpdump", ["-nn", "-r", path], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toContain(`${topo.a4} > ${CARP_GROUP_V4}`);
    await B.ok("close", { handle: cap.handle });
    await A.ok("close", { handle: tx.handle });
  });
});

describe("capture errors", () => {
  it("the interface disappearing mid-capture is an error event, and close still works", async () => {
    const cap = await B.ok<{ handle: number }>("capture", { options: { interface: "other1" } });
    topo.B.ip("link", "del", "other0"); // takes its peer other1 with it
    await B.until(() => (B.errors.get(cap.handle) ?? []).length > 0, 5000);
    expect(B.errors.get(cap.handle)![0].message).toContain("other1");
    await B.ok("close", { handle: cap.handle });
    await B.ok("close", { handle: cap.handle });
  });

  it("unknown interface → ENODEV naming it", async () => {
    const r = await B.call("capture", { options: { interface: "nope1" } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: "ENODEV", message: expect.stringContaining("no such interface: nope1") });
  });

  it("bad filter → ERR_BAD_FILTER with libpcap's reason", async () => {
    const r = await B.call("capture", { options: { interface: "eth0", filter: "ip proto and and" } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: "ERR_BAD_FILTER", message: expect.stringContaining("ip proto and and") });
  });

  it("closed capture: close twice is fine, inject/dumpTo throw ERR_CAPTURE_CLOSED", async () => {
    const c = await A.ok<{ handle: number }>("capture", { options: { interface: "eth0" } });
    await A.ok("close", { handle: c.handle });
    await A.ok("close", { handle: c.handle });
    for (const [op, args] of [["inject", { frame: "00".repeat(60) }], ["dumpTo", { path: join(tmp, "x.pcap") }]] as const) {
      const r = await A.call(op, { handle: c.handle, ...args });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe("ERR_CAPTURE_CLOSED");
    }
  });

  it("oversized frame → EMSGSIZE error, capture still usable; unwritable dump path → error", async () => {
    const c = await A.ok<{ handle: number }>("capture", { options: { interface: "eth0" } });
    const r = await A.call("inject", { handle: c.handle, frame: "00".repeat(9000) });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: "EMSGSIZE", message: expect.stringContaining("9000 bytes") });
    const d = await A.call("dumpTo", { handle: c.handle, path: "/nonexistent-dir/x.pcap" });
    expect(d.ok).toBe(false);
    const garp = buildGratuitousArp({ vip: "198.51.100.52", mac: "00:00:5e:00:01:09" });
    expect(await A.ok("inject", { handle: c.handle, frame: garp.toString("hex") })).toBe(garp.length);
    await A.ok("close", { handle: c.handle });
  });
});

describe("captureFilter", () => {
  it("composes vlan options", () => {
    expect(captureFilter("arp")).toBe("arp");
    expect(captureFilter("arp", 7)).toBe("vlan 7 and (arp)");
    expect(captureFilter("arp", true)).toBe("(arp) or (vlan and (arp))");
    expect(captureFilter("", 3)).toBe("vlan 3");
    expect(() => captureFilter("arp", 5000)).toThrow(RangeError);
  });
});
