// pcap / pcapng reading (checked against tshark), streaming, truncation and the pcap writer (checked with tcpdump).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";

import {
  encodePcap,
  PcapWriter,
  readCapture,
  readCaptureSync,
  type CaptureError,
  type CapturePacket,
} from "../../src/protocol/pcap.js";

const VEC = fileURLToPath(new URL("../fixtures", import.meta.url));
const vec = (f: string): Buffer => readFileSync(path.join(VEC, f));
const tmp = mkdtempSync(path.join(tmpdir(), "carp-pcap-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const FILES: Array<[string, number]> = [
  ["carp-vectors.pcap", 6],
  ["carp-negative.pcap", 8],
  ["tcpdump-vrrp.pcap", 165],
  ["tcpdump-vrrp-oobr.pcap", 3],
  ["tcpdump-vrrp-oobr-2.pcap", 10],
  ["ndpi-vrrp3.pcapng", 10],
  ["pcapplusplus-vrrp-v2.pcap", 1],
  ["pcapplusplus-vrrp-v3-ipv4.pcap", 1],
  ["pcapplusplus-vrrp-v3-ipv6.pcap", 1],
];

/** tshark's view: epoch time, wire length, captured length, link type (as encapsulation number is not the DLT, skip). */
function tsharkFrames(file: string): Array<{ time: number; len: number; caplen: number; hex: string }> {
  const out = execFileSync("tshark", ["-r", file, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const rows = out.trim().split("\n").filter(Boolean);
  const hexOut = execFileSync("tcpdump", ["-r", file, "-xx", "-n"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const hex = hexOut.split(/\n(?=\S)/).map((blk) => blk.split("\n").slice(1).map((l) => l.replace(/^\s*0x[0-9a-f]+:\s*/, "").replace(/\s+/g, "")).join(""));
  return rows.map((r, i) => {
    const [t, l, c] = r.split("\t");
    return { time: Number(t), len: Number(l), caplen: Number(c), hex: hex[i] ?? "" };
  });
}

function mustRead(buf: Buffer): CapturePacket[] {
  const r = readCaptureSync(buf);
  if (r.error) throw new Error(r.error.detail);
  return r.packets;
}

describe("reading the vector captures", () => {
  it.each(FILES)("%s: %i packets, times, lengths and bytes as tshark/tcpdump see them", (file, count) => {
    const full = path.join(VEC, file);
    const pk = mustRead(readFileSync(full));
    expect(pk.length).toBe(count);
    const ref = tsharkFrames(full);
    expect(ref.length).toBe(count);
    pk.forEach((p, i) => {
      expect(p.origLen).toBe(ref[i].len);
      expect(p.data.length).toBe(ref[i].caplen);
      expect(Math.abs(p.time - ref[i].time)).toBeLessThan(2e-6);
      // tcpdump -xx stops at the IP length for fuzzed packets, so its dump is a prefix of the captured bytes.
      if (p.linktype !== 107) {
        expect(ref[i].hex.length).toBeGreaterThanOrEqual(Math.min(p.data.length * 2, 80));
        expect(p.data.toString("hex").startsWith(ref[i].hex)).toBe(true);
      }
    });
  });

  it("pcap caplen < origlen is kept (oobr-2 claims 262144 on the wire)", () => {
    const pk = mustRead(vec("tcpdump-vrrp-oobr-2.pcap"));
    expect(pk.every((p) => p.data.length === 54 && p.data.length < p.origLen)).toBe(true);
    expect(pk.filter((p) => p.origLen === 262144).length).toBe(3);
  });

  it("pcapng: link type and interface index from the IDB", () => {
    const pk = mustRead(vec("ndpi-vrrp3.pcapng"));
    expect(pk.every((p) => p.linktype === 1 && p.ifIndex === 0)).toBe(true);
  });
});

describe("formats converted by editcap", () => {
  const conv = (file: string, fmt: string): Buffer => {
    const out = path.join(tmp, `${file}.${fmt}`);
    execFileSync("editcap", ["-F", fmt, path.join(VEC, file), out], { stdio: "ignore" });
    return readFileSync(out);
  };

  it.each(["nsecpcap", "pcapng", "modpcap"])("tcpdump-vrrp.pcap as %s reads to the same packets", (fmt) => {
    const orig = mustRead(vec("tcpdump-vrrp.pcap"));
    const got = mustRead(conv("tcpdump-vrrp.pcap", fmt));
    expect(got.length).toBe(orig.length);
    got.forEach((p, i) => {
      expect(p.data.equals(orig[i].data)).toBe(true);
      expect(p.linktype).toBe(1);
      expect(Math.abs(p.time - orig[i].time)).toBeLessThan(1e-6);
    });
  });

  it("ndpi pcapng converted to pcap reads the same", () => {
    const a = mustRead(vec("ndpi-vrrp3.pcapng"));
    const b = mustRead(conv("ndpi-vrrp3.pcapng", "pcap"));
    expect(b.map((p) => p.data.toString("hex"))).toEqual(a.map((p) => p.data.toString("hex")));
    expect(b.map((p) => p.time.toFixed(6))).toEqual(a.map((p) => p.time.toFixed(6)));
  });
});

// Hand-built files for what the tools do not easily produce.
function swapPcapToBigEndian(le: Buffer): Buffer {
  const b = Buffer.from(le);
  b.writeUInt32BE(le.readUInt32LE(0), 0);
  b.writeUInt16BE(le.readUInt16LE(4), 4);
  b.writeUInt16BE(le.readUInt16LE(6), 6);
  for (const o of [8, 12, 16, 20]) b.writeUInt32BE(le.readUInt32LE(o), o);
  let off = 24;
  while (off < le.length) {
    for (let k = 0; k < 16; k += 4) b.writeUInt32BE(le.readUInt32LE(off + k), off + k);
    off += 16 + le.readUInt32LE(off + 8);
  }
  return b;
}

function ngBlock(le: boolean, type: number, body: Buffer): Buffer {
  const pad = (4 - (body.length % 4)) % 4;
  const len = 12 + body.length + pad;
  const b = Buffer.alloc(len);
  const w = (v: number, o: number) => (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
  w(type, 0);
  w(len, 4);
  body.copy(b, 8);
  w(len, len - 4);
  return b;
}

function ngFile(le: boolean, tsresol: number | null, packets: Array<{ ifIndex: number; ts: bigint; data: Buffer }>, extra: Buffer[] = []): Buffer {
  const u16 = (v: number) => { const b = Buffer.alloc(2); le ? b.writeUInt16LE(v) : b.writeUInt16BE(v); return b; };
  const u32 = (v: number) => { const b = Buffer.alloc(4); le ? b.writeUInt32LE(v) : b.writeUInt32BE(v); return b; };
  const shb = ngBlock(le, 0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d), u16(1), u16(0), Buffer.alloc(8, 0xff)]));
  const opts = tsresol === null ? Buffer.alloc(0) : Buffer.concat([u16(9), u16(1), Buffer.from([tsresol, 0, 0, 0]), u16(0), u16(0)]);
  const idb0 = ngBlock(le, 1, Buffer.concat([u16(1), u16(0), u32(0), opts]));
  const idb1 = ngBlock(le, 1, Buffer.concat([u16(101), u16(0), u32(0)])); // raw IP, default µs
  const epbs = packets.map((p) =>
    ngBlock(le, 6, Buffer.concat([u32(p.ifIndex), u32(Number(p.ts >> 32n)), u32(Number(p.ts & 0xffffffffn)), u32(p.data.length), u32(p.data.length + 100), p.data])),
  );
  return Buffer.concat([shb, idb0, ...extra, idb1, ...epbs]);
}

describe("hand-built variants", () => {
  const pk = mustRead(vec("carp-vectors.pcap"));

  it("big-endian µs pcap and little-endian ns pcap", () => {
    const le = encodePcap(pk, 1);
    const be = mustRead(swapPcapToBigEndian(le));
    expect(be.map((p) => p.data.toString("hex"))).toEqual(pk.map((p) => p.data.toString("hex")));
    expect(be.map((p) => p.time)).toEqual(pk.map((p) => p.time));
    const ns = mustRead(encodePcap([{ time: 1700000000.123456789, data: pk[0].data }], 1, { nanosecond: true }));
    expect(ns[0].time).toBeCloseTo(1700000000.123456789, 6);
    expect(mustRead(swapPcapToBigEndian(encodePcap([{ time: 5.5, data: pk[0].data }], 1, { nanosecond: true })))[0].time).toBe(5.5);
  });

  it.each([true, false])("pcapng little-endian=%s: two interfaces, tsresol 10^-9 and 2^-10, unknown blocks skipped", (le) => {
    const data = pk[0].data;
    const nsFile = ngFile(le, 9, [
      { ifIndex: 0, ts: 1700000000_123456789n, data },
      { ifIndex: 1, ts: 1700000001_000001n, data: data.subarray(14) },
    ], [ngBlock(le, 0x12345678, Buffer.from("unknown block body")), ngBlock(le, 5, Buffer.alloc(8))]);
    const got = mustRead(nsFile);
    expect(got.length).toBe(2);
    expect(got[0]).toMatchObject({ linktype: 1, ifIndex: 0, origLen: data.length + 100 });
    expect(got[0].time).toBeCloseTo(1700000000.123456789, 6);
    expect(got[1]).toMatchObject({ linktype: 101, ifIndex: 1 });
    expect(got[1].time).toBeCloseTo(1700000001.000001, 6);
    expect(got[1].data.equals(data.subarray(14))).toBe(true);
    const bin = mustRead(ngFile(le, 0x80 | 10, [{ ifIndex: 0, ts: 3n * 1024n + 512n, data }]));
    expect(bin[0].time).toBe(3.5);
  });

  it("pcapng if_tsoffset (option 14) shifts timestamps by whole seconds", () => {
    const data = pk[0].data;
    const plain = ngFile(true, null, [{ ifIndex: 0, ts: 2_500_000n, data }]);
    // Rebuild the first IDB with if_tsoffset = 1000 s.
    const opt = Buffer.alloc(16);
    opt.writeUInt16LE(14, 0);
    opt.writeUInt16LE(8, 2);
    opt.writeBigInt64LE(1000n, 4);
    const idb = ngBlock(true, 1, Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), opt]));
    const shbLen = plain.readUInt32LE(4);
    const idbLen = plain.readUInt32LE(shbLen + 4);
    const withOffset = Buffer.concat([plain.subarray(0, shbLen), idb, plain.subarray(shbLen + idbLen)]);
    expect(mustRead(plain)[0].time).toBe(2.5);
    expect(mustRead(withOffset)[0].time).toBe(1002.5);
  });

  it("pcapng simple packet block takes its length from the original length", () => {
    const le = true;
    const base = ngFile(le, null, []);
    const spbBody = Buffer.alloc(4 + 60);
    spbBody.writeUInt32LE(60, 0);
    spbBody.fill(0xab, 4);
    const got = mustRead(Buffer.concat([base, ngBlock(le, 3, spbBody)]));
    expect(got.length).toBe(1);
    expect(got[0]).toMatchObject({ linktype: 1, origLen: 60 });
    expect(got[0].data.length).toBe(60);
  });

  it("EPB for an undeclared interface, bad magic and bad block lengths are error values", () => {
    const data = pk[0].data;
    expect(readCaptureSync(ngFile(true, null, [{ ifIndex: 7, ts: 0n, data }])).error).toMatchObject({ error: "badblock", packetsRead: 0 });
    expect(readCaptureSync(Buffer.from("this is not a capture file at all")).error).toMatchObject({ error: "badmagic" });
    const bad = ngFile(true, null, [{ ifIndex: 0, ts: 0n, data }]);
    bad.writeUInt32LE(13, 4); // SHB length not a multiple of 4
    expect(readCaptureSync(bad).error).toMatchObject({ error: "badblock" });
    expect(readCaptureSync(Buffer.alloc(0)).error).toMatchObject({ error: "truncated", packetsRead: 0 });
  });
});

describe("truncation and garbage", () => {
  it.each(["tcpdump-vrrp.pcap", "ndpi-vrrp3.pcapng"])("%s cut at every record boundary region: complete packets, then a truncated error", (file) => {
    const buf = vec(file);
    const all = mustRead(buf);
    const step = file.endsWith("ng") ? 1 : 7;
    // Record boundaries: a cut exactly there is a complete, shorter file.
    const boundaries = new Set<number>();
    for (let n = 0; n <= all.length; n++) boundaries.add(buf.length - all.slice(n).reduce((a, p) => a + (file.endsWith("ng") ? 0 : 16 + p.data.length), 0));
    let errors = 0;
    for (let cut = 0; cut < buf.length; cut += step) {
      const r = readCaptureSync(buf.subarray(0, cut));
      r.packets.forEach((p, i) => expect(p.data.equals(all[i].data)).toBe(true));
      if (!r.error) {
        if (!file.endsWith("ng")) expect(boundaries.has(cut)).toBe(true);
        continue;
      }
      errors++;
      expect(r.error.error).toBe("truncated");
      expect(r.error.packetsRead).toBe(r.packets.length);
      expect(r.error.detail).toMatch(new RegExp(`${r.packets.length} packet`));
    }
    expect(errors).toBeGreaterThan(buf.length / step / 2);
  });

  it("random bytes and random mutations of real files never throw", () => {
    const seeds = [vec("tcpdump-vrrp.pcap").subarray(0, 600), vec("ndpi-vrrp3.pcapng")];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(1), fc.array(fc.tuple(fc.nat(2000), fc.nat(255)), { maxLength: 8 }), (junk, which, muts) => {
        readCaptureSync(Buffer.from(junk));
        const m = Buffer.from(seeds[which]);
        for (const [o, v] of muts) m[o % m.length] = v;
        const r = readCaptureSync(m);
        for (const p of r.packets) expect(p.data.length).toBeLessThanOrEqual(m.length);
      }),
      { numRuns: 1500 },
    );
  });
});

async function collect(it: AsyncIterable<CapturePacket | CaptureError>): Promise<{ packets: CapturePacket[]; errors: CaptureError[] }> {
  const packets: CapturePacket[] = [];
  const errors: CaptureError[] = [];
  for await (const x of it) ("error" in x ? errors : packets).push(x as never);
  return { packets, errors };
}

describe("streaming", () => {
  it("from a path gives the same packets as the sync reader", async () => {
    for (const [file] of FILES) {
      const { packets, errors } = await collect(readCapture(path.join(VEC, file)));
      expect(errors).toEqual([]);
      const sync = mustRead(vec(file));
      expect(packets.map((p) => p.data.toString("hex"))).toEqual(sync.map((p) => p.data.toString("hex")));
    }
  });

  it("from a Readable delivering random-sized chunks (like stdin)", async () => {
    const buf = vec("ndpi-vrrp3.pcapng");
    const sync = mustRead(buf);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 30 }), async (sizes) => {
        const chunks: Buffer[] = [];
        for (let o = 0, i = 0; o < buf.length; i++) {
          const n = sizes[i % sizes.length];
          chunks.push(Buffer.from(buf.subarray(o, o + n)));
          o += n;
        }
        const { packets, errors } = await collect(readCapture(Readable.from(chunks)));
        expect(errors).toEqual([]);
        expect(packets.map((p) => p.time)).toEqual(sync.map((p) => p.time));
        expect(packets.map((p) => p.data.toString("hex"))).toEqual(sync.map((p) => p.data.toString("hex")));
      }),
      { numRuns: 60 },
    );
  });

  it("a truncated stream yields the complete packets, then one error saying how many were read", async () => {
    const buf = vec("tcpdump-vrrp.pcap");
    const cut = buf.subarray(0, 1000);
    const { packets, errors } = await collect(readCapture(Readable.from([cut])));
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatchObject({ error: "truncated", packetsRead: packets.length });
    expect(packets.length).toBe(readCaptureSync(cut).packets.length);
    expect(packets.length).toBeGreaterThan(5);
  });

  it("a missing file is an io error value, not an exception", async () => {
    const { errors } = await collect(readCapture(path.join(tmp, "nope.pcap")));
    expect(errors[0]).toMatchObject({ error: "io", packetsRead: 0 });
  });

  it("large input streams: the first packets arrive after one chunk, not after the whole input", async () => {
    const frame = vec("carp-vectors.pcap").subarray(24 + 16, 24 + 16 + 70);
    const rec = encodePcap([{ time: 1, data: frame }], 1).subarray(24);
    const perChunk = 1000;
    const chunkCount = 400; // 400 × 86 kB ≈ 34 MB, produced lazily
    let pulled = 0;
    let pulledAtFirst = -1;
    async function* source(): AsyncGenerator<Buffer> {
      yield encodePcap([], 1);
      const chunk = Buffer.concat(new Array<Buffer>(perChunk).fill(rec));
      for (let i = 0; i < chunkCount; i++) {
        pulled++;
        yield chunk;
      }
    }
    let count = 0;
    for await (const x of readCapture(Readable.from(source()))) {
      if ("error" in x) throw new Error(x.detail);
      if (count++ === 0) pulledAtFirst = pulled;
    }
    expect(count).toBe(perChunk * chunkCount);
    expect(pulledAtFirst).toBeLessThanOrEqual(2);

    // From a path: breaking out after the first packet stops reading (and closes the file).
    const big = path.join(tmp, "big.pcap");
    writeFileSync(big, Buffer.concat([encodePcap([], 1), ...new Array<Buffer>(50_000).fill(rec)]));
    let first: CapturePacket | CaptureError | undefined;
    for await (const x of readCapture(big)) {
      first = x;
      break;
    }
    expect(first).toMatchObject({ linktype: 1, origLen: 70 });
  });
});

describe("writer", () => {
  it("PcapWriter (µs and ns) to a path is read back by tcpdump with the same packets and times", async () => {
    const pk = mustRead(vec("tcpdump-vrrp.pcap")).slice(0, 20);
    for (const nanosecond of [false, true]) {
      const file = path.join(tmp, `w-${nanosecond}.pcap`);
      const w = new PcapWriter(file, { linktype: 1, nanosecond });
      for (const p of pk) w.write(p);
      await w.close();
      const tcpd = execFileSync("tcpdump", ["-n", "-tt", ...(nanosecond ? ["--nano"] : []), "-r", file], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
      const lines = tcpd.trim().split("\n");
      expect(lines.length).toBe(pk.length);
      const ref = execFileSync("tcpdump", ["-n", "-tt", "-r", path.join(VEC, "tcpdump-vrrp.pcap"), "-c", "20"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim().split("\n");
      lines.forEach((l, i) => {
        const strip = (s: string) => s.replace(/^\d+\.\d+ /, "");
        expect(strip(l)).toBe(strip(ref[i]));
        expect(Number(l.split(" ")[0])).toBeCloseTo(Number(ref[i].split(" ")[0]), 6);
      });
      const back = mustRead(readFileSync(file));
      expect(back.map((p) => p.data.toString("hex"))).toEqual(pk.map((p) => p.data.toString("hex")));
    }
  });

  it("PcapWriter to a stream does not end the stream; origLen is kept", async () => {
    const s = new PassThrough();
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    const w = new PcapWriter(s, { linktype: 101 });
    w.write({ time: 10.25, data: Buffer.from([0x45, 0, 0, 20]), origLen: 1500 });
    await w.close();
    expect(s.writableEnded).toBe(false);
    const got = mustRead(Buffer.concat(chunks));
    expect(got).toEqual([{ time: 10.25, linktype: 101, data: Buffer.from([0x45, 0, 0, 20]), origLen: 1500 }]);
  });
});
