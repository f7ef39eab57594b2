// The receive path: real encoded and signed adverts (transmit.ts's encoder, the vhid's CarpAuth) through
// receivePackets — each packet checked once, own loops before any HMAC work, badvhid for an unknown vhid
// or a family the vhid has no address of, and only authenticated foreign adverts delivered.
import { describe, expect, it } from "vitest";
import type { ReceivedAdvert } from "../../src/core/index.js";
import { normalizeConfig } from "../../src/daemon/config.js";
import { newVhidRt, type IfRt } from "../../src/daemon/interfaces.js";
import { receivePackets } from "../../src/daemon/receive.js";
import { encodeAdvert } from "../../src/daemon/transmit.js";
import type { CarpStats } from "../../src/daemon/types.js";
import type { ReceivedPacket } from "../../src/host/rawsock.js";
import { carpFinishChecksum, encodeCarp } from "../../src/protocol/carp.js";
import { receiveCarp } from "../../src/protocol/receive.js";
import { encodeVrrpV2, encodeVrrpV3 } from "../../src/protocol/vrrp.js";

const r = normalizeConfig({ vhids: [{ interface: "eth0", vhid: 7, password: "pw", addresses: ["198.51.100.100/24"] }] }, { keyName: (f) => f, longPassword: "truncate" });
if (!r.ok) throw new Error(r.error);
const cfg = r.value.vhids[0];
const zero = (): CarpStats => ({ ipackets: 0, ipackets6: 0, badlen: 0, badsum: 0, badver: 0, badttl: 0, badvhid: 0, badauth: 0, opackets: 0, opackets6: 0, senderr: 0, ownloops: 0, badreplay: 0, vrrp: 0 });

function setup() {
  const rt = newVhidRt(cfg);
  const ifr = { name: "eth0", vhids: new Map([[7, rt]]), own: ["198.51.100.1"] } as unknown as IfRt;
  const got: ReceivedAdvert[] = [];
  const drops: string[] = [];
  const stats = zero();
  const sink = { stats, advert: (_i: string, p: ReceivedAdvert) => got.push(p), drop: (_i: string, reason: string) => drops.push(reason), vrrp: () => undefined };
  return { rt, ifr, got, drops, stats, sink };
}

const pkt = (data: Buffer, o: Partial<ReceivedPacket> = {}): ReceivedPacket =>
  ({ data: Buffer.from(data), src: "198.51.100.2", dst: "224.0.0.18", ttl: 255, ifindex: 2, time: 0, family: 4, ...o }) as ReceivedPacket;

describe("receivePackets", () => {
  it("encodeAdvert (encodeCarpInto + HMAC) produces what encodeCarp + sign produce, and it verifies", () => {
    const { rt } = setup();
    const advert = { vhid: 7, advbase: 1, advskew: 20, demote: 0, counter: 0x0102030405060708n };
    const mine = Buffer.from(encodeAdvert(rt, { ref: rt.ref, seq: 1, family: 4, advert, bowOut: false }));
    expect(mine).toEqual(encodeCarp({ ...advert, hmac: rt.auth.sign(advert.counter) }));
    expect(receiveCarp(mine, { ttl: 255, dst: "224.0.0.18" }, () => ({ auth: rt.auth })).ok).toBe(true);
  });

  it("delivers an authenticated foreign advert; counts own loops, badvhid, badauth and badttl once each", () => {
    const { rt, ifr, got, drops, stats, sink } = setup();
    const good = Buffer.from(encodeAdvert(rt, { ref: rt.ref, seq: 1, family: 4, advert: { vhid: 7, advbase: 1, advskew: 0, demote: 0, counter: 5n }, bowOut: false }));
    const unknown = Buffer.from(good);
    unknown[1] = 9;
    carpFinishChecksum(unknown);
    const forged = Buffer.from(good);
    forged[20] ^= 0xff; // the HMAC, with a valid checksum
    carpFinishChecksum(forged);
    receivePackets(ifr, [
      pkt(good),
      pkt(good, { src: "198.51.100.1" }), // our own, looped back
      pkt(unknown),
      pkt(good, { family: 6, src: "2001:db8::2", dst: "ff02::12" }), // vhid 7 has no IPv6 address
      pkt(forged),
      pkt(good, { ttl: 254 }),
    ], sink);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ from: "198.51.100.2", family: 4, header: { vhid: 7, counter: 5n } });
    expect(stats).toMatchObject({ ipackets: 5, ipackets6: 1, ownloops: 1, badvhid: 2, badauth: 1, badttl: 1 });
    expect(rt.rx).toEqual({ ownLoops: 1, badauth: 1, badttl: 1, badver: 0, badsum: 0 });
    expect(drops).toEqual(["badvhid", "badvhid", "badauth", "badttl"]);
  });

  it("counts VRRP adverts as vrrp, not badlen, and tells the sink whether the vrid is one of ours", () => {
    const { ifr, got, drops, stats } = setup();
    const seen: [string, number, number, boolean][] = [];
    const sink = { stats, advert: (_i: string, p: ReceivedAdvert) => got.push(p), drop: (_i: string, reason: string) => drops.push(reason), vrrp: (_i: string, from: string, vrid: number, version: 2 | 3, configured: boolean) => void seen.push([from, vrid, version, configured]) };
    receivePackets(ifr, [
      pkt(encodeVrrpV2({ vrid: 7, priority: 100, addresses: ["198.51.100.100"] }), { src: "198.51.100.21" }),
      pkt(encodeVrrpV3({ vrid: 8, priority: 100, addresses: ["198.51.100.101"], src: "198.51.100.22" }), { src: "198.51.100.22" }),
      pkt(Buffer.from([0x21, 7, 0, 0])), // too short for either: still badlen
    ], sink);
    expect(seen).toEqual([["198.51.100.21", 7, 2, true], ["198.51.100.22", 8, 3, false]]);
    expect(stats).toMatchObject({ vrrp: 2, badlen: 1 });
    expect(got).toHaveLength(0);
    expect(drops).toEqual(["badlen"]);
  });
});
