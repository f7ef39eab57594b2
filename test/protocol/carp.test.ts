import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CARP_HEADER_LEN,
  carpChecksumOk,
  carpFinishChecksum,
  decodeCarp,
  encodeCarp,
} from "../../src/protocol/carp.js";
import { inetChecksum, inetSum } from "../../src/protocol/checksum.js";

describe("inetChecksum", () => {
  it("RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2", () => {
    const b = Buffer.from("0001f203f4f5f6f7", "hex");
    expect(inetSum(b)).toBe(0xddf2);
    expect(inetChecksum(b)).toBe(0x220d);
  });
  it("odd length pads the last byte as the high half", () => {
    expect(inetSum(Buffer.from([0x12, 0x34, 0x56]))).toBe(0x1234 + 0x5600);
  });
  it("ranges and an initial (pseudo-header) sum chain like one buffer", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(100), (d, cut) => {
        const split = Math.min(d.length, cut * 2);
        const whole = inetChecksum(d);
        expect(inetChecksum(d, split, d.length, inetSum(d, 0, split))).toBe(whole);
      }),
    );
  });
  it("a buffer with its checksum written in verifies to 0", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 100 }), (d) => {
        const b = Buffer.from(d);
        b[0] = 0;
        b[1] = 0;
        b.writeUInt16BE(inetChecksum(b), 0);
        expect(inetChecksum(b)).toBe(0);
      }),
    );
  });
  it("clamps a range past the end", () => {
    expect(inetSum(Buffer.from([1, 2]), 0, 100)).toBe(0x0102);
  });
});

const header = fc.record({
  version: fc.nat(15),
  type: fc.nat(15),
  vhid: fc.nat(255),
  advskew: fc.nat(255),
  authlen: fc.nat(255),
  demote: fc.nat(255),
  advbase: fc.nat(255),
  counter: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  hmac: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((a) => Buffer.from(a)),
});

describe("decodeCarp / encodeCarp", () => {
  it("decode never throws on random bytes and offsets", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: -5, max: 90 }), (d, off) => {
        const r = decodeCarp(Buffer.from(d), off);
        if (off >= 0 && d.length - off >= 36) expect("error" in r).toBe(false);
        else expect(r).toEqual({ error: "badlen" });
      }),
    );
  });
  it("encode then decode round-trips every field, and the checksum verifies", () => {
    fc.assert(
      fc.property(header, fc.nat(20), (h, off) => {
        const out = Buffer.alloc(off + 40, 0xee);
        encodeCarp(h, out, off);
        expect(out[off + 36]).toBe(0xee); // writes exactly 36 bytes
        if (off > 0) expect(out[off - 1]).toBe(0xee);
        expect(carpChecksumOk(out, off)).toBe(true);
        const d = decodeCarp(out, off);
        if ("error" in d) throw new Error("badlen");
        const { checksum, ...rest } = d;
        expect(rest).toEqual(h);
        expect(checksum).toBe(out.readUInt16BE(off + 6));
      }),
    );
  });
  it("decode then encode reproduces any 36 bytes whose checksum is right", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 36, maxLength: 36 }), (d) => {
        const b = Buffer.from(d);
        carpFinishChecksum(b);
        const h = decodeCarp(b);
        if ("error" in h) throw new Error("badlen");
        expect(encodeCarp(h)).toEqual(b);
      }),
    );
  });
  it("defaults: 0x21, authlen 7, demote 0", () => {
    const b = encodeCarp({ vhid: 3, advskew: 10, advbase: 1, counter: 1n, hmac: Buffer.alloc(20) });
    expect(b.subarray(0, 6).toString("hex")).toBe("2103" + "0a" + "07" + "00" + "01");
    expect(b.length).toBe(CARP_HEADER_LEN);
  });
  it("decode copies the HMAC and ignores trailing bytes", () => {
    const b = encodeCarp({ vhid: 1, advskew: 0, advbase: 1, counter: 9n, hmac: Buffer.alloc(20, 7) });
    const longer = Buffer.concat([b, Buffer.from([1, 2, 3])]);
    const d = decodeCarp(longer);
    if ("error" in d) throw new Error("badlen");
    longer[16] = 0;
    expect(d.hmac[0]).toBe(7);
    expect(decodeCarp(b.subarray(0, 35))).toEqual({ error: "badlen" });
  });
  it("carpChecksumOk is false for short or corrupted input", () => {
    const b = encodeCarp({ vhid: 1, advskew: 0, advbase: 1, counter: 9n, hmac: Buffer.alloc(20, 7) });
    expect(carpChecksumOk(b.subarray(0, 30))).toBe(false);
    b[20] ^= 1;
    expect(carpChecksumOk(b)).toBe(false);
  });
  it("encode refuses a wrong HMAC length or a short buffer with RangeError", () => {
    expect(() => encodeCarp({ vhid: 1, advskew: 0, advbase: 1, counter: 0n, hmac: Buffer.alloc(19) })).toThrow(RangeError);
    expect(() => encodeCarp({ vhid: 1, advskew: 0, advbase: 1, counter: 0n, hmac: Buffer.alloc(20) }, Buffer.alloc(30))).toThrow(RangeError);
  });
});
