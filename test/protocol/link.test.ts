// Link layers: Ethernet with stacked tags, Linux cooked v1/v2, raw IP, loopback; each checked with tcpdump too.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";

import { ipToBytes } from "../../src/protocol/addr.js";
import { buildIpv4, buildIpv6 } from "../../src/protocol/ip.js";
import {
  buildEthernet,
  CARP_MAC_V4,
  CARP_MAC_V6,
  multicastMac,
  parseFrame,
  parseLinkLayer,
  parseMac,
  vhidFromVirtualMac,
  virtualMac,
} from "../../src/protocol/link.js";
import { PcapWriter, readCaptureSync } from "../../src/protocol/pcap.js";

const VEC = fileURLToPath(new URL("../fixtures", import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), "carp-link-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const carp = Buffer.alloc(36, 0x21);
const ip4 = buildIpv4({ src: "198.51.100.1", dst: "224.0.0.18", proto: 112, payload: carp });
const ip6 = buildIpv6({ src: "fe80::1", dst: "ff02::12", nextHeader: 112, payload: carp });
const mac = "00:00:5e:00:01:07";

function sll(proto: number, payload: Buffer, tci?: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(4, 0); // outgoing
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4);
  parseMac(mac)!.copy(h, 6);
  if (tci === undefined) {
    h.writeUInt16BE(proto, 14);
    return Buffer.concat([h, payload]);
  }
  h.writeUInt16BE(0x8100, 14);
  const t = Buffer.alloc(4);
  t.writeUInt16BE(tci, 0);
  t.writeUInt16BE(proto, 2);
  return Buffer.concat([h, t, payload]);
}

function sll2(proto: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(proto, 0);
  h.writeUInt32BE(3, 4);
  h.writeUInt16BE(1, 8);
  h[10] = 2; // multicast
  h[11] = 6;
  parseMac(mac)!.copy(h, 12);
  return Buffer.concat([h, payload]);
}

function af(le: boolean, v: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  if (le) h.writeUInt32LE(v);
  else h.writeUInt32BE(v);
  return Buffer.concat([h, payload]);
}

// [name, linktype, frame, family, srcMac, vlan]
const CASES: Array<[string, number, Buffer, 4 | 6, string | undefined, number[] | undefined]> = [
  ["Ethernet IPv4", 1, buildEthernet(CARP_MAC_V4, mac, 0x0800, ip4), 4, mac, undefined],
  ["Ethernet 802.1Q IPv6", 1, buildEthernet(CARP_MAC_V6, mac, 0x86dd, ip6, [36]), 6, mac, [36]],
  ["Ethernet QinQ 802.1ad+802.1Q", 1, buildEthernet(CARP_MAC_V4, mac, 0x0800, ip4, [100, 200]), 4, mac, [100, 200]],
  ["Ethernet 3 tags (0x9100 outer)", 1, buildEthernet(CARP_MAC_V4, mac, 0x0800, ip4, [{ vid: 5, tpid: 0x9100 }, 6, 7]), 4, mac, [5, 6, 7]],
  ["Linux SLL IPv4", 113, sll(0x0800, ip4), 4, mac, undefined],
  ["Linux SLL tagged IPv6", 113, sll(0x86dd, ip6, 0x2024), 6, mac, [36]],
  ["Linux SLL2 IPv6", 276, sll2(0x86dd, ip6), 6, mac, undefined],
  ["RAW 101 IPv6", 101, ip6, 6, undefined, undefined],
  ["RAW 12 IPv4", 12, ip4, 4, undefined, undefined],
  ["RAW 14 IPv6", 14, ip6, 6, undefined, undefined],
  ["IPV4 228", 228, ip4, 4, undefined, undefined],
  ["IPV6 229", 229, ip6, 6, undefined, undefined],
  ["NULL little-endian AF_INET", 0, af(true, 2, ip4), 4, undefined, undefined],
  ["NULL big-endian AF_INET6 (FreeBSD 28)", 0, af(false, 28, ip6), 6, undefined, undefined],
  ["LOOP AF_INET6 (OpenBSD 24)", 108, af(false, 24, ip6), 6, undefined, undefined],
];

describe("parseFrame per link type", () => {
  it.each(CASES)("%s", (_n, lt, frame, family, srcMac, vlan) => {
    const f = parseFrame(lt, frame);
    if ("error" in f) throw new Error(f.detail);
    expect(f.family).toBe(family);
    expect(f.srcMac).toBe(srcMac);
    expect(f.vlan).toEqual(vlan);
    expect(f.ip.proto).toBe(112);
    expect(f.ip.ttl).toBe(255);
    expect(f.ip.dst).toBe(family === 4 ? "224.0.0.18" : "ff02::12");
    expect(f.ip.payload.equals(carp)).toBe(true);
    expect(f.ip.truncated).toBe(false);
  });

  it("tcpdump decodes the same frames to the same addresses and VLANs", async () => {
    // 12 and 14 are in-kernel DLT_RAW values; capture files use LINKTYPE_RAW (101), which tcpdump expects.
    for (const [name, lt, frame, family, , vlan] of CASES.filter((c) => c[1] !== 12 && c[1] !== 14)) {
      const file = path.join(tmp, `lt${lt}.pcap`);
      const w = new PcapWriter(file, { linktype: lt });
      w.write({ time: 1, data: frame });
      await w.close();
      const out = execFileSync("tcpdump", ["-n", "-e", "-r", file], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
      expect(out, name).toContain(family === 4 ? "198.51.100.1 > 224.0.0.18" : "fe80::1 > ff02::12");
      expect(out, name).not.toMatch(/\[\||truncated/);
      for (const v of vlan ?? []) expect(out, name).toContain(`vlan ${v}`);
    }
  });

  it("family comes from the EtherType, not the MAC (PcapPlusPlus IPv6 sample to 01:00:5e:00:00:12)", () => {
    const p = readCaptureSync(readFileSync(path.join(VEC, "pcapplusplus-vrrp-v3-ipv6.pcap"))).packets[0];
    const f = parseFrame(p.linktype, p.data);
    expect(f).toMatchObject({ family: 6, dstMac: "01:00:5e:00:00:12", ethertype: 0x86dd });
    // And the other way round: an IPv4 packet to an IPv6 multicast MAC is IPv4.
    expect(parseFrame(1, buildEthernet(CARP_MAC_V6, mac, 0x0800, ip4))).toMatchObject({ family: 4 });
  });

  it("errors: unsupported link type, non-IP EtherType, family mismatch, truncated headers", () => {
    expect(parseFrame(107, ip4)).toMatchObject({ error: "unsupported-linktype" });
    expect(parseFrame(1, buildEthernet("ff:ff:ff:ff:ff:ff", mac, 0x0806, Buffer.alloc(28)))).toMatchObject({ error: "notip", ethertype: 0x0806 });
    expect(parseFrame(1, buildEthernet(CARP_MAC_V4, mac, 0x0800, ip6))).toMatchObject({ error: "badfamily" });
    expect(parseFrame(229, ip4)).toMatchObject({ error: "badfamily" });
    expect(parseFrame(0, af(true, 17, ip4))).toMatchObject({ error: "notip" });
    const tagged = buildEthernet(CARP_MAC_V4, mac, 0x0800, ip4, [1, 2]);
    for (let n = 0; n < 22; n++) expect("error" in parseFrame(1, tagged.subarray(0, n))).toBe(true);
    expect(parseFrame(1, tagged.subarray(0, 22 + 19))).toMatchObject({ error: "truncated" }); // inside the IPv4 header
    expect(parseFrame(1, tagged.subarray(0, 22 + 30))).toMatchObject({ family: 4, ip: { truncated: true } });
  });

  it("Ethernet padding is not IP payload; a short capture is flagged truncated", () => {
    const small = buildIpv4({ src: "198.51.100.1", dst: "224.0.0.18", proto: 112, payload: Buffer.alloc(20, 0x21) });
    const padded = Buffer.concat([buildEthernet(CARP_MAC_V4, mac, 0x0800, small), Buffer.alloc(6)]);
    const f = parseFrame(1, padded);
    if ("error" in f) throw new Error(f.detail);
    expect(f.ip.payload.length).toBe(20);
    const cut = parseFrame(1, buildEthernet(CARP_MAC_V4, mac, 0x0800, ip4).subarray(0, 14 + 20 + 10));
    if ("error" in cut) throw new Error(cut.detail);
    expect(cut.ip).toMatchObject({ truncated: true, payloadLength: 36 });
    expect(cut.ip.payload.length).toBe(10);
  });
});

describe("MAC helpers", () => {
  it("virtual and multicast MACs", () => {
    expect(virtualMac(1)).toBe("00:00:5e:00:01:01");
    expect(virtualMac(255)).toBe("00:00:5e:00:01:ff");
    expect(virtualMac(36, 6)).toBe("00:00:5e:00:02:24");
    expect(() => virtualMac(256)).toThrow(RangeError);
    expect(vhidFromVirtualMac("00:00:5e:00:01:2a")).toBe(42);
    expect(vhidFromVirtualMac("00:00:5e:00:02:2d")).toBe(45);
    expect(vhidFromVirtualMac("00:00:5e:00:00:01")).toBeNull(); // ucarp's advert source MAC is not a virtual MAC
    expect(multicastMac(ipToBytes("224.0.0.18")!)).toBe(CARP_MAC_V4);
    expect(multicastMac(ipToBytes("239.129.2.3")!)).toBe("01:00:5e:01:02:03"); // only 23 bits
    expect(multicastMac(ipToBytes("ff02::12")!)).toBe(CARP_MAC_V6);
    expect(multicastMac(ipToBytes("ff02::1:ff00:1234")!)).toBe("33:33:ff:00:12:34");
    expect(parseMac("00-00-5E-00-01-01")!.toString("hex")).toBe("00005e000101");
    expect(parseMac("00:00:5e:00:01")).toBeNull();
  });

  it("the CARP vectors' source MACs are the vhid's virtual MAC", () => {
    const pk = readCaptureSync(readFileSync(path.join(VEC, "carp-vectors.pcap"))).packets;
    for (const p of pk) {
      const f = parseFrame(p.linktype, p.data);
      if ("error" in f) throw new Error(f.detail);
      expect(vhidFromVirtualMac(f.srcMac!)).toBe(f.ip.payload[1]);
      expect(f.dstMac).toBe(multicastMac(f.ip.dstBytes));
    }
  });
});

describe("robustness", () => {
  it("random bytes on every link type never throw; payloads stay inside the frame", () => {
    const lts = [0, 1, 12, 14, 101, 107, 108, 113, 228, 229, 276, 9999];
    fc.assert(
      fc.property(fc.constantFrom(...lts), fc.uint8Array({ maxLength: 120 }), (lt, raw) => {
        const b = Buffer.from(raw);
        const f = parseFrame(lt, b);
        const l = parseLinkLayer(lt, b);
        if (!("error" in l)) expect(l.payload.byteOffset + l.payload.length).toBeLessThanOrEqual(b.byteOffset + b.length);
        if (!("error" in f)) expect(f.ip.payload.byteOffset + f.ip.payload.length).toBeLessThanOrEqual(b.byteOffset + b.length);
      }),
      { numRuns: 5000 },
    );
  });

  it("every truncation and single-byte mutation of every captured frame never throws", () => {
    const files = ["tcpdump-vrrp.pcap", "ndpi-vrrp3.pcapng", "tcpdump-vrrp-oobr.pcap", "tcpdump-vrrp-oobr-2.pcap", "carp-negative.pcap"];
    const frames = files.flatMap((f) => readCaptureSync(readFileSync(path.join(VEC, f))).packets);
    for (const p of frames) for (let n = 0; n <= p.data.length; n++) parseFrame(p.linktype, p.data.subarray(0, n));
    fc.assert(
      fc.property(fc.nat(frames.length - 1), fc.nat(200), fc.nat(255), (i, o, v) => {
        const d = Buffer.from(frames[i].data);
        d[o % d.length] = v;
        parseFrame(frames[i].linktype, d);
        parseFrame(1, d);
      }),
      { numRuns: 3000 },
    );
  });
});
