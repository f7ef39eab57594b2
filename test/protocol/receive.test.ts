// receiveCarp: the negative vectors N1–N8 and the check order.
import { describe, expect, it } from "vitest";
import { carpFinishChecksum, encodeCarp } from "../../src/protocol/carp.js";
import { CarpAuth } from "../../src/protocol/hmac.js";
import { DLT_EN10MB, parseFrame } from "../../src/protocol/link.js";
import { isMulticastAddress, receiveCarp, type ReceiveVhid } from "../../src/protocol/receive.js";
import type { CarpReason } from "../../src/protocol/types.js";
import { negativeVectors } from "../helpers/vectors.js";

const negatives = negativeVectors;

/** Ethernet + IPv4 frame → IP facts and payload, through link.ts (the other engineer's parser). */
function parseV4Frame(hex: string) {
  const f = parseFrame(DLT_EN10MB, Buffer.from(hex, "hex"));
  if ("error" in f) throw new Error(f.detail);
  expect(f.family).toBe(4);
  return { ttl: f.ip.ttl, proto: f.ip.proto, dst: f.ip.dst, payload: f.ip.payload };
}

// Configured like D1: password foobar, vhid 1, VIP 192.0.2.254.
const d1 = CarpAuth.create({ vhid: 1, v4: ["192.0.2.254"], password: "foobar" }) as CarpAuth;
const lookupD1 = (vhid: number): ReceiveVhid | undefined => (vhid === 1 ? { auth: d1 } : undefined);

describe("carp-negative.json", () => {
  // Policy (receive.ts): type and authlen are not checked, like the kernels, so N4 and N6 pass.
  const expected: Record<string, CarpReason | "accepted"> = {
    N1: "badsum",
    N2: "badttl",
    N3: "badver",
    N4: "accepted",
    N5: "badlen",
    N6: "accepted",
    N7: "badauth",
    N8: "badlen",
  };
  it("holds N1–N8", () => {
    expect(negatives.map((n) => n.name.slice(0, 2))).toEqual(Object.keys(expected));
  });
  for (const n of negatives) {
    const want = expected[n.name.slice(0, 2)];
    it(`${n.name} → ${want}`, () => {
      const { ttl, proto, dst, payload } = parseV4Frame(n.frame);
      expect(proto).toBe(112);
      const r = receiveCarp(payload, { ttl, dst }, lookupD1);
      if (want === "accepted") {
        expect(r.ok).toBe(true);
      } else {
        expect(r).toMatchObject({ ok: false, reason: want });
        if (!r.ok) expect(r.detail.length).toBeGreaterThan(10);
      }
    });
  }
  it("details are human sentences", () => {
    const n1 = parseV4Frame(negatives[0].frame);
    expect(receiveCarp(n1.payload, n1, lookupD1)).toMatchObject({ detail: "checksum 0xdead is wrong, expected 0x81f9" });
    const n2 = parseV4Frame(negatives[1].frame);
    expect(receiveCarp(n2.payload, n2, lookupD1)).toMatchObject({ detail: "ttl 64, expected 255 (multicast)" });
    const n5 = parseV4Frame(negatives[4].frame);
    expect(receiveCarp(n5.payload, n5, lookupD1)).toMatchObject({ detail: "payload 20 bytes, expected at least 36" });
  });
});

describe("receiveCarp rules", () => {
  const mk = (over: Partial<{ vhid: number; version: number; counter: bigint }> = {}) => {
    const vhid = over.vhid ?? 1;
    const counter = over.counter ?? 42n;
    return encodeCarp({ vhid, advskew: 0, advbase: 1, counter, hmac: d1.sign(counter), version: over.version });
  };

  it("accepts a good packet, with trailing bytes and at an offset", () => {
    const p = Buffer.concat([Buffer.alloc(3), mk(), Buffer.alloc(5)]);
    const r = receiveCarp(p, { ttl: 255, dst: "224.0.0.18" }, lookupD1, 3);
    expect(r).toMatchObject({ ok: true, header: { vhid: 1, counter: 42n } });
  });
  it("unknown vhid → badvhid (checked before version)", () => {
    const p = mk({ vhid: 2, version: 3 });
    expect(receiveCarp(p, { ttl: 255, dst: "224.0.0.18" }, lookupD1)).toMatchObject({ ok: false, reason: "badvhid" });
  });
  it("checksum is checked before the vhid", () => {
    const p = mk({ vhid: 2 });
    p[20] ^= 1;
    expect(receiveCarp(p, { ttl: 255 }, lookupD1)).toMatchObject({ ok: false, reason: "badsum" });
  });
  it("version before TTL, TTL before HMAC", () => {
    expect(receiveCarp(mk({ version: 1 }), { ttl: 1, dst: "224.0.0.18" }, lookupD1)).toMatchObject({ reason: "badver" });
    const badMac = mk();
    badMac[30] ^= 1;
    carpFinishChecksum(badMac);
    expect(receiveCarp(badMac, { ttl: 64, dst: "224.0.0.18" }, lookupD1)).toMatchObject({ reason: "badttl" });
    expect(receiveCarp(badMac, { ttl: 255, dst: "224.0.0.18" }, lookupD1)).toMatchObject({ reason: "badauth" });
  });
  it("TTL: not checked for unicast destinations unless ttlPolicy is always", () => {
    const p = mk();
    expect(receiveCarp(p, { ttl: 64, dst: "198.51.100.7" }, lookupD1).ok).toBe(true);
    expect(receiveCarp(p, { ttl: 64, dst: "ff02::12" }, lookupD1)).toMatchObject({ reason: "badttl" });
    expect(receiveCarp(p, { ttl: 64, dstMulticast: true }, lookupD1)).toMatchObject({ reason: "badttl" });
    const always = () => ({ auth: d1, ttlPolicy: "always" as const });
    expect(receiveCarp(p, { ttl: 64, dst: "198.51.100.7" }, always)).toMatchObject({
      reason: "badttl",
      detail: "ttl 64, expected 255 (always required)",
    });
    // FreeBSD decides by the vhid's configured destination when it is given.
    const unicastPeer = () => ({ auth: d1, multicastDestination: false });
    expect(receiveCarp(p, { ttl: 64, dst: "224.0.0.18" }, unicastPeer).ok).toBe(true);
  });
  it("never throws on garbage", () => {
    for (let n = 0; n < 60; n++) {
      const b = Buffer.alloc(n, n * 37);
      expect(() => receiveCarp(b, { ttl: 255 }, lookupD1)).not.toThrow();
      expect(() => receiveCarp(b, { ttl: 255 }, lookupD1, 100)).not.toThrow();
    }
  });
  it("isMulticastAddress", () => {
    expect(isMulticastAddress("224.0.0.18")).toBe(true);
    expect(isMulticastAddress("239.255.255.255")).toBe(true);
    expect(isMulticastAddress("240.0.0.1")).toBe(false);
    expect(isMulticastAddress("ff02::12")).toBe(true);
    expect(isMulticastAddress("fe80::1")).toBe(false);
  });
});
