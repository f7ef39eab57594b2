// CarpSocket receive mode "ring" (AF_PACKET TPACKET_V2 ring) between two real namespaces: the same
// packets and metadata as the recvmmsg mode, 802.1Q-tagged frames, IPv6 extension headers, what the
// IP layer would refuse, bursts, and batches lent only for the handler (needs root). (This kernel
// has no VLAN interfaces, so tags are tested as the core stack handles them without one.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { encodeCarp, CARP_GROUP_V4, CARP_GROUP_V6 } from "../../src/protocol/carp.js";
import { buildIpv4, buildIpv6 } from "../../src/protocol/ip.js";
import { buildEthernet, CARP_MAC_V4, CARP_MAC_V6, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from "../../src/protocol/link.js";
import { Agent, type WirePacket } from "./helpers/agent.js";
import { createTopology, type Topology } from "./helpers/netns.js";
import { transpileSrc } from "./helpers/transpile.js";

const advert = (vhid: number, counter: bigint): Buffer =>
  encodeCarp({ vhid, advskew: 0, advbase: 1, counter, hmac: Buffer.alloc(20, vhid) });

let topo: Topology;
let dist: { root: string; cleanup: () => void };
let A: Agent;
let B: Agent;

beforeAll(() => {
  dist = transpileSrc();
  topo = createTopology("crg");
  A = new Agent(topo.nsA, dist.root);
  B = new Agent(topo.nsB, dist.root);
});

afterAll(() => {
  A?.close();
  B?.close();
  topo?.destroy();
  dist?.cleanup();
});

const byHex = (list: WirePacket[] | undefined, hex: string): WirePacket[] => (list ?? []).filter((p) => p.data === hex);
const ring = (iface: string, family: 4 | 6, listen = "batch"): Record<string, unknown> => ({
  options: { interface: iface, family, receiveMode: "ring" },
  listen,
});

describe.each([4, 6] as const)("IPv%i ring mode", (family) => {
  const group = family === 4 ? CARP_GROUP_V4 : CARP_GROUP_V6;

  it("delivers what the socket mode delivers, field for field, through both events", async () => {
    const tx = await A.ok<{ handle: number }>("socket", { options: { interface: "eth0", family } });
    const viaSocket = await B.ok<{ handle: number }>("socket", { options: { interface: "eth0", family } });
    const viaRing = await B.ok<{ handle: number; ifindex: number; receiveMode: string }>("socket", ring("eth0", family, "packets"));
    const viaBatch = await B.ok<{ handle: number }>("socket", ring("eth0", family));
    const other = await B.ok<{ handle: number }>("socket", ring("other0", family));
    expect(viaRing.receiveMode).toBe("ring");
    const payload = advert(family === 4 ? 21 : 22, 1n).toString("hex");
    expect(await A.ok("send", { handle: tx.handle, payload })).toEqual({ ok: true });
    for (const h of [viaSocket, viaRing, viaBatch]) await B.until(() => byHex(B.packets.get(h.handle), payload).length > 0);
    const [s] = byHex(B.packets.get(viaSocket.handle), payload);
    const [r] = byHex(B.packets.get(viaRing.handle), payload);
    const [b] = byHex(B.packets.get(viaBatch.handle), payload);
    expect(r).toMatchObject({ ttl: 255, ifindex: topo.B.link().ifindex, dst: group, family, truncated: false });
    // The kernel stamps the packet once; both receive paths report that stamp (to the µs).
    expect(Math.abs(r.time - s.time)).toBeLessThan(0.002);
    expect({ ...r, time: 0 }).toEqual({ ...s, time: 0 });
    expect(b).toEqual(r);
    await B.settle();
    expect(byHex(B.packets.get(other.handle), payload)).toEqual([]);
    expect(byHex(A.packets.get(tx.handle), payload)).toEqual([]);
    const st = await B.ok<Record<string, number>>("stats", { handle: viaRing.handle });
    expect(st).toMatchObject({ received: 1, dropped: 0, badLen: 0 });
    for (const [ag, h] of [[A, tx], [B, viaSocket], [B, viaRing], [B, viaBatch], [B, other]] as const) await ag.ok("close", { handle: h.handle });
  });

  it("reports the TTL / hop limit a packet really carried (64 vs 255), and unicast destinations", async () => {
    const cap = await A.ok<{ handle: number }>("capture", { options: { interface: "eth0" } });
    const rx = await B.ok<{ handle: number }>("socket", ring("eth0", family));
    const srcMac = "00:00:5e:00:01:17";
    const unicastMac = topo.B.link().address;
    const cases = [
      { ttl: 64, dst: group, mac: family === 4 ? CARP_MAC_V4 : CARP_MAC_V6, body: advert(23, 64n) },
      { ttl: 255, dst: group, mac: family === 4 ? CARP_MAC_V4 : CARP_MAC_V6, body: advert(23, 255n) },
      { ttl: 1, dst: family === 4 ? topo.b4 : topo.b6, mac: unicastMac, body: advert(23, 1n) },
    ];
    for (const c of cases) {
      const frame =
        family === 4
          ? buildEthernet(c.mac, srcMac, ETHERTYPE_IPV4, buildIpv4({ src: topo.a4, dst: c.dst, proto: 112, ttl: c.ttl, payload: c.body }))
          : buildEthernet(c.mac, srcMac, ETHERTYPE_IPV6, buildIpv6({ src: topo.a6, dst: c.dst, nextHeader: 112, hopLimit: c.ttl, payload: c.body }));
      await A.ok("inject", { handle: cap.handle, frame: frame.toString("hex") });
    }
    for (const c of cases) {
      const hex = c.body.toString("hex");
      await B.until(() => byHex(B.packets.get(rx.handle), hex).length > 0);
      const [p] = byHex(B.packets.get(rx.handle), hex);
      expect(p).toMatchObject({ ttl: c.ttl, dst: c.dst, src: family === 4 ? topo.a4 : topo.a6, ifindex: topo.B.link().ifindex });
    }
    await A.ok("close", { handle: cap.handle });
    await B.ok("close", { handle: rx.handle });
  });

  it("802.1Q: a priority-tagged frame (VID 0) is delivered stripped, as in socket mode; VID 10 with no VLAN interface is not", async () => {
    const cap = await A.ok<{ handle: number }>("capture", { options: { interface: "eth0" } });
    const rx = await B.ok<{ handle: number }>("socket", ring("eth0", family));
    const ref = await B.ok<{ handle: number }>("socket", { options: { interface: "eth0", family } });
    const tagged = (vid: number, body: Buffer): Buffer => {
      const ipPkt =
        family === 4
          ? buildIpv4({ src: topo.a4, dst: group, proto: 112, payload: body })
          : buildIpv6({ src: topo.a6, dst: group, nextHeader: 112, payload: body });
      const tag = Buffer.alloc(4);
      tag.writeUInt16BE((6 << 13) | vid, 0); // PCP 6
      tag.writeUInt16BE(family === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6, 2);
      return buildEthernet(family === 4 ? CARP_MAC_V4 : CARP_MAC_V6, "00:00:5e:00:01:18", 0x8100, Buffer.concat([tag, ipPkt]));
    };
    const prio = advert(24, 0n);
    const vid10 = advert(24, 10n);
    for (const f of [tagged(10, vid10), tagged(0, prio)]) await A.ok("inject", { handle: cap.handle, frame: f.toString("hex") });
    await B.until(() => byHex(B.packets.get(rx.handle), prio.toString("hex")).length > 0);
    await B.until(() => byHex(B.packets.get(ref.handle), prio.toString("hex")).length > 0);
    const [p] = byHex(B.packets.get(rx.handle), prio.toString("hex"));
    const [s] = byHex(B.packets.get(ref.handle), prio.toString("hex"));
    expect(p).toMatchObject({ ifindex: topo.B.link().ifindex, ttl: 255, dst: group, family });
    expect({ ...p, time: 0 }).toEqual({ ...s, time: 0 });
    await B.settle();
    expect(byHex(B.packets.get(rx.handle), vid10.toString("hex"))).toEqual([]);
    expect(byHex(B.packets.get(ref.handle), vid10.toString("hex"))).toEqual([]);
    const st = await B.ok<Record<string, number>>("stats", { handle: rx.handle });
    expect(st.filtered).toBeGreaterThanOrEqual(1); // seen as "other host" once its VLAN has no interface
    for (const h of [rx, ref]) await B.ok("close", { handle: h.handle });
    await A.ok("close", { handle: cap.handle });
  });

  it("a 500-advert burst arrives complete and in order", async () => {
    const tx = await A.ok<{ handle: number }>("socket", { options: { interface: "eth0", family } });
    const rx = await B.ok<{ handle: number }>("socket", ring("eth0", family));
    const payloads = Array.from({ length: 500 }, (_, i) => advert(25, BigInt(1000 + i)).toString("hex"));
    expect(await A.ok("sendMany", { handle: tx.handle, payloads })).toBe(500);
    const mine = (): WirePacket[] => (B.packets.get(rx.handle) ?? []).filter((p) => payloads.includes(p.data));
    await B.until(() => mine().length >= 500, 5000);
    expect(mine().map((p) => p.data)).toEqual(payloads);
    const st = await B.ok<Record<string, number>>("stats", { handle: rx.handle });
    expect(st.dropped).toBe(0);
    expect(st.received).toBe(500);
    expect(st.floods).toBeGreaterThanOrEqual(1); // the burst switched to timer draining
    // ...and back: a lone advert afterwards still arrives, and does not count as a flood.
    await B.settle(50);
    const lone = advert(25, 9999n).toString("hex");
    await A.ok("send", { handle: tx.handle, payload: lone });
    await B.until(() => byHex(B.packets.get(rx.handle), lone).length > 0);
    expect((await B.ok<Record<string, number>>("stats", { handle: rx.handle })).floods).toBe(st.floods);
    await A.ok("close", { handle: tx.handle });
    await B.ok("close", { handle: rx.handle });
  });

  it("a batch is lent: a view kept past the handler reads as empty, copy() keeps the bytes", async () => {
    const tx = await A.ok<{ handle: number }>("socket", { options: { interface: "eth0", family } });
    const rx = await B.ok<{ handle: number }>("socket", ring("eth0", family));
    const sock = await B.ok<{ handle: number }>("socket", { options: { interface: "eth0", family }, listen: "batch" });
    const payload = advert(26, 1n).toString("hex");
    await A.ok("send", { handle: tx.handle, payload });
    await B.until(() => byHex(B.packets.get(rx.handle), payload).length > 0 && byHex(B.packets.get(sock.handle), payload).length > 0);
    expect(await B.ok("kept", { handle: rx.handle })).toEqual({ lent: true, viewLength: 0, copied: payload, hex: payload });
    // The socket mode's batches are the batch's own copies.
    expect(await B.ok("kept", { handle: sock.handle })).toEqual({ lent: false, viewLength: payload.length / 2, copied: payload, hex: payload });
    for (const [ag, h] of [[A, tx], [B, rx], [B, sock]] as const) await ag.ok("close", { handle: h.handle });
  });
});

describe("ring mode: what the IP layer would not deliver", () => {
  it("IPv4 with a bad header checksum or fragmented is skipped (as by a raw socket) and counted", async () => {
    // Over B's own veth pair other1 → other0: the bridge (br_netfilter) would drop a bad checksum.
    const cap = await B.ok<{ handle: number }>("capture", { options: { interface: "other1" } });
    const rx = await B.ok<{ handle: number }>("socket", ring("other0", 4));
    const ref = await B.ok<{ handle: number }>("socket", { options: { interface: "other0", family: 4 } });
    const bad = advert(27, 1n);
    const good = advert(27, 2n);
    const ip = (payload: Buffer, extra: Partial<Parameters<typeof buildIpv4>[0]>): Buffer =>
      buildIpv4({ src: "203.0.113.1", dst: CARP_GROUP_V4, proto: 112, payload, ...extra });
    const frag = ip(bad, { df: false });
    frag.writeUInt16BE(0x2000, 6); // more fragments
    frag.writeUInt16BE(0, 10);
    frag.writeUInt16BE(ipSum(frag.subarray(0, 20)), 10);
    for (const pkt of [ip(bad, { checksum: 0x1234 }), frag, ip(good, {})]) {
      await B.ok("inject", { handle: cap.handle, frame: buildEthernet(CARP_MAC_V4, "00:00:5e:00:01:1b", ETHERTYPE_IPV4, pkt).toString("hex") });
    }
    await B.until(() => byHex(B.packets.get(rx.handle), good.toString("hex")).length > 0);
    await B.until(() => byHex(B.packets.get(ref.handle), good.toString("hex")).length > 0);
    await B.settle();
    expect(byHex(B.packets.get(rx.handle), bad.toString("hex"))).toEqual([]);
    expect(byHex(B.packets.get(ref.handle), bad.toString("hex"))).toEqual([]);
    const st = await B.ok<Record<string, number>>("stats", { handle: rx.handle });
    expect(st.filtered).toBe(2);
    for (const h of [rx, ref, cap]) await B.ok("close", { handle: h.handle });
  });

  it("IPv6 with a hop-by-hop header before CARP: the payload after it, as the socket mode", async () => {
    const cap = await A.ok<{ handle: number }>("capture", { options: { interface: "eth0" } });
    const rx = await B.ok<{ handle: number }>("socket", ring("eth0", 6));
    const ref = await B.ok<{ handle: number }>("socket", { options: { interface: "eth0", family: 6 } });
    const body = advert(28, 1n);
    const hbh = Buffer.from([112, 0, 1, 4, 0, 0, 0, 0]); // next header CARP, 8 bytes, PadN
    const pkt = buildIpv6({ src: topo.a6, dst: CARP_GROUP_V6, nextHeader: 0, hopLimit: 255, payload: Buffer.concat([hbh, body]) });
    await A.ok("inject", { handle: cap.handle, frame: buildEthernet(CARP_MAC_V6, "00:00:5e:00:01:1c", ETHERTYPE_IPV6, pkt).toString("hex") });
    const hex = body.toString("hex");
    await B.until(() => byHex(B.packets.get(rx.handle), hex).length > 0);
    await B.until(() => byHex(B.packets.get(ref.handle), hex).length > 0);
    const [p] = byHex(B.packets.get(rx.handle), hex);
    const [s] = byHex(B.packets.get(ref.handle), hex);
    expect({ ...p, time: 0 }).toEqual({ ...s, time: 0 });
    for (const h of [rx, ref]) await B.ok("close", { handle: h.handle });
    await A.ok("close", { handle: cap.handle });
  });

  it("the raw socket still joins the group (IGMP / MLD membership on that interface) while the ring receives", async () => {
    const joined = (): { v4: boolean; v6: boolean } => {
      const igmp = topo.B.exec("cat", ["/proc/net/igmp"]);
      const igmp6 = topo.B.exec("cat", ["/proc/net/igmp6"]);
      // /proc/net/igmp: a device line, then its groups (224.0.0.18 shows as 120000E0 on x86).
      const other0 = igmp.split(/\n(?=\d)/).find((blk) => /\sother0\s/.test(blk.split("\n")[0])) ?? "";
      return {
        v4: /\b120000E0\b/i.test(other0) || /\bE0000012\b/i.test(other0),
        v6: igmp6.split("\n").some((l) => /\sother0\s+ff020000000000000000000000000012\s/.test(l)),
      };
    };
    expect(joined()).toEqual({ v4: false, v6: false });
    const r4 = await B.ok<{ handle: number }>("socket", ring("other0", 4));
    const r6 = await B.ok<{ handle: number }>("socket", ring("other0", 6));
    expect(joined()).toEqual({ v4: true, v6: true });
    for (const h of [r4, r6]) await B.ok("close", { handle: h.handle });
    expect(joined()).toEqual({ v4: false, v6: false });
  });

  it("bad ring options are refused", async () => {
    for (const options of [
      { interface: "eth0", family: 4, receiveMode: "mmap" },
      { interface: "eth0", family: 4, receiveMode: "ring", ringSize: -1 },
      { interface: "eth0", family: 4, receiveMode: "ring", ringSize: 2 ** 31 },
      { interface: "nope0", family: 4, receiveMode: "ring" },
    ]) {
      const r = await A.call("socket", { options });
      expect(r.ok, JSON.stringify(options)).toBe(false);
    }
  });
});

function ipSum(h: Buffer): number {
  let s = 0;
  for (let i = 0; i < h.length; i += 2) s += h.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}
