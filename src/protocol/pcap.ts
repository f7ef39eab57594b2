// Capture files: pcap (both byte orders, µs and ns, and the old "modified" record format) and pcapng (SHB of either endianness, IDB with if_tsresol
// and if_tsoffset, EPB, SPB, OPB; unknown blocks skipped; several interfaces and sections). One incremental
// parser serves the whole-buffer API and the streaming API, so large files are never read whole.
// Malformed or truncated input never throws: the packets before the fault are returned, then an error value.
import { createReadStream, createWriteStream } from "node:fs";
import type { Readable, Writable } from "node:stream";

export interface CapturePacket {
  time: number; // epoch seconds (float)
  linktype: number;
  data: Buffer; // captured bytes
  origLen: number; // length on the wire
  ifIndex?: number; // pcapng interface id
}

export interface CaptureError {
  error: "truncated" | "badmagic" | "badblock" | "badrecord" | "io";
  detail: string;
  packetsRead: number;
}

const PCAP_US = 0xa1b2c3d4;
const PCAP_NS = 0xa1b23c4d;
const PCAP_MODIFIED = 0xa1b2cd34; // Kuznetzov's patched libpcap: 8 more bytes per record header
const NG_SHB = 0x0a0d0d0a;
const NG_BOM = 0x1a2b3c4d;
const NG_IDB = 1;
const NG_OPB = 2;
const NG_SPB = 3;
const NG_EPB = 6;
const MAX_RECORD = 64 * 1024 * 1024; // a record or block larger than this is corrupt, not a packet

interface NgInterface {
  linktype: number;
  snaplen: number;
  units: bigint; // ticks per second (0n = binary resolution given by shift)
  shift: number; // for 2^-n resolution
  offset: bigint; // if_tsoffset seconds
}

/** Incremental capture parser: push chunks, collect packets; end() says whether the input stopped cleanly. */
export class CaptureParser {
  private pending: Buffer = Buffer.alloc(0);
  private format: "unknown" | "pcap" | "pcapng" = "unknown";
  private le = false;
  private nano = false;
  private recHdr = 16;
  private linktype = 0;
  private snaplen = 0;
  private ifaces: NgInterface[] = [];
  private failed: CaptureError | null = null;
  packetsRead = 0;
  get hasFailed(): boolean {
    return this.failed !== null;
  }
  /** pcap: the file header's link type; pcapng: the first interface's. */
  get fileLinktype(): number | undefined {
    return this.format === "pcap" ? this.linktype : this.ifaces[0]?.linktype;
  }

  /** Parse as much of chunk (plus leftover) as possible. After an error, returns nothing. */
  push(chunk: Buffer): CapturePacket[] {
    if (this.failed) return [];
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: CapturePacket[] = [];
    let off = 0;
    for (;;) {
      const used = this.step(buf, off, out);
      if (used <= 0 || this.failed) break;
      off += used;
    }
    // Copy the leftover so a streaming caller's chunk can be released; it is less than one record.
    this.pending = this.failed ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
    return out;
  }

  /** Call at end of input: null when it ended on a record boundary, else the error. */
  end(): CaptureError | null {
    if (this.failed) return this.failed;
    if (this.format === "unknown") {
      return this.fail("truncated", this.pending.length ? `file too short for a capture header (${this.pending.length} bytes)` : "empty capture file");
    }
    if (this.pending.length) {
      return this.fail("truncated", `file ends inside a ${this.format === "pcap" ? "record" : "block"} (${this.pending.length} stray bytes)`);
    }
    return null;
  }

  private fail(error: CaptureError["error"], detail: string): CaptureError {
    this.failed = { error, detail: `${detail}; ${this.packetsRead} packet(s) read`, packetsRead: this.packetsRead };
    return this.failed;
  }

  private u32(b: Buffer, o: number): number {
    return this.le ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }
  private u16(b: Buffer, o: number): number {
    return this.le ? b.readUInt16LE(o) : b.readUInt16BE(o);
  }

  /** Consume one header/record/block at off; returns bytes used, or 0 when more input is needed. */
  private step(b: Buffer, off: number, out: CapturePacket[]): number {
    const avail = b.length - off;
    if (this.format === "unknown") {
      if (avail < 4) return 0;
      const be = b.readUInt32BE(off);
      if (be === NG_SHB) {
        this.format = "pcapng";
        return this.stepNg(b, off, out);
      }
      if (avail < 24) return 0;
      const le = b.readUInt32LE(off);
      const known = (m: number): boolean => m === PCAP_US || m === PCAP_NS || m === PCAP_MODIFIED;
      if (known(be)) this.le = false;
      else if (known(le)) this.le = true;
      else {
        this.fail("badmagic", `not a pcap or pcapng file (magic 0x${be.toString(16).padStart(8, "0")})`);
        return 0;
      }
      this.nano = (this.le ? le : be) === PCAP_NS;
      this.recHdr = (this.le ? le : be) === PCAP_MODIFIED ? 24 : 16;
      this.format = "pcap";
      this.snaplen = this.u32(b, off + 16);
      this.linktype = this.u32(b, off + 20) & 0xffff; // upper bits: FCS length info
      return 24;
    }
    if (this.format === "pcap") {
      const rh = this.recHdr;
      if (avail < rh) return 0;
      const sec = this.u32(b, off);
      const frac = this.u32(b, off + 4);
      const incl = this.u32(b, off + 8);
      const orig = this.u32(b, off + 12);
      if (incl > MAX_RECORD) {
        this.fail("badrecord", `record ${this.packetsRead + 1} claims ${incl} captured bytes`);
        return 0;
      }
      if (avail < rh + incl) return 0;
      out.push({
        time: sec + frac / (this.nano ? 1e9 : 1e6),
        linktype: this.linktype,
        data: b.subarray(off + rh, off + rh + incl),
        origLen: orig,
      });
      this.packetsRead++;
      return rh + incl;
    }
    return this.stepNg(b, off, out);
  }

  private stepNg(b: Buffer, off: number, out: CapturePacket[]): number {
    const avail = b.length - off;
    if (avail < 12) return 0;
    if (b.readUInt32BE(off) === NG_SHB) {
      // The byte-order magic decides the endianness of this section (and of its own length field).
      const bom = b.readUInt32BE(off + 8);
      if (bom === NG_BOM) this.le = false;
      else if (b.readUInt32LE(off + 8) === NG_BOM) this.le = true;
      else {
        this.fail("badmagic", "pcapng section header with a bad byte-order magic");
        return 0;
      }
      this.ifaces = [];
    }
    const type = this.u32(b, off);
    const len = this.u32(b, off + 4);
    if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) {
      this.fail("badblock", `pcapng block type 0x${type.toString(16)} has bad length ${len}`);
      return 0;
    }
    if (avail < len) return 0;
    if (this.u32(b, off + len - 4) !== len) {
      this.fail("badblock", `pcapng block type 0x${type.toString(16)}: trailing length differs from ${len}`);
      return 0;
    }
    const body = b.subarray(off + 8, off + len - 4);
    if (type === NG_IDB) {
      if (body.length < 8) return this.ngBad(type, len);
      const iface: NgInterface = {
        linktype: this.u16(body, 0),
        snaplen: this.u32(body, 4),
        units: 1_000_000n,
        shift: 0,
        offset: 0n,
      };
      this.readIdbOptions(body.subarray(8), iface);
      this.ifaces.push(iface);
    } else if (type === NG_EPB || type === NG_OPB) {
      if (body.length < 20) return this.ngBad(type, len);
      const ifIndex = type === NG_EPB ? this.u32(body, 0) : this.u16(body, 0);
      const iface = this.ifaces[ifIndex];
      if (!iface) {
        this.fail("badblock", `packet block refers to undeclared interface ${ifIndex}`);
        return 0;
      }
      const ts = (BigInt(this.u32(body, 4)) << 32n) | BigInt(this.u32(body, 8));
      const incl = this.u32(body, 12);
      if (20 + incl > body.length) return this.ngBad(type, len);
      out.push({
        time: this.ngTime(iface, ts),
        linktype: iface.linktype,
        data: body.subarray(20, 20 + incl),
        origLen: this.u32(body, 16),
        ifIndex,
      });
      this.packetsRead++;
    } else if (type === NG_SPB) {
      if (body.length < 4) return this.ngBad(type, len);
      const iface = this.ifaces[0];
      if (!iface) {
        this.fail("badblock", "simple packet block before any interface description");
        return 0;
      }
      const orig = this.u32(body, 0);
      let incl = Math.min(orig, body.length - 4);
      if (iface.snaplen > 0) incl = Math.min(incl, iface.snaplen);
      out.push({ time: 0, linktype: iface.linktype, data: body.subarray(4, 4 + incl), origLen: orig, ifIndex: 0 });
      this.packetsRead++;
    }
    // SHB (already handled), NRB, ISB, DSB, custom and unknown blocks: skipped.
    return len;
  }

  private ngBad(type: number, len: number): number {
    this.fail("badblock", `pcapng block type 0x${type.toString(16)} too short for its contents (${len} bytes)`);
    return 0;
  }

  private readIdbOptions(opts: Buffer, iface: NgInterface): void {
    let o = 0;
    while (o + 4 <= opts.length) {
      const code = this.u16(opts, o);
      const l = this.u16(opts, o + 2);
      if (code === 0 || o + 4 + l > opts.length) break;
      const v = opts.subarray(o + 4, o + 4 + l);
      if (code === 9 && l >= 1) {
        const r = v[0];
        if (r & 0x80) {
          iface.units = 0n;
          iface.shift = r & 0x7f;
        } else if (r <= 18) {
          iface.units = 10n ** BigInt(r);
        }
      } else if (code === 14 && l >= 8) {
        iface.offset = this.le ? v.readBigInt64LE(0) : v.readBigInt64BE(0);
      }
      o += 4 + ((l + 3) & ~3);
    }
  }

  private ngTime(iface: NgInterface, ts: bigint): number {
    if (iface.units === 0n) {
      const whole = ts >> BigInt(iface.shift);
      const rest = ts - (whole << BigInt(iface.shift));
      return Number(whole + iface.offset) + Number(rest) / 2 ** iface.shift;
    }
    const whole = ts / iface.units;
    return Number(whole + iface.offset) + Number(ts % iface.units) / Number(iface.units);
  }
}

/** Parse a whole capture held in memory. Packet data are subarrays of buf. */
export function readCaptureSync(buf: Buffer): { packets: CapturePacket[]; error?: CaptureError } {
  const p = new CaptureParser();
  const packets = p.push(buf);
  const error = p.end();
  return error ? { packets, error } : { packets };
}

/**
 * Stream packets from a file path or a Readable (e.g. process.stdin). Yields packets as they are parsed; if the
 * input is malformed or ends mid-record, the last item yielded is a CaptureError (never thrown).
 */
export async function* readCapture(source: string | Readable): AsyncGenerator<CapturePacket | CaptureError> {
  const p = new CaptureParser();
  const stream = typeof source === "string" ? createReadStream(source, { highWaterMark: 1 << 20 }) : source;
  try {
    for await (const chunk of stream) {
      const c = typeof chunk === "string" ? Buffer.from(chunk, "latin1") : (chunk as Buffer);
      for (const pkt of p.push(c)) yield pkt;
      if (p.hasFailed) break; // malformed: stop reading, report below
    }
  } catch (e) {
    yield { error: "io", detail: `${(e as Error).message}; ${p.packetsRead} packet(s) read`, packetsRead: p.packetsRead };
    return;
  } finally {
    if (typeof source === "string") (stream as ReturnType<typeof createReadStream>).destroy();
  }
  const err = p.end();
  if (err) yield err;
}

export interface PcapWriterOptions {
  linktype: number;
  nanosecond?: boolean; // default false (µs magic)
  snaplen?: number; // default 262144
}

export interface WritablePacket {
  time: number; // epoch seconds
  data: Uint8Array;
  origLen?: number; // default data.length
}

function pcapHeader(o: PcapWriterOptions): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(o.nanosecond ? PCAP_NS : PCAP_US, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(o.snaplen ?? 262144, 16);
  h.writeUInt32LE(o.linktype, 20);
  return h;
}

function pcapRecord(p: WritablePacket, nano: boolean): Buffer {
  const r = Buffer.alloc(16 + p.data.length);
  const scale = nano ? 1e9 : 1e6;
  let sec = Math.floor(p.time);
  let frac = Math.round((p.time - sec) * scale);
  if (frac >= scale) {
    sec += 1;
    frac -= scale;
  }
  r.writeUInt32LE(sec >>> 0, 0);
  r.writeUInt32LE(frac, 4);
  r.writeUInt32LE(p.data.length, 8);
  r.writeUInt32LE(p.origLen ?? p.data.length, 12);
  r.set(p.data, 16);
  return r;
}

/** A whole little-endian pcap file in memory. */
export function encodePcap(packets: WritablePacket[], linktype: number, opts: { nanosecond?: boolean; snaplen?: number } = {}): Buffer {
  const o = { ...opts, linktype };
  return Buffer.concat([pcapHeader(o), ...packets.map((p) => pcapRecord(p, o.nanosecond === true))]);
}

/** Writes a pcap file to a path or a Writable. close() flushes and (for a path) closes the file. */
export class PcapWriter {
  private readonly out: Writable;
  private readonly owned: boolean;
  private readonly nano: boolean;
  private error: Error | null = null;
  count = 0;

  constructor(target: string | Writable, opts: PcapWriterOptions) {
    this.owned = typeof target === "string";
    this.out = typeof target === "string" ? createWriteStream(target) : target;
    this.nano = opts.nanosecond === true;
    this.out.on("error", (e: Error) => {
      this.error = e;
    });
    this.out.write(pcapHeader(opts));
  }

  /** Queue one packet. Returns false when the stream wants the caller to wait for "drain". */
  write(p: WritablePacket): boolean {
    if (this.error) throw this.error;
    this.count++;
    return this.out.write(pcapRecord(p, this.nano));
  }

  async close(): Promise<void> {
    if (this.error) throw this.error;
    await new Promise<void>((resolve, reject) => {
      const done = (e?: Error | null): void => (e ? reject(e) : resolve());
      if (this.owned) {
        this.out.once("error", reject);
        this.out.end(() => done(this.error));
      } else {
        // Do not end a stream we did not open (it may be stdout); just wait until it has taken our bytes.
        this.out.write(Buffer.alloc(0), (e) => done(e ?? this.error));
      }
    });
  }
}
