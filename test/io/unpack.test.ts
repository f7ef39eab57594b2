// The batch layouts shared with the addon (native/io/raw_socket.cc, capture.cc), decoded without it.
import { endianness } from "node:os";
import { describe, expect, it } from "vitest";

import { PacketBatch, unpackBatch } from "../../src/host/rawsock.js";
import { FrameBatch, unpackFrames } from "../../src/host/capture.js";

const le = endianness() === "LE";
const u32 = (b: Buffer, v: number, at: number): void => void (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
const i32 = (b: Buffer, v: number, at: number): void => void (le ? b.writeInt32LE(v, at) : b.writeInt32BE(v, at));
const f64 = (b: Buffer, v: number, at: number): void => void (le ? b.writeDoubleLE(v, at) : b.writeDoubleBE(v, at));

interface Rec {
  off: number;
  len: number;
  ttl: number;
  ifindex: number;
  time: number;
  family: 4 | 6;
  trunc?: boolean;
  src: number[];
  dst: number[];
}

function packetMeta(recs: Rec[], shift = 0): Buffer {
  const backing = Buffer.alloc(recs.length * 64 + shift);
  const m = backing.subarray(shift);
  recs.forEach((r, i) => {
    const o = i * 64;
    u32(m, r.off, o);
    u32(m, r.len, o + 4);
    i32(m, r.ttl, o + 8);
    u32(m, r.ifindex, o + 12);
    f64(m, r.time, o + 16);
    m[o + 24] = r.family;
    m[o + 25] = r.trunc ? 1 : 0;
    m.set(r.src, o + 32);
    m.set(r.dst, o + 48);
  });
  return m;
}

describe("unpackBatch", () => {
  const data = Buffer.from("aabbccddeeff0011", "hex");
  const v4 = (a: number, b: number, c: number, d: number): number[] => [a, b, c, d];
  const recs: Rec[] = [
    { off: 0, len: 3, ttl: 255, ifindex: 2, time: 1700000000123.5, family: 4, src: v4(198, 51, 100, 1), dst: v4(224, 0, 0, 18) },
    { off: 3, len: 2, ttl: 64, ifindex: 2, time: 1700000000124.25, family: 4, src: v4(198, 51, 100, 1), dst: v4(224, 0, 0, 18) },
    { off: 5, len: 3, ttl: -1, ifindex: 3, time: 1, family: 4, trunc: true, src: v4(203, 0, 113, 9), dst: v4(198, 51, 100, 2) },
  ];
  const want = [
    { data: "aabbcc", src: "198.51.100.1", dst: "224.0.0.18", ttl: 255, ifindex: 2, time: 1700000000123.5, family: 4, truncated: false },
    { data: "ddee", src: "198.51.100.1", dst: "224.0.0.18", ttl: 64, ifindex: 2, time: 1700000000124.25, family: 4, truncated: false },
    { data: "ff0011", src: "203.0.113.9", dst: "198.51.100.2", ttl: -1, ifindex: 3, time: 1, family: 4, truncated: true },
  ];
  const hexed = (m: Buffer): unknown[] => unpackBatch(data, m, recs.length).map((p) => ({ ...p, data: p.data.toString("hex") }));

  it("decodes aligned records, noticing address changes between records", () => {
    expect(hexed(packetMeta(recs))).toEqual(want);
  });

  it("decodes unaligned records the same way (fallback path)", () => {
    const m = packetMeta(recs, 3);
    expect(m.byteOffset % 8).not.toBe(0);
    expect(hexed(m)).toEqual(want);
  });

  it("formats IPv6 addresses canonically", () => {
    const src = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const dst = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
    const [p] = unpackBatch(data, packetMeta([{ off: 0, len: 8, ttl: 255, ifindex: 4, time: 5, family: 6, src, dst }]), 1);
    expect(p).toMatchObject({ src: "fe80::1", dst: "ff02::12", family: 6, ttl: 255 });
    expect(p.data.equals(data)).toBe(true);
  });
});

describe("unpackFrames", () => {
  it("decodes offsets, lengths and times, aligned or not", () => {
    const data = Buffer.from("0102030405", "hex");
    for (const shift of [0, 4]) {
      const m = Buffer.alloc(48 + shift).subarray(shift);
      u32(m, 0, 0);
      u32(m, 2, 4);
      u32(m, 60, 8);
      f64(m, 1234.5, 16);
      u32(m, 2, 24);
      u32(m, 3, 28);
      u32(m, 3, 32);
      f64(m, 1235.25, 40);
      const got = unpackFrames(data, m, 2, 1).map((f) => ({ ...f, data: f.data.toString("hex") }));
      expect(got).toEqual([
        { time: 1234.5, linktype: 1, data: "0102", origLen: 60 },
        { time: 1235.25, linktype: 1, data: "030405", origLen: 3 },
      ]);
    }
  });
});

describe("PacketBatch", () => {
  const data = Buffer.from("aabbccddeeff0011", "hex");
  const recs: Rec[] = [
    { off: 0, len: 3, ttl: 255, ifindex: 2, time: 1700000000123.5, family: 4, src: [198, 51, 100, 1], dst: [224, 0, 0, 18] },
    { off: 3, len: 5, ttl: 64, ifindex: 7, time: 2.25, family: 6, trunc: true, src: [0xfe, 0x80, ...Array(13).fill(0), 1], dst: [0xff, 0x02, ...Array(13).fill(0), 0x12] },
  ];

  it.each([0, 3])("accessors, get(), the iterator and toArray() agree with unpackBatch (meta shifted by %i)", (shift) => {
    const meta = packetMeta(recs, shift);
    const b = new PacketBatch(data, meta, 2);
    const want = unpackBatch(data, meta, 2);
    expect(b.length).toBe(2);
    expect(b.lent).toBe(false);
    expect([b.payloadLength(0), b.payloadLength(1)]).toEqual([3, 5]);
    expect(b.payload(1).toString("hex")).toBe("ddeeff0011");
    expect([b.ttl(1), b.ifindex(1), b.time(1), b.family(1), b.truncated(1)]).toEqual([64, 7, 2.25, 6, true]);
    expect([b.src(1), b.dst(1)]).toEqual(["fe80::1", "ff02::12"]);
    expect([b.get(0), b.get(1)]).toEqual(want);
    expect([...b]).toEqual(want);
    expect(b.toArray()).toEqual(want);
    expect(() => b.get(2)).toThrow(RangeError);
    expect(() => new PacketBatch(data, meta, 3)).toThrow(RangeError);
  });

  it("copy() owns its bytes: later changes to the original do not show", () => {
    const meta = packetMeta(recs);
    const d = Buffer.from(data);
    const b = new PacketBatch(d, meta, 2, true);
    const c = b.copy();
    d.fill(0);
    meta.fill(0);
    expect(c.lent).toBe(false);
    expect(c.payload(0).toString("hex")).toBe("aabbcc");
    expect(c.get(1)).toMatchObject({ src: "fe80::1", ttl: 64, ifindex: 7, truncated: true });
  });
});

describe("FrameBatch", () => {
  it("accessors, get(), the iterator, toArray() and copy() agree with unpackFrames", () => {
    const data = Buffer.from("0102030405", "hex");
    const m = Buffer.alloc(48);
    u32(m, 0, 0);
    u32(m, 2, 4);
    u32(m, 60, 8);
    f64(m, 1234.5, 16);
    u32(m, 2, 24);
    u32(m, 3, 28);
    u32(m, 3, 32);
    f64(m, 1235.25, 40);
    const b = new FrameBatch(data, m, 2, 1, true);
    const want = unpackFrames(data, m, 2, 1);
    expect([b.capturedLength(0), b.origLen(0), b.time(1), b.frame(1).toString("hex")]).toEqual([2, 60, 1235.25, "030405"]);
    expect([...b]).toEqual(want);
    expect(b.toArray()).toEqual(want);
    expect(() => b.get(-1)).toThrow(RangeError);
    const c = b.copy();
    data.fill(0);
    expect(c.lent).toBe(false);
    expect(c.get(1)).toEqual({ time: 1235.25, linktype: 1, data: Buffer.from("030405", "hex"), origLen: 3 });
  });
});
