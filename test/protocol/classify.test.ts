// The protocol-112 demultiplexer: CARP vs VRRPv2 vs VRRPv3 vs invalid, on every capture and vector we have.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { classifyProto112 } from "../../src/protocol/classify.js";
import { buildIpv4, buildIpv6, parseIp, type IpPacket } from "../../src/protocol/ip.js";
import { parseFrame } from "../../src/protocol/link.js";
import { readCaptureSync } from "../../src/protocol/pcap.js";
import { encodeVrrpV2, encodeVrrpV3 } from "../../src/protocol/vrrp.js";
import { carpVectors, negativeVectors, vectorPath } from "../helpers/vectors.js";

const vec = (f: string): Buffer => readFileSync(vectorPath(f));

function ipOf(linktype: number, data: Buffer): IpPacket {
  const f = parseFrame(linktype, data);
  if ("error" in f) throw new Error(f.detail);
  return f.ip;
}

function classifyCapture(file: string): ReturnType<typeof classifyProto112>[] {
  const { packets, error } = readCaptureSync(vec(file));
  expect(error).toBeUndefined();
  return packets.map((p) => classifyProto112(ipOf(p.linktype, p.data)));
}

describe("CARP vectors", () => {
  const json = { vectors: carpVectors };

  it("D1–D6 (json frames and the pcap) classify as CARP with the header fields", () => {
    const fromPcap = classifyCapture("carp-vectors.pcap");
    expect(fromPcap.length).toBe(json.vectors.length);
    json.vectors.forEach((v, i) => {
      const c = classifyProto112(ipOf(1, Buffer.from(v.frame, "hex")));
      if (c.kind !== "carp") throw new Error(`${v.name}: ${c.kind}`);
      expect(c.header.vhid).toBe(v.vhid);
      expect(c.header.advskew).toBe(v.advskew);
      expect(c.header.counter).toBe(Buffer.from(v.carp_header, "hex").readBigUInt64BE(8));
      expect(c.vrrpLookalike).toBeUndefined();
      expect(fromPcap[i]).toEqual(c);
    });
  });
});

describe("CARP negative vectors", () => {
  const neg = negativeVectors;
  const byName = (prefix: string) => {
    const n = neg.find((x) => x.name.startsWith(prefix));
    if (!n) throw new Error(prefix);
    return classifyProto112(ipOf(1, Buffer.from(n.frame, "hex")));
  };

  it("N1, N2, N4, N6, N7 are CARP to the demultiplexer (checksum/TTL/HMAC are receive's business)", () => {
    for (const n of ["N1", "N2", "N4", "N6", "N7"]) expect(byName(n).kind).toBe("carp");
  });

  it("N6 (authlen 5) is CARP but also an exact VRRPv2 message with 5 addresses: flagged as a lookalike", () => {
    const c = byName("N6");
    if (c.kind !== "carp") throw new Error(c.kind);
    expect(c.header.authlen).toBe(5);
    expect(c.vrrpLookalike).toMatchObject({ count: 5, checksumOk: true });
  });

  it("N3 (version 3) is a VRRPv3 message whose pseudo-header checksum fails, so not a valid advert", () => {
    const c = byName("N3");
    if (c.kind !== "vrrp") throw new Error(c.kind);
    expect(c.version).toBe(3);
    expect(c.valid).toBe(false);
    expect(c.problems.join()).toMatch(/checksum/);
  });

  it("N5 (CARP cut to 20 bytes) is badlen: too short for CARP and its 7 'addresses' are missing", () => {
    expect(byName("N5")).toMatchObject({ kind: "invalid", reason: "badlen" });
  });

  it("N8 (20-byte VRRPv2) is a valid VRRPv2 advert, not CARP", () => {
    const c = byName("N8");
    if (c.kind !== "vrrp") throw new Error(c.kind);
    expect(c).toMatchObject({ version: 2, valid: true });
    expect(c.vrrp).toMatchObject({ vrid: 1, priority: 100, addresses: ["192.0.2.254"] });
  });
});

describe("VRRP captures never classify as CARP", () => {
  it("tcpdump-vrrp.pcap: all 165 are valid VRRP adverts", () => {
    const cs = classifyCapture("tcpdump-vrrp.pcap");
    expect(cs.length).toBe(165);
    for (const c of cs) expect(c).toMatchObject({ kind: "vrrp", valid: true });
  });

  it("ndpi-vrrp3.pcapng and the PcapPlusPlus samples are valid VRRP of the right version", () => {
    expect(classifyCapture("ndpi-vrrp3.pcapng").map((c) => (c.kind === "vrrp" && c.valid ? c.version : c.kind))).toEqual(new Array(10).fill(3));
    expect(classifyCapture("pcapplusplus-vrrp-v2.pcap").map((c) => (c.kind === "vrrp" && c.valid ? c.version : c.kind))).toEqual([2]);
    expect(classifyCapture("pcapplusplus-vrrp-v3-ipv4.pcap").map((c) => (c.kind === "vrrp" && c.valid ? c.version : c.kind))).toEqual([3]);
    expect(classifyCapture("pcapplusplus-vrrp-v3-ipv6.pcap").map((c) => (c.kind === "vrrp" && c.valid ? c.version : c.kind))).toEqual([3]);
  });

  it("fuzzed oobr packets: rejected (Frame Relay) or never CARP / never a valid VRRPv3 advert", () => {
    const fr = readCaptureSync(vec("tcpdump-vrrp-oobr.pcap"));
    expect(fr.packets.length).toBe(3);
    for (const p of fr.packets) {
      expect(p.linktype).toBe(107);
      expect(parseFrame(p.linktype, p.data)).toMatchObject({ error: "unsupported-linktype" });
      // Even skipping the 4-byte Frame Relay header by hand, the IP inside must not pass as CARP.
      for (let skip = 0; skip < Math.min(8, p.data.length); skip++) {
        const ip = parseIp(p.data.subarray(skip));
        if ("error" in ip) continue;
        const c = classifyProto112(ip);
        expect(c.kind).not.toBe("carp");
        if (c.kind === "vrrp") expect(c.valid).toBe(false);
      }
    }
    const o2 = readCaptureSync(vec("tcpdump-vrrp-oobr-2.pcap"));
    expect(o2.packets.length).toBe(10);
    for (const p of o2.packets) {
      const f = parseFrame(p.linktype, p.data);
      if ("error" in f) continue;
      const c = classifyProto112(f.ip);
      expect(c.kind).not.toBe("carp");
      if (c.kind === "vrrp") expect(c.valid).toBe(false);
      // Ignore the fragment flag (they set MF) and classify the bytes anyway: still never CARP, never valid.
      const c2 = classifyProto112({ ...f.ip, fragment: false });
      expect(c2.kind).not.toBe("carp");
      if (c2.kind === "vrrp") expect(c2.valid).toBe(false);
    }
  });
});

describe("oobr-2 against tcpdump's -v output (where a careful parser must stop)", () => {
  it("IP length, VRRP header fields, and truncation of the address list agree with tcpdump", () => {
    const text = readFileSync(vectorPath("tcpdump-vrrp-oobr-2.out"), "utf8");
    const recs = text.split(/^(?=\s*\d+\s+\d{4}-)/m).filter((r) => r.trim()).map((r) => r.replace(/\s+/g, " "));
    const { packets } = readCaptureSync(vec("tcpdump-vrrp-oobr-2.pcap"));
    expect(recs.length).toBe(packets.length);
    packets.forEach((p, i) => {
      const r = recs[i];
      const f = parseFrame(p.linktype, p.data);
      if ("error" in f || f.ip.family !== 4) throw new Error(`packet ${i + 1}`);
      expect(f.ip.totalLength).toBe(Number(/length (\d+)/.exec(r)![1]));
      expect(f.ip.ttl).toBe(Number(/ttl (\d+)/.exec(r)![1]));
      expect(f.ip.checksumOk).toBe(!r.includes("bad cksum"));
      expect(f.ip).toMatchObject({ df: true, mf: true, reservedFlag: true, fragment: true }); // flags [+, DF, rsvd]
      const v3 = /VRRPv3, Advertisement, \(ttl \d+\), vrid (\d+), prio (\d+), intvl (\d+)cs, length (\d+)(.*)$/.exec(r);
      const c = classifyProto112({ ...f.ip, fragment: false });
      if (!v3) {
        expect(r).toContain("VRRPv15");
        expect(c).toMatchObject({ kind: "invalid", reason: "badver" });
        return;
      }
      expect(f.ip.payload.length).toBe(Number(v3[4]));
      const pl = f.ip.payload;
      expect([pl[1], pl[2], ((pl[4] & 15) << 8) | pl[5]]).toEqual([Number(v3[1]), Number(v3[2]), Number(v3[3])]);
      if (v3[5].includes("[|vrrp]")) expect(c).toMatchObject({ kind: "invalid", reason: "badlen" });
      else expect(c).toMatchObject({ kind: "vrrp", version: 3, valid: false });
    });
  });
});

describe("rule edges", () => {
  const v4 = (payload: Buffer, ttl = 255) => {
    const ip = parseIp(buildIpv4({ src: "198.51.100.1", dst: "224.0.0.18", proto: 112, payload, ttl }));
    if ("error" in ip) throw new Error(ip.detail);
    return ip;
  };

  it("a VRRPv2 advert with 7 addresses (44 bytes) is version 2 and >= 36 bytes: CARP to the kernels, flagged lookalike", () => {
    const addrs = Array.from({ length: 7 }, (_, i) => `198.51.100.${i + 10}`);
    const c = classifyProto112(v4(encodeVrrpV2({ vrid: 5, priority: 100, addresses: addrs })));
    if (c.kind !== "carp") throw new Error(c.kind);
    expect(c.vrrpLookalike).toMatchObject({ vrid: 5, count: 7 });
  });

  it("version 2 under 36 bytes over IPv6 is badlen (VRRPv2 is IPv4 only)", () => {
    const ip = parseIp(buildIpv6({ src: "fe80::1", dst: "ff02::12", nextHeader: 112, payload: encodeVrrpV2({ vrid: 1, priority: 1, addresses: ["198.51.100.1"] }) }));
    if ("error" in ip) throw new Error(ip.detail);
    expect(classifyProto112(ip)).toMatchObject({ kind: "invalid", reason: "badlen" });
  });

  it("VRRPv3 with TTL 64 decodes but is not valid; other versions are badver; other protocols are refused", () => {
    const c = classifyProto112(v4(encodeVrrpV3({ vrid: 1, priority: 1, addresses: ["198.51.100.9"], src: "198.51.100.1" }), 64));
    expect(c).toMatchObject({ kind: "vrrp", version: 3, valid: false });
    const p = Buffer.alloc(40);
    p[0] = 0x41;
    expect(classifyProto112(v4(p))).toMatchObject({ kind: "invalid", reason: "badver" });
    const udp = parseIp(buildIpv4({ src: "198.51.100.1", dst: "198.51.100.2", proto: 17, payload: p }));
    if ("error" in udp) throw new Error(udp.detail);
    expect(classifyProto112(udp)).toMatchObject({ kind: "invalid", reason: "notproto112" });
  });

  it("never throws on random payloads, and CARP exactly when version 2 and >= 36 bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, six) => {
        const payload = Buffer.from(bytes);
        const raw = six
          ? buildIpv6({ src: "fe80::1", dst: "ff02::12", nextHeader: 112, payload })
          : buildIpv4({ src: "198.51.100.1", dst: "224.0.0.18", proto: 112, payload });
        const ip = parseIp(raw);
        if ("error" in ip) throw new Error(ip.detail);
        const c = classifyProto112(ip);
        const isCarp = payload.length >= 36 && payload[0] >> 4 === 2;
        expect(c.kind === "carp").toBe(isCarp);
      }),
      { numRuns: 2000 },
    );
  });
});
