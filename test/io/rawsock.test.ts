// Raw protocol-112 sockets between two real namespaces on a bridge (needs root).
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
  topo = createTopology("crs");
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

describe.each([4, 6] as const)("IPv%i raw socket", (family) => {
  const group = family === 4 ? CARP_GROUP_V4 : CARP_GROUP_V6;

  it("an advert sent from A arrives at B with TTL 255, B's ifindex and the group as destination", async () => {
    const tx = await A.ok<{ handle: number }>("socket", { options: { interface: "eth0", family } });
    const rx = await B.ok<{ handle: number; ifindex: number }>("socket", { options: { interface: "eth0", family } });
    const other = await B.ok<{ handle: number }>("socket", { options: { interface: "other0", family } });
    expect(rx.ifindex).toBe(topo.B.link().ifindex);
    const payload = advert(family === 4 ? 7 : 8, 1n).toString("hex");
    const before = Date.now();
    expect(await A.ok("send", { handle: tx.handle, payload })).toEqual({ ok: true });
    await B.until(() => byHex(B.packets.get(rx.handle), payload).length > 0);
    const [p] = byHex(B.packets.get(rx.handle), payload);
    expect(p.ttl).toBe(255);
    expect(p.ifindex).toBe(topo.B.link().ifindex);
    expect(p.dst).toBe(group);
    if (family === 4) expect(p.src).toBe(topo.a4);
    else expect(p.src).toMatch(/^fe80::/); // the kernel picks A's link-local for ff02::12
    expect(p.family).toBe(family);
    expect(p.time).toBeGreaterThan(before - 1000);
    expect(p.time).toBeLessThan(Date.now() + 1000);
    await B.settle();
    expect(byHex(B.packets.get(other.handle), payload)).toEqual([]); // bound to another interface
    expect(byHex(A.packets.get(tx.handle), payload)).toEqual([]); // multicast loopback is off
    for (const [ag, h] of [[A, tx.handle], [B, rx.handle], [B, other.handle]] as const) await ag.ok("close", { handle: h });
  });

  it("unicast to a peer with a chosen source address", async () => {
    const extra = family === 4 ? "198.51.100.11" : "2001:db8:1::11";
    topo.A.ip("addr", "add", `${extra}/${family === 4 ? 24 : 64}`, "dev", "eth0", ...(family === 6 ? ["nodad"] : []));
    const tx = await A.ok<{ handle: number }>("socket", { options: { interface: "eth0", family } });
    const rx = await B.ok<{ handle: number }>("socket", { options: { interface: "eth0", family } });
    const payload = advert(9, 2n).toString("hex");
    const dst = family === 4 ? topo.b4 : topo.b6;
    expect(await A.ok("send", { handle: tx.handle, payload, opts: { dst, src: extra } })).toEqual({ ok: true });
    await B.until(() => byHex(B.packets.get(rx.handle), payload).length > 0);
    const [p] = byHex(B.packets.get(rx.handle), payload);
    expect(p).toMatchObject({ src: extra, dst, ttl: 255 });
    // A source that is not ours is refused by the kernel: a value, not a throw.
    const bad = await A.ok<{ ok: boolean; code: string; message: string }>("send", {
      handle: tx.handle,
      payload,
      opts: { src: family === 4 ? "203.0.113.99" : "2001:db8:9::99" },
    });
    expect(bad.ok).toBe(false);
    expect(bad.code).toMatch(/^E[A-Z]+$/);
    expect(bad.message).toContain("eth0");
    await A.ok("close", { handle: tx.handle });
    await B.ok("close", { handle: rx.handle });
  });

  it("reports the TTL a packet really carried (injected with TTL 64)", async () => {
    const cap = await A.ok<{ handle: number }>("capture", { options: { interface: "eth0" } });
    const rx = await B.ok<{ handle: number }>("socket", { options: { interface: "eth0", family } });
    const body = advert(10, 3n);
    const srcMac = "00:00:5e:00:01:0a";
    const frame =
      family === 4
        ? buildEthernet(CARP_MAC_V4, srcMac, ETHERTYPE_IPV4, buildIpv4({ src: topo.a4, dst: group, proto: 112, ttl: 64, payload: body }))
        : buildEthernet(CARP_MAC_V6, srcMac, ETHERTYPE_IPV6, buildIpv6({ src: topo.a6, dst: group, nextHeader: 112, hopLimit: 64, payload: body }));
    expect(await A.ok("inject", { handle: cap.handle, frame: frame.toString("hex") })).toBe(frame.length);
    const hex = body.toString("hex");
    await B.until(() => byHex(B.packets.get(rx.handle), hex).length > 0);
    const [p] = byHex(B.packets.get(rx.handle), hex);
    expect(p.ttl).toBe(64);
    expect(p.src).toBe(family === 4 ? topo.a4 : topo.a6);
    await A.ok("close", { handle: cap.handle });
    await B.ok("close", { handle: rx.handle });
  });
});

describe("raw socket errors", () => {
  it("unknown interface: ENODEV with the interface named", async () => {
    const r = await A.call("socket", { options: { interface: "nope0", family: 4 } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe("ENODEV");
    expect(r.error.message).toContain("no such interface: nope0");
  });

  it("closed socket: close is idempotent, send throws ERR_SOCKET_CLOSED", async () => {
    const s = await A.ok<{ handle: number }>("socket", { options: { interface: "eth0", family: 4 } });
    await A.ok("close", { handle: s.handle });
    await A.ok("close", { handle: s.handle });
    const r = await A.call("send", { handle: s.handle, payload: advert(1, 1n).toString("hex") });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe("ERR_SOCKET_CLOSED");
    expect((await A.call("stats", { handle: s.handle })).ok).toBe(false);
  });

  it.each([4, 6] as const)("IPv%i oversized payloads: EMSGSIZE as a value, socket still usable", async (family) => {
    const s = await A.ok<{ handle: number }>("socket", { options: { interface: "eth0", family } });
    for (const size of [1600, 70000]) {
      const r = await A.ok<{ ok: boolean; code: string; message: string }>("send", {
        handle: s.handle,
        payload: Buffer.alloc(size).toString("hex"),
      });
      expect(r).toMatchObject({ ok: false, code: "EMSGSIZE" });
      expect(r.message).toContain("too large");
    }
    expect(await A.ok("send", { handle: s.handle, payload: advert(2, 1n).toString("hex") })).toEqual({ ok: true });
    const st = await A.ok<{ sent: number; sendErrors: number }>("stats", { handle: s.handle });
    expect(st).toMatchObject({ sent: 1, sendErrors: 2 });
    await A.ok("close", { handle: s.handle });
  });

  it("bad options are refused before touching the kernel", async () => {
    for (const options of [
      { interface: "eth0", family: 5 },
      { interface: "eth0", family: 4, ttl: 0 },
      { interface: "eth0", family: 4, group: "not-an-ip" },
      { interface: "eth0", family: 6, group: "224.0.0.18" },
    ]) {
      const r = await A.call("socket", { options });
      expect(r.ok, JSON.stringify(options)).toBe(false);
    }
  });
});
