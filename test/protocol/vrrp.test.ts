// VRRPv2/v3 codec against scapy's known answers (peer-tests.md §2.2) and every packet of the VRRP captures,
// with expected field values parsed from tcpdump's own output files.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

import { parseFrame } from "../../src/protocol/link.js";
import { readCaptureSync } from "../../src/protocol/pcap.js";
import { parseIpv4, parseIpv6, pseudoChecksum } from "../../src/protocol/ip.js";
import { ipToBytes } from "../../src/protocol/addr.js";
import {
  decodeVrrp,
  decodeVrrpV2,
  decodeVrrpV3,
  encodeVrrpV2,
  encodeVrrpV3,
  verifyVrrpChecksum,
  type Vrrp,
} from "../../src/protocol/vrrp.js";

const VEC = fileURLToPath(new URL("../fixtures", import.meta.url));
const vec = (f: string): Buffer => readFileSync(path.join(VEC, f));
const hex = (s: string): Buffer => Buffer.from(s, "hex");

interface TcpdumpVrrp {
  n: number;
  family: 4 | 6;
  src: string;
  dst: string;
  version: number;
  vrid: number;
  prio: number;
  authtype?: string;
  intvl: number;
  unit: string;
  length: number;
  addrs: string[];
  auth?: string;
}

/** Parse `tcpdump -# -n -tttt -v` VRRP output: one record per packet number, possibly spread over two lines. */
function parseTcpdumpV(text: string): TcpdumpVrrp[] {
  const recs = text.split(/^(?=\s*\d+\s+\d{4}-\d\d-\d\d )/m).filter((r) => r.trim());
  return recs.map((r) => {
    const flat = r.replace(/\s+/g, " ");
    const m = /^ ?(\d+) .*? (IP6?) .*?([0-9a-f.:]+) > ([0-9a-f.:]+): VRRPv(\d+), Advertisement, vrid (\d+), prio (\d+), (?:authtype (\w+), )?intvl (\d+)(s|cs), length (\d+)(?:, addrs(?:\(\d+\))?: ([^ ]+))?(?: auth "([^"]*)")?/.exec(flat);
    if (!m) throw new Error(`unparsed tcpdump record: ${flat}`);
    const rec: TcpdumpVrrp = {
      n: Number(m[1]),
      family: m[2] === "IP6" ? 6 : 4,
      src: m[3],
      dst: m[4],
      version: Number(m[5]),
      vrid: Number(m[6]),
      prio: Number(m[7]),
      intvl: Number(m[9]),
      unit: m[10],
      length: Number(m[11]),
      addrs: m[12] ? m[12].split(",") : [],
    };
    if (m[8]) rec.authtype = m[8];
    if (m[13] !== undefined) rec.auth = m[13];
    return rec;
  });
}

function decodeCaptureFrame(linktype: number, data: Buffer): { vrrp: Vrrp; src: string; dst: string; family: 4 | 6 } {
  const f = parseFrame(linktype, data);
  if ("error" in f) throw new Error(f.detail);
  const v = decodeVrrp(f.ip.payload, f.ip);
  if ("error" in v) throw new Error(v.detail);
  return { vrrp: v, src: f.ip.src, dst: f.ip.dst, family: f.family };
}

describe("scapy VRRP known answers (peer-tests.md §2.2)", () => {
  it("IPv4 + default VRRPv2: checksum 0x7afd verifies and re-encodes", () => {
    const ip = parseIpv4(hex("450000240001000040707c677f0000017f0000012101640000017afd0000000000000000"));
    if ("error" in ip) throw new Error(ip.detail);
    const v = decodeVrrpV2(ip.payload);
    if ("error" in v) throw new Error(v.detail);
    expect(v).toMatchObject({ vrid: 1, priority: 100, count: 0, advertInt: 1, checksum: 0x7afd, checksumOk: true });
    expect(encodeVrrpV2({ vrid: 1, priority: 100, addresses: [] }).toString("hex")).toBe(ip.payload.toString("hex"));
  });

  it("IPv6 + default VRRPv3: pseudo-header checksum 0x6a1f", () => {
    const ip = parseIpv6(hex("600000000008704000000000000000000000000000000001000000000000000000000000000000013101640100646a1f"));
    if ("error" in ip) throw new Error(ip.detail);
    // scapy's default claims count 1 but carries no address: the checksum verifies, the decoder calls it truncated.
    expect(ip.payload.toString("hex")).toBe("3101640100646a1f");
    expect(verifyVrrpChecksum(ip.payload, ip)).toBe(true);
    expect(decodeVrrpV3(ip.payload, ip)).toMatchObject({ error: "truncated" });
    const zeroed = Buffer.from(ip.payload);
    zeroed.writeUInt16BE(0, 6);
    expect(pseudoChecksum(ip.srcBytes, ip.dstBytes, 112, zeroed)).toBe(0x6a1f);
    const enc = encodeVrrpV3({ vrid: 1, priority: 100, addresses: [], src: "::1", dst: "::1" });
    const dec = decodeVrrpV3(enc, ip);
    expect(dec).toMatchObject({ vrid: 1, priority: 100, maxAdvertInt: 100, count: 0, checksumOk: true, family: 6 });
  });

  it("VRRPv3/IPv4 20.0.0.3 -> 224.0.0.18 with two addresses: 0xb25e", () => {
    const enc = encodeVrrpV3({ vrid: 2, priority: 254, maxAdvertInt: 1, addresses: ["20.0.1.2", "20.0.1.3"], src: "20.0.0.3" });
    expect(enc.toString("hex")).toBe("3102fe020001b25e1400010214000103");
    const v = decodeVrrpV3(enc, { family: 4, srcBytes: ipToBytes("20.0.0.3")!, dstBytes: ipToBytes("224.0.0.18")! });
    expect(v).toMatchObject({ checksumOk: true, addresses: ["20.0.1.2", "20.0.1.3"], maxAdvertInt: 1 });
    // The same bytes with a different source must fail: the pseudo-header is really included.
    expect(verifyVrrpChecksum(enc, { family: 4, srcBytes: ipToBytes("20.0.0.4")!, dstBytes: ipToBytes("224.0.0.18")! })).toBe(false);
  });

  it("VRRPv2 layout with version 1: 0xc6f4, no pseudo-header", () => {
    const enc = encodeVrrpV2({ version: 1, vrid: 2, priority: 254, advertInt: 1, addresses: ["20.0.1.2", "20.0.1.3"] });
    expect(enc.toString("hex")).toBe("1102fe020001c6f414000102140001030000000000000000");
    expect(verifyVrrpChecksum(enc, { family: 4 })).toBe(true);
  });

  it("VRRPv3/IPv6 2001:db8::1 -> ff02::12: 0x481b", () => {
    const enc = encodeVrrpV3({ vrid: 2, priority: 254, maxAdvertInt: 1, addresses: ["2001:db8::2", "2001:db8::3"], src: "2001:db8::1" });
    expect(enc.toString("hex")).toBe("3102fe020001481b20010db800000000000000000000000220010db8000000000000000000000003");
  });
});

describe("tcpdump-vrrp.pcap against tcpdump-vrrp-v.out", () => {
  const { packets, error } = readCaptureSync(vec("tcpdump-vrrp.pcap"));
  const expected = parseTcpdumpV(readFileSync(path.join(VEC, "tcpdump-vrrp-v.out"), "utf8"));

  it("reads all 165 packets and parses 165 tcpdump records", () => {
    expect(error).toBeUndefined();
    expect(packets.length).toBe(165);
    expect(expected.length).toBe(165);
    expect(expected.map((e) => e.n)).toEqual(packets.map((_, i) => i + 1));
  });

  it("every packet decodes with tcpdump's vrid, prio, interval, length, addresses and auth; every checksum valid", () => {
    const versions = new Set<string>();
    packets.forEach((p, i) => {
      const e = expected[i];
      const d = decodeCaptureFrame(p.linktype, p.data);
      expect({ n: e.n, family: d.family, src: d.src, dst: d.dst }).toEqual({ n: e.n, family: e.family, src: e.src, dst: e.dst });
      const v = d.vrrp;
      expect(v.version).toBe(e.version);
      expect(v.vrid).toBe(e.vrid);
      expect(v.priority).toBe(e.prio);
      expect(v.addresses).toEqual(e.addrs);
      expect(v.checksumOk).toBe(true);
      versions.add(`${v.version}/${d.family}`);
      if (v.version === 2) {
        expect(e.unit).toBe("s");
        expect(v.advertInt).toBe(e.intvl);
        expect(v.length).toBe(e.length);
        expect(v.authType === 1 ? "simple" : v.authType === 0 ? "none" : String(v.authType)).toBe(e.authtype);
        if (e.auth !== undefined) expect(v.authData.toString("latin1").replace(/\0+$/, "")).toBe(e.auth);
      } else {
        expect(e.unit).toBe("cs");
        expect(v.maxAdvertInt).toBe(e.intvl);
        expect(v.length).toBe(e.length);
      }
    });
    expect([...versions].sort()).toEqual(["2/4", "3/4", "3/6"]);
  });

  it("packet times match tcpdump-vrrp.out (TZ=GMT0 -tttt) to the microsecond", () => {
    const lines = readFileSync(path.join(VEC, "tcpdump-vrrp.out"), "utf8").trim().split("\n");
    expect(lines.length).toBe(packets.length);
    lines.forEach((l, i) => {
      const m = /^\s*(\d+)\s+(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6}) .*vrid (\d+), prio (\d+)/.exec(l);
      if (!m) throw new Error(`unparsed: ${l}`);
      const sec = Date.UTC(+m[2], +m[3] - 1, +m[4], +m[5], +m[6], +m[7]) / 1000;
      expect(Math.floor(packets[i].time)).toBe(sec);
      expect(Math.round((packets[i].time - sec) * 1e6)).toBe(Number(m[8]));
      const d = decodeCaptureFrame(packets[i].linktype, packets[i].data);
      expect([d.vrrp.vrid, d.vrrp.priority]).toEqual([Number(m[9]), Number(m[10])]);
    });
  });

  it("a single flipped bit breaks the checksum of every packet (v3 pseudo-header included)", () => {
    for (const p of packets) {
      const f = parseFrame(p.linktype, Buffer.from(p.data));
      if ("error" in f) throw new Error(f.detail);
      f.ip.payload[1] ^= 0x01;
      expect(verifyVrrpChecksum(f.ip.payload, f.ip)).toBe(false);
    }
  });

  it("re-encoding each advert reproduces the captured VRRP bytes", () => {
    for (const p of packets) {
      const f = parseFrame(p.linktype, p.data);
      if ("error" in f) throw new Error(f.detail);
      const v = decodeVrrp(f.ip.payload, f.ip);
      if ("error" in v) throw new Error(v.detail);
      const enc =
        v.version === 2
          ? encodeVrrpV2({ vrid: v.vrid, priority: v.priority, addresses: v.addresses, advertInt: v.advertInt, authType: v.authType, authData: v.authData })
          : encodeVrrpV3({ vrid: v.vrid, priority: v.priority, addresses: v.addresses, maxAdvertInt: v.maxAdvertInt, src: f.ip.src, dst: f.ip.dst });
      expect(enc.toString("hex")).toBe(f.ip.payload.toString("hex"));
    }
  });
});

describe("other VRRP captures", () => {
  it("ndpi-vrrp3.pcapng: 10 VRRPv3/IPv6 adverts in VLAN 36, valid checksums, fe80::1 prio 105 last", () => {
    const { packets, error } = readCaptureSync(vec("ndpi-vrrp3.pcapng"));
    expect(error).toBeUndefined();
    expect(packets.length).toBe(10);
    const decoded = packets.map((p) => {
      const f = parseFrame(p.linktype, p.data);
      if ("error" in f) throw new Error(f.detail);
      expect(f.vlan).toEqual([36]);
      expect(f.srcMac).toBe("00:00:5e:00:02:24");
      if (f.ip.family !== 6) throw new Error("expected IPv6");
      expect(f.ip.trafficClass).toBe(0xe0);
      const v = decodeVrrp(f.ip.payload, f.ip);
      if ("error" in v || v.version !== 3) throw new Error("not VRRPv3");
      expect(v).toMatchObject({ vrid: 36, addresses: ["fe80::3636"], maxAdvertInt: 1000, checksumOk: true });
      return { src: f.ip.src, prio: v.priority };
    });
    expect(decoded[0]).toEqual({ src: "fe80::2", prio: 100 });
    expect(decoded.slice(1).every((d) => d.src === "fe80::1" && d.prio === 105)).toBe(true);
  });

  it("pcapplusplus v2, v3/IPv4, v3/IPv6 samples decode with their documented fields", () => {
    const v2 = decodeCaptureFrame(1, readCaptureSync(vec("pcapplusplus-vrrp-v2.pcap")).packets[0].data);
    expect(v2.vrrp).toMatchObject({ version: 2, vrid: 1, priority: 100, advertInt: 1, authType: 0, checksumOk: true, addresses: ["192.168.0.1", "192.168.0.2", "192.168.0.3"] });
    const v34 = decodeCaptureFrame(1, readCaptureSync(vec("pcapplusplus-vrrp-v3-ipv4.pcap")).packets[0].data);
    expect(v34.vrrp).toMatchObject({ version: 3, vrid: 1, priority: 100, maxAdvertInt: 1, checksumOk: true, addresses: ["192.168.0.1", "192.168.0.2"] });
    const p6 = readCaptureSync(vec("pcapplusplus-vrrp-v3-ipv6.pcap")).packets[0].data;
    const f6 = parseFrame(1, p6);
    if ("error" in f6) throw new Error(f6.detail);
    expect(f6.dstMac).toBe("01:00:5e:00:00:12"); // IPv4 multicast MAC, yet the EtherType says IPv6
    expect(f6.family).toBe(6);
    const v36 = decodeCaptureFrame(1, p6);
    expect(v36).toMatchObject({ src: "fe80::1", dst: "ff02::12" });
    expect(v36.vrrp).toMatchObject({ version: 3, vrid: 1, priority: 100, maxAdvertInt: 1, checksumOk: true, addresses: ["fe80::254", "2001:db8::1", "2001:db8::2"] });
  });
});

describe("malformed VRRP", () => {
  it("truncated address lists are errors, not overreads", () => {
    const full = encodeVrrpV3({ vrid: 9, priority: 1, addresses: ["2001:db8::1", "2001:db8::2"], src: "fe80::1" });
    for (let n = 0; n < full.length; n++) {
      const r = decodeVrrpV3(full.subarray(0, n), { family: 6, srcBytes: ipToBytes("fe80::1")!, dstBytes: ipToBytes("ff02::12")! });
      expect("error" in r).toBe(true);
    }
    const v2 = encodeVrrpV2({ vrid: 1, priority: 1, addresses: ["192.0.2.1"] });
    // The address list is required; the 8 auth bytes may be missing (PcapPlusPlus sample) or cut short.
    for (let n = 0; n < 12; n++) expect("error" in decodeVrrpV2(v2.subarray(0, n))).toBe(true);
    for (let n = 12; n <= v2.length; n++) expect(decodeVrrpV2(v2.subarray(0, n))).toMatchObject({ addresses: ["192.0.2.1"], length: n });
  });

  it("VRRPv2 over IPv6 and unknown versions are errors", () => {
    const v2 = encodeVrrpV2({ vrid: 1, priority: 1, addresses: ["192.0.2.1"] });
    expect(decodeVrrp(v2, { family: 6 })).toMatchObject({ error: "badfamily" });
    const bad = Buffer.from(v2);
    bad[0] = 0x41;
    expect(decodeVrrp(bad, { family: 4 })).toMatchObject({ error: "badver" });
  });

  it("encoders reject bad arguments with RangeError", () => {
    expect(() => encodeVrrpV3({ vrid: 1, priority: 1, addresses: [], src: "192.0.2.1", maxAdvertInt: 4096 })).toThrow(RangeError);
    expect(() => encodeVrrpV3({ vrid: 1, priority: 1, addresses: ["2001:db8::1"], src: "192.0.2.1" })).toThrow(RangeError);
    expect(() => encodeVrrpV2({ vrid: 1, priority: 1, addresses: [], authData: "123456789" })).toThrow(RangeError);
  });
});
