// Addresses (RFC 5952 text) and the IPv4/IPv6 parsers and builders.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";

import {
  canonicalIp,
  compareIp,
  formatIpv6,
  inPrefix,
  ipToBytes,
  isLinkLocal,
  isMulticast,
  parseIp as parseAddr,
  parsePrefix,
} from "../../src/protocol/addr.js";
import { buildIpv4, buildIpv6, ipChecksum, parseIp, parseIpv4, parseIpv6, pseudoChecksum } from "../../src/protocol/ip.js";
import { PcapWriter } from "../../src/protocol/pcap.js";
import { carpVectors } from "../helpers/vectors.js";

const tmp = mkdtempSync(path.join(tmpdir(), "carp-ip-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("addresses", () => {
  it("RFC 5952 canonical text", () => {
    const cases: Array<[string, string]> = [
      ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group is not shortened
      ["2001:DB8::AbCd", "2001:db8::abcd"],
      ["0:0:0:0:0:0:0:0", "::"],
      ["0:0:0:0:0:0:0:1", "::1"],
      ["fe80:0:0:0:0:0:0:0", "fe80::"],
      ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // longest run wins
      ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
      ["::192.0.2.1", "::c000:201"],
      ["64:ff9b::198.51.100.7", "64:ff9b::c633:6407"],
      ["FF02::12", "ff02::12"],
      ["198.51.100.5", "198.51.100.5"],
    ];
    for (const [i, o] of cases) expect(canonicalIp(i)).toBe(o);
  });

  it("rejects junk and keeps zones", () => {
    for (const bad of ["", "1.2.3", "1.2.3.256", "01.2.3.4x", "2001:db8::1::2", "2001:db8:1:2:3:4:5:6:7", "gggg::", "1.2.3.4/24", "fe80::1%"]) {
      expect("error" in parseAddr(bad)).toBe(true);
    }
    expect(parseAddr("fe80::1%eth0")).toMatchObject({ family: 6, text: "fe80::1", zone: "eth0" });
  });

  it("text -> bytes -> text round-trips for random addresses (checked against Node's URL host parser)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 8 }), (raw, zeros) => {
        const b = Buffer.from(raw);
        b.fill(0, 2 * Math.min(zeros, 3), 2 * Math.min(zeros * 2, 8)); // make zero runs likely
        const t = formatIpv6(b);
        expect(ipToBytes(t)!.equals(b)).toBe(true);
        // WHATWG URL serialises IPv6 hosts with the same compression rules (but no IPv4-mapped form).
        if (!t.includes(".")) expect(new URL(`http://[${t}]/`).hostname).toBe(`[${t}]`);
      }),
      { numRuns: 1000 },
    );
  });

  it("compare, multicast, link-local, prefixes", () => {
    expect(["198.51.100.10", "2001:db8::1", "198.51.100.9", "10.0.0.1", "::1"].sort(compareIp)).toEqual(["10.0.0.1", "198.51.100.9", "198.51.100.10", "::1", "2001:db8::1"]);
    expect(compareIp("2001:db8::1", "2001:0db8::0001")).toBe(0);
    expect(isMulticast("224.0.0.18") && isMulticast("239.255.255.255") && isMulticast("ff02::12")).toBe(true);
    expect(isMulticast("223.255.255.255") || isMulticast("fe80::1") || isMulticast("nonsense")).toBe(false);
    expect(isLinkLocal("169.254.1.1") && isLinkLocal("fe80::1") && isLinkLocal("febf::1") && isLinkLocal("ff02::1")).toBe(true);
    expect(isLinkLocal("fec0::1") || isLinkLocal("198.51.100.1") || isLinkLocal("ff05::1")).toBe(false);
    expect(parsePrefix("198.51.100.5/24")).toMatchObject({ family: 4, text: "198.51.100.5", prefixLen: 24 });
    expect(parsePrefix("2001:DB8::5/64")).toMatchObject({ family: 6, text: "2001:db8::5", prefixLen: 64 });
    expect(parsePrefix("203.0.113.7")).toMatchObject({ prefixLen: 32 });
    for (const bad of ["198.51.100.5/33", "2001:db8::/129", "198.51.100.5/", "198.51.100.5/-1", "x/24"]) expect("error" in parsePrefix(bad)).toBe(true);
    expect(inPrefix("198.51.100.77", "198.51.100.0", 24)).toBe(true);
    expect(inPrefix("198.51.101.77", "198.51.100.0", 23)).toBe(true);
    expect(inPrefix("198.51.102.77", "198.51.100.0", 23)).toBe(false);
    expect(inPrefix("2001:db8::1", "198.51.100.0", 0)).toBe(false);
  });
});

describe("IPv4", () => {
  const vectors = { vectors: carpVectors };

  it("buildIpv4 reproduces the IPv4 headers of the CARP vectors byte for byte (TOS 0x10, DF, TTL 255, id)", () => {
    for (const v of vectors.vectors.filter((x) => !x.src.includes(":"))) {
      const frame = Buffer.from(v.frame, "hex");
      const ip = parseIpv4(frame.subarray(14));
      if ("error" in ip) throw new Error(ip.detail);
      expect(ip).toMatchObject({ tos: 0x10, df: true, ttl: 255, proto: 112, checksumOk: true, dst: "224.0.0.18", src: v.src, headerLength: 20, totalLength: 56, truncated: false });
      const built = buildIpv4({ src: v.src, dst: "224.0.0.18", proto: 112, tos: 0x10, id: ip.id, payload: Buffer.from(v.carp_header, "hex") });
      expect(built.toString("hex")).toBe(frame.subarray(14).toString("hex"));
    }
  });

  it("options, checksum flag, length vs captured bytes, fragments", () => {
    const payload = Buffer.from("0123456789");
    const p = buildIpv4({ src: "198.51.100.1", dst: "198.51.100.2", proto: 112, payload, options: Buffer.from([0x94, 4, 0, 0]), df: false, ttl: 7, id: 0xbeef });
    const ip = parseIpv4(p);
    if ("error" in ip) throw new Error(ip.detail);
    expect(ip).toMatchObject({ headerLength: 24, df: false, ttl: 7, id: 0xbeef, checksumOk: true, fragment: false });
    expect(ip.options.toString("hex")).toBe("94040000");
    expect(ip.payload.equals(payload)).toBe(true);
    // Trailing link padding is not payload.
    const padded = parseIpv4(Buffer.concat([p, Buffer.alloc(12)]));
    expect(!("error" in padded) && padded.payload.length).toBe(10);
    // Captured bytes shorter than the total length: truncated, payload is what there is.
    const cut = parseIpv4(p.subarray(0, 28));
    expect(cut).toMatchObject({ truncated: true, payloadLength: 10 });
    expect(!("error" in cut) && cut.payload.length).toBe(4);
    const bad = Buffer.from(p);
    bad[8] = 6; // TTL changed, checksum not
    expect(parseIpv4(bad)).toMatchObject({ checksumOk: false });
    const frag = Buffer.from(p);
    frag.writeUInt16BE(0x2000, 6);
    expect(parseIpv4(frag)).toMatchObject({ mf: true, fragment: true });
    expect(parseIpv4(p.subarray(0, 19))).toMatchObject({ error: "truncated" });
    expect(parseIpv4(p.subarray(0, 22))).toMatchObject({ error: "truncated" }); // inside the options
    const ihl = Buffer.from(p);
    ihl[0] = 0x44;
    expect(parseIpv4(ihl)).toMatchObject({ error: "badhdrlen" });
    const tl = Buffer.from(p);
    tl.writeUInt16BE(10, 2);
    expect(parseIpv4(tl)).toMatchObject({ error: "badlen" });
    expect(parseIp(Buffer.from([0x55, 0, 0, 0]))).toMatchObject({ error: "badversion" });
  });

  it("tcpdump reads what buildIpv4/buildIpv6 make (raw-IP pcap)", async () => {
    const file = path.join(tmp, "raw.pcap");
    const w = new PcapWriter(file, { linktype: 101 });
    w.write({ time: 1, data: buildIpv4({ src: "198.51.100.1", dst: "224.0.0.18", proto: 112, tos: 0xe0, id: 4660, payload: Buffer.alloc(36) }) });
    w.write({ time: 2, data: buildIpv6({ src: "fe80::1", dst: "ff02::12", nextHeader: 112, trafficClass: 0xe0, flowLabel: 0x12345, payload: Buffer.alloc(36) }) });
    await w.close();
    const out = execFileSync("tcpdump", ["-n", "-v", "-r", file], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    expect(out).toContain("(tos 0xe0, ttl 255, id 4660, offset 0, flags [DF], proto VRRP (112), length 56)");
    expect(out).not.toContain("bad cksum");
    expect(out).toMatch(/IP6 \(class 0xe0, flowlabel 0x12345, hlim 255, next-header VRRP \(112\),? payload length:? 36\) fe80::1 > ff02::12/);
  });

  it("ipChecksum and pseudoChecksum agree with an independent sum", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (raw) => {
        const b = Buffer.from(raw);
        let s = 0;
        for (let i = 0; i < b.length; i += 2) s += (b[i] << 8) + (i + 1 < b.length ? b[i + 1] : 0);
        while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
        expect(ipChecksum(b)).toBe(~s & 0xffff);
        const src = Buffer.from([198, 51, 100, 1]);
        const dst = Buffer.from([224, 0, 0, 18]);
        const ph = Buffer.from([...src, ...dst, 0, 112, b.length >> 8, b.length & 0xff]);
        expect(pseudoChecksum(src, dst, 112, b)).toBe(ipChecksum(Buffer.concat([ph, b.length % 2 ? Buffer.concat([b, Buffer.alloc(1)]) : b])));
      }),
    );
  });
});

describe("IPv6", () => {
  const ext = (next: number, lenUnits: number, fill = 0): Buffer => {
    const b = Buffer.alloc((lenUnits + 1) * 8, fill);
    b[0] = next;
    b[1] = lenUnits;
    return b;
  };
  const carp = Buffer.alloc(36, 0x21);

  it("walks hop-by-hop, destination options, routing and fragment headers to protocol 112", () => {
    const frag = Buffer.alloc(8);
    frag[0] = 112;
    frag.writeUInt32BE(0xabcdef01, 4);
    const chain = Buffer.concat([ext(60, 0), ext(43, 1), ext(44, 0), frag, carp]);
    const p = buildIpv6({ src: "2001:db8::1", dst: "ff02::12", nextHeader: 0, hopLimit: 255, payload: chain });
    const ip = parseIpv6(p);
    if ("error" in ip) throw new Error(ip.detail);
    expect(ip).toMatchObject({ proto: 112, nextHeader: 0, extHeaders: [0, 60, 43, 44], fragment: false, hopLimit: 255, ttl: 255, src: "2001:db8::1", dst: "ff02::12" });
    expect(ip.payload.equals(carp)).toBe(true);
    expect(ip.payloadLength).toBe(36);
  });

  it("a non-first fragment stops the walk; truncated and misplaced extension headers are errors", () => {
    const frag = Buffer.alloc(8);
    frag[0] = 112;
    frag.writeUInt16BE(0x0010, 2);
    const ip = parseIpv6(buildIpv6({ src: "2001:db8::1", dst: "2001:db8::2", nextHeader: 44, payload: Buffer.concat([frag, carp]) }));
    expect(ip).toMatchObject({ fragment: true, fragOffset: 16 });
    const hbh = buildIpv6({ src: "2001:db8::1", dst: "2001:db8::2", nextHeader: 0, payload: Buffer.concat([ext(112, 3), carp]) });
    expect(parseIpv6(hbh.subarray(0, 40 + 16))).toMatchObject({ error: "truncated" });
    const lying = Buffer.from(hbh);
    lying.writeUInt16BE(20, 4); // payload length covers less than the extension header
    expect(parseIpv6(lying)).toMatchObject({ error: "truncated" });
    const late = buildIpv6({ src: "2001:db8::1", dst: "2001:db8::2", nextHeader: 60, payload: Buffer.concat([ext(0, 0), ext(112, 0), carp]) });
    expect(parseIpv6(late)).toMatchObject({ error: "badext" });
    expect(parseIpv6(hbh.subarray(0, 39))).toMatchObject({ error: "truncated" });
  });

  it("random bytes never throw and payloads stay inside the input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), fc.boolean(), (raw, six) => {
        const b = Buffer.from(raw);
        if (b.length) b[0] = (b[0] & 0x0f) | (six ? 0x60 : 0x40);
        const r = parseIp(b);
        if ("error" in r) return;
        expect(r.payload.buffer).toBe(b.buffer);
        expect(r.payload.byteOffset + r.payload.length).toBeLessThanOrEqual(b.byteOffset + b.length);
      }),
      { numRuns: 3000 },
    );
  });
});
