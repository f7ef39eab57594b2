// libpcap live capture, injection and pcap file writing over the carp_io addon. Batches of captured
// frames arrive as "packets" events (objects) and "batch" events (one lent FrameBatch read on
// demand); parsing them (link layer, IP, CARP) is src/protocol's job.
import { EventEmitter } from "node:events";
import { endianness } from "node:os";

import { ioAddon } from "./rawsock.js";

/** Default capture filter: CARP and VRRP (IP protocol 112) over IPv4 and IPv6. */
export const DEFAULT_CAPTURE_FILTER = "ip proto 112 or ip6 proto 112";

export const DEFAULT_SNAPLEN = 9216;
export const DEFAULT_BUFFER_SIZE = 8 * 1024 * 1024;

export interface CaptureOptions {
  /** Interface name, or "any" (then frames are Linux cooked, linktype SLL/SLL2; inject is not possible). */
  interface: string;
  /** BPF filter expression; default DEFAULT_CAPTURE_FILTER, "" captures everything. */
  filter?: string;
  /** Bytes kept per frame, default 9216 (a jumbo frame; CARP/VRRP adverts are < 100 bytes). */
  snaplen?: number;
  /** Promiscuous mode, default false. */
  promisc?: boolean;
  /** Deliver each frame as it arrives (no buffering delay), default true. */
  immediate?: boolean;
  /**
   * VLAN: a VLAN id to capture only that VLAN's tagged frames matching the filter, or true to match
   * the filter both untagged and inside any single 802.1Q tag. Note: on Linux the kernel usually
   * strips the tag before BPF sees it, so a plain filter also matches tagged frames (the captured
   * bytes still carry the tag); `vlan: N` is the way to select one VLAN.
   */
  vlan?: number | boolean;
  /**
   * Kernel capture ring in bytes, default 8 MiB. In immediate mode the ring has fixed slots of about
   * snaplen bytes, so it holds bufferSize / snaplen frames: a burst larger than that is dropped
   * (counted in stats().dropped). With libpcap's 2 MB default and a 64 KB snaplen that is 32 frames.
   */
  bufferSize?: number;
}

export interface CapturedFrame {
  /** Capture time, ms since the epoch (fractional, µs resolution). */
  time: number;
  /** libpcap link type (DLT), 1 = Ethernet, 113/276 = Linux cooked ("any"). */
  linktype: number;
  /** The captured bytes (at most snaplen). */
  data: Buffer;
  /** Length of the frame on the wire. */
  origLen: number;
}

export interface CaptureStats {
  received: number;
  dropped: number;
  ifDropped: number;
}

interface NativeCapture {
  /** lent: the buffers are detached (read as empty) once this returns. */
  onpackets?: (data: Buffer, meta: Buffer, count: number, linktype: number, lent?: boolean) => void;
  onerror?: (err: Error) => void;
  inject(frame: Buffer): number;
  dumpOpen(path: string): void;
  dumpClose(): void;
  close(): void;
  setRef(on: boolean): void;
  stats(): CaptureStats;
  readonly linktype: number;
}

const META = 24; // bytes per metadata record, see native/io/capture.cc

export function unpackFrames(data: Buffer, meta: Buffer, count: number, linktype: number): CapturedFrame[] {
  const out: CapturedFrame[] = new Array(count);
  // Host-order records; typed-array views when 8-aligned (the addon's allocations are).
  const aligned = meta.byteOffset % 8 === 0;
  const u32 = aligned ? new Uint32Array(meta.buffer, meta.byteOffset, (count * META) / 4) : null;
  const f64 = aligned ? new Float64Array(meta.buffer, meta.byteOffset, (count * META) / 8) : null;
  const le = endianness() === "LE";
  for (let i = 0; i < count; i++) {
    const r = i * META;
    let off: number, caplen: number, origLen: number, time: number;
    if (u32 && f64) {
      off = u32[r / 4];
      caplen = u32[r / 4 + 1];
      origLen = u32[r / 4 + 2];
      time = f64[r / 8 + 2];
    } else {
      off = le ? meta.readUInt32LE(r) : meta.readUInt32BE(r);
      caplen = le ? meta.readUInt32LE(r + 4) : meta.readUInt32BE(r + 4);
      origLen = le ? meta.readUInt32LE(r + 8) : meta.readUInt32BE(r + 8);
      time = le ? meta.readDoubleLE(r + 16) : meta.readDoubleBE(r + 16);
    }
    out[i] = { time, linktype, data: data.subarray(off, off + caplen), origLen };
  }
  return out;
}

const hostLE = endianness() === "LE";

/**
 * One captured batch as the addon lent it: frames in one data buffer plus 24-byte records, read
 * on demand (frame(i) is a view). Lent: valid only during the "batch" handler (the buffers are the
 * capture's reused staging memory, detached afterwards, so kept views read as empty); copy() or
 * toArray() of a copy() to keep frames.
 */
export class FrameBatch implements Iterable<CapturedFrame> {
  readonly length: number;
  readonly data: Buffer;
  readonly meta: Buffer;
  readonly linktype: number;
  readonly lent: boolean;

  constructor(data: Buffer, meta: Buffer, count: number, linktype: number, lent = false) {
    if (meta.length < count * META) throw new RangeError(`batch of ${count} needs ${count * META} metadata bytes, got ${meta.length}`);
    this.data = data;
    this.meta = meta;
    this.length = count;
    this.linktype = linktype;
    this.lent = lent;
  }

  /** Captured bytes of frame i (at most snaplen). */
  capturedLength(i: number): number {
    return hostLE ? this.meta.readUInt32LE(i * META + 4) : this.meta.readUInt32BE(i * META + 4);
  }

  /** Frame i's captured bytes, a view into data. */
  frame(i: number): Buffer {
    const off = hostLE ? this.meta.readUInt32LE(i * META) : this.meta.readUInt32BE(i * META);
    return this.data.subarray(off, off + this.capturedLength(i));
  }

  origLen(i: number): number {
    return hostLE ? this.meta.readUInt32LE(i * META + 8) : this.meta.readUInt32BE(i * META + 8);
  }

  time(i: number): number {
    return hostLE ? this.meta.readDoubleLE(i * META + 16) : this.meta.readDoubleBE(i * META + 16);
  }

  get(i: number): CapturedFrame {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`frame index ${i} out of 0..${this.length - 1}`);
    return { time: this.time(i), linktype: this.linktype, data: this.frame(i), origLen: this.origLen(i) };
  }

  /** The frames as objects; their data views share this batch's data (copy() first to keep a lent batch's). */
  toArray(): CapturedFrame[] {
    return unpackFrames(this.data, this.meta, this.length, this.linktype);
  }

  /** A batch with its own copies of the buffers, valid indefinitely. */
  copy(): FrameBatch {
    const data = Buffer.alloc(this.data.length);
    this.data.copy(data);
    const meta = Buffer.alloc(this.length * META);
    this.meta.copy(meta, 0, 0, this.length * META);
    return new FrameBatch(data, meta, this.length, this.linktype);
  }

  *[Symbol.iterator](): Iterator<CapturedFrame> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }
}

/** The BPF expression actually installed for a filter and vlan option. */
export function captureFilter(filter: string, vlan?: number | boolean): string {
  if (vlan === undefined || vlan === false) return filter;
  if (vlan === true) return filter ? `(${filter}) or (vlan and (${filter}))` : "";
  if (!Number.isInteger(vlan) || vlan < 0 || vlan > 4095) throw new RangeError(`vlan must be 0..4095, got ${vlan}`);
  return filter ? `vlan ${vlan} and (${filter})` : `vlan ${vlan}`;
}

export interface CaptureEvents {
  packets: [batch: CapturedFrame[]];
  /** The same frames as "packets", as one lazily decoded batch lent for the handler (cheaper for floods). */
  batch: [batch: FrameBatch];
  error: [err: Error];
  close: [];
}

export class LiveCapture extends EventEmitter<CaptureEvents> {
  readonly interface: string;
  readonly filter: string;
  readonly linktype: number;
  #native: NativeCapture | null;
  #dumpPath: string | null = null;

  constructor(opts: CaptureOptions) {
    super();
    this.interface = opts.interface;
    this.filter = captureFilter(opts.filter ?? DEFAULT_CAPTURE_FILTER, opts.vlan);
    const snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    if (!Number.isInteger(snaplen) || snaplen < 1) throw new RangeError(`snaplen must be a positive integer, got ${snaplen}`);
    const addon = ioAddon();
    const native = new addon.Capture(
      opts.interface,
      this.filter,
      snaplen,
      opts.promisc ?? false,
      opts.immediate ?? true,
      opts.bufferSize ?? DEFAULT_BUFFER_SIZE,
    ) as NativeCapture;
    // Callbacks live on the native object so an unreachable, unref'd capture can be garbage collected.
    native.onpackets = (data, meta, count, linktype, lent = false) => {
      if (this.listenerCount("batch") > 0) this.emit("batch", new FrameBatch(data, meta, count, linktype, lent));
      // Frame objects outlive the call: give them their own copy of lent data.
      if (this.listenerCount("packets") > 0) this.emit("packets", unpackFrames(lent ? Buffer.from(data) : data, meta, count, linktype));
    };
    native.onerror = (err) => {
      if (this.listenerCount("error") > 0) this.emit("error", err);
    };
    this.#native = native;
    this.linktype = native.linktype;
  }

  get closed(): boolean {
    return this.#native === null;
  }

  /** The pcap file being written, if any. */
  get dumpPath(): string | null {
    return this.#dumpPath;
  }

  /** Sends a raw link-layer frame out of the interface; returns the bytes written. Throws on failure. */
  inject(frame: Buffer): number {
    return this.#live("inject").inject(frame);
  }

  /** Writes every frame captured from now on to a pcap file (replacing any previous dump). */
  dumpTo(path: string): void {
    this.#live("dumpTo").dumpOpen(path);
    this.#dumpPath = path;
  }

  /** Closes (and flushes) the pcap file, if one is open. */
  stopDump(): void {
    this.#native?.dumpClose();
    this.#dumpPath = null;
  }

  stats(): CaptureStats {
    return this.#live("stats").stats();
  }

  ref(): this {
    this.#native?.setRef(true);
    return this;
  }

  unref(): this {
    this.#native?.setRef(false);
    return this;
  }

  /** Idempotent; flushes and closes the dump file too. */
  close(): void {
    const n = this.#native;
    if (!n) return;
    this.#native = null;
    this.#dumpPath = null;
    n.onpackets = undefined;
    n.onerror = undefined;
    n.close();
    this.emit("close");
  }

  #live(what: string): NativeCapture {
    if (!this.#native) {
      const e = new Error(`${what} on closed capture (${this.interface})`);
      (e as Error & { code: string }).code = "ERR_CAPTURE_CLOSED";
      throw e;
    }
    return this.#native;
  }
}

export function openCapture(opts: CaptureOptions): LiveCapture {
  return new LiveCapture(opts);
}
