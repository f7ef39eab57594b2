// Raw IP protocol 112 sockets over the carp_io addon: one socket per interface and address family,
// joined to the CARP group on that interface only, TTL / hop limit 255 by default. Received packets
// arrive in batches ("packets" event: objects; "batch" event: one PacketBatch read on demand) with
// the IP payload (the CARP/VRRP bytes) and the metadata the receive checks need (TTL, destination,
// interface). Receive mode "socket" (recvmmsg) or "ring" (AF_PACKET ring, for floods). No
// protocol logic here.
import { EventEmitter } from "node:events";
import { constants as osConstants, endianness } from "node:os";

import { addonError, loadAddon } from "../addon.js";
import { formatIpv4, formatIpv6 } from "../protocol/addr.js";

export const CARP_GROUP_V4 = "224.0.0.18";
export const CARP_GROUP_V6 = "ff02::12";

export interface CarpSocketOptions {
  /** Interface name; the socket is bound to it (SO_BINDTODEVICE) and joins the group there only. */
  interface: string;
  family: 4 | 6;
  /** Multicast group to join and send to by default (224.0.0.18 / ff02::12). */
  group?: string;
  /** TTL / hop limit for multicast and unicast sends, default 255. */
  ttl?: number;
  /** IPv4 TOS byte / IPv6 traffic class; kernel default (0) when omitted. */
  tos?: number;
  /**
   * Socket mode: the socket receive buffer in bytes (SO_RCVBUFFORCE as root), kernel default when
   * omitted. Ring mode: the ring size when ringSize is omitted.
   */
  receiveBuffer?: number;
  /**
   * "socket" (default): recvmmsg on the raw socket. "ring": an AF_PACKET TPACKET_V2 receive ring
   * (kernel-filtered to protocol 112, no system call per packet; several times cheaper per packet in
   * a flood, a lone advert is delivered as promptly). Same events and fields either way; the raw
   * socket still joins the group and sends. Ring mode applies the IP layer's checks itself (this
   * interface, addressed to this host, header checksum, no fragments); IP options are not
   * interpreted, and a unicast advert to another address of this host's MAC is delivered.
   */
  receiveMode?: "socket" | "ring";
  /** Ring mode: ring size in bytes (2048-byte frames, one per datagram), default 2 MiB (1024 frames). */
  ringSize?: number;
}

export const DEFAULT_RING_SIZE = 2 * 1024 * 1024;

export interface ReceivedPacket {
  /** IP payload: the CARP/VRRP bytes (IPv4 header stripped). */
  data: Buffer;
  src: string;
  dst: string;
  /** TTL / hop limit the packet arrived with (-1 if the kernel did not say). */
  ttl: number;
  ifindex: number;
  /** Kernel receive timestamp, ms since the epoch (fractional). */
  time: number;
  family: 4 | 6;
  /** The datagram was larger than the receive slot (2048 bytes) and was cut. */
  truncated: boolean;
}

export interface SendOptions {
  /** Destination: the group when omitted, or a unicast peer. */
  dst?: string;
  /** Source address to use (must be configured on the interface). */
  src?: string;
}

/** A failed send is a value (the core counts send errors for demotion); misuse throws. */
export type SendResult = { ok: true } | { ok: false; code: string; errno: number; message: string };

export interface CarpSocketStats {
  received: number;
  sent: number;
  sendErrors: number;
  recvErrors: number;
  badLen: number;
  /** Ring mode only: datagrams the ring saw but the IP layer would not deliver (other host, other interface, fragment, bad IPv4 header sum). */
  filtered?: number;
  /** Ring mode only: datagrams lost because the ring was full. */
  dropped?: number;
  /**
   * Ring mode only: times a flood (over 64 packets within 1 ms) switched the socket from waking per
   * packet to draining every 1 ms (bounded extra delay, far less CPU); it switches back by itself.
   */
  floods?: number;
}

interface NativeRawSocket {
  /** lent: ring mode, the buffers are detached (read as empty) once this returns. */
  onpackets?: (data: Buffer, meta: Buffer, count: number, lent?: boolean) => void;
  send(payload: Buffer, dst?: string, src?: string): number;
  close(): void;
  setRef(on: boolean): void;
  readonly fd: number;
  readonly ringFd: number;
  readonly ringFrames: number;
  readonly ifindex: number;
  readonly stats: CarpSocketStats;
}

export interface CarpIoAddon {
  pcapVersion: string;
  RawSocket: new (
    ifname: string,
    family: number,
    group: string,
    ttl: number,
    tos: number,
    rcvbuf: number,
    ringBytes?: number,
  ) => NativeRawSocket;
  Capture: new (
    ifname: string,
    filter: string,
    snaplen: number,
    promisc: boolean,
    immediate: boolean,
    bufferSize: number,
  ) => unknown;
}

/** The addon, or an Error saying why it cannot be used (not built, disabled). */
export function ioAddon(): CarpIoAddon {
  const a = loadAddon<CarpIoAddon>("carp_io");
  if (!a) {
    const e = new Error(
      `raw sockets need the carp_io addon (${addonError("carp_io") ?? "not built"}); build it with npm run build`,
    );
    (e as Error & { code: string }).code = "ERR_NO_NATIVE_IO";
    throw e;
  }
  return a;
}

const META = 64; // bytes per metadata record, see native/io/raw_socket.cc
const osEndianness = endianness();
const hostLE = osEndianness === "LE";

/** Turns one native batch into packet objects; data slices share the batch buffer. */
export function unpackBatch(data: Buffer, meta: Buffer, count: number): ReceivedPacket[] {
  const out: ReceivedPacket[] = new Array(count);
  // Records are written in host byte order; typed-array views read them so (and fast) when the
  // buffer is 8-aligned, which the addon's allocations are.
  const aligned = meta.byteOffset % 8 === 0;
  const u32 = aligned ? new Uint32Array(meta.buffer, meta.byteOffset, (count * META) / 4) : null;
  const i32 = aligned ? new Int32Array(meta.buffer, meta.byteOffset, (count * META) / 4) : null;
  const f64 = aligned ? new Float64Array(meta.buffer, meta.byteOffset, (count * META) / 8) : null;
  // A flood comes from few peers: reuse the previous record's address strings when the bytes repeat.
  let srcText = "";
  let dstText = "";
  for (let i = 0; i < count; i++) {
    const r = i * META;
    const family = meta[r + 24] === 6 ? 6 : 4;
    let off: number, len: number, ttl: number, ifindex: number, time: number;
    if (u32 && i32 && f64) {
      const w = r / 4;
      off = u32[w];
      len = u32[w + 1];
      ttl = i32[w + 2];
      ifindex = u32[w + 3];
      time = f64[r / 8 + 2];
    } else {
      const le = osEndianness === "LE";
      off = le ? meta.readUInt32LE(r) : meta.readUInt32BE(r);
      len = le ? meta.readUInt32LE(r + 4) : meta.readUInt32BE(r + 4);
      ttl = le ? meta.readInt32LE(r + 8) : meta.readInt32BE(r + 8);
      ifindex = le ? meta.readUInt32LE(r + 12) : meta.readUInt32BE(r + 12);
      time = le ? meta.readDoubleLE(r + 16) : meta.readDoubleBE(r + 16);
    }
    if (i === 0 || !u32 || !sameWords(u32, (r + 32) / 4, (r + 32 - META) / 4)) {
      srcText = family === 4 ? formatIpv4(meta, r + 32) : formatIpv6(meta, r + 32);
    }
    if (i === 0 || !u32 || !sameWords(u32, (r + 48) / 4, (r + 48 - META) / 4)) {
      dstText = family === 4 ? formatIpv4(meta, r + 48) : formatIpv6(meta, r + 48);
    }
    out[i] = {
      data: data.subarray(off, off + len),
      src: srcText,
      dst: dstText,
      ttl,
      ifindex,
      time,
      family,
      truncated: (meta[r + 25] & 1) !== 0,
    };
  }
  return out;
}

/** The 16 address bytes at word a equal those at word b (IPv4 addresses are zero-padded). */
function sameWords(w: Uint32Array, a: number, b: number): boolean {
  return w[a] === w[b] && w[a + 1] === w[b + 1] && w[a + 2] === w[b + 2] && w[a + 3] === w[b + 3];
}

/**
 * One received batch as it came from the addon: a data buffer and packed records, with per-packet
 * accessors that build nothing (payload(i) is a view, src/dst format text on demand). get(i) and the
 * iterator give ReceivedPacket objects; toArray() the same list the "packets" event carries.
 * In ring mode the batch is lent (`lent` true): its buffers are the socket's reused staging memory
 * and are detached when the handler returns, so read what you need in the handler, or keep
 * copy() (or toArray() objects whose data you copy). Views kept past the handler read as empty.
 */
export class PacketBatch implements Iterable<ReceivedPacket> {
  readonly length: number;
  readonly data: Buffer;
  readonly meta: Buffer;
  /** Only valid during the event handler (ring mode). */
  readonly lent: boolean;

  constructor(data: Buffer, meta: Buffer, count: number, lent = false) {
    if (meta.length < count * META) throw new RangeError(`batch of ${count} needs ${count * META} metadata bytes, got ${meta.length}`);
    this.data = data;
    this.meta = meta;
    this.length = count;
    this.lent = lent;
    // No typed views here: a lone advert's batch should cost next to nothing to build. The
    // records are host order, read with the Buffer methods for this host's endianness.
  }

  /** Bytes of packet i's IP payload (its CARP/VRRP bytes). */
  payloadLength(i: number): number {
    return hostLE ? this.meta.readUInt32LE(i * META + 4) : this.meta.readUInt32BE(i * META + 4);
  }

  /** Packet i's IP payload, a view into data. */
  payload(i: number): Buffer {
    const r = i * META;
    const off = hostLE ? this.meta.readUInt32LE(r) : this.meta.readUInt32BE(r);
    return this.data.subarray(off, off + (hostLE ? this.meta.readUInt32LE(r + 4) : this.meta.readUInt32BE(r + 4)));
  }

  ttl(i: number): number {
    return hostLE ? this.meta.readInt32LE(i * META + 8) : this.meta.readInt32BE(i * META + 8);
  }

  ifindex(i: number): number {
    return hostLE ? this.meta.readUInt32LE(i * META + 12) : this.meta.readUInt32BE(i * META + 12);
  }

  time(i: number): number {
    return hostLE ? this.meta.readDoubleLE(i * META + 16) : this.meta.readDoubleBE(i * META + 16);
  }

  family(i: number): 4 | 6 {
    return this.meta[i * META + 24] === 6 ? 6 : 4;
  }

  truncated(i: number): boolean {
    return (this.meta[i * META + 25] & 1) !== 0;
  }

  src(i: number): string {
    return this.family(i) === 4 ? formatIpv4(this.meta, i * META + 32) : formatIpv6(this.meta, i * META + 32);
  }

  dst(i: number): string {
    return this.family(i) === 4 ? formatIpv4(this.meta, i * META + 48) : formatIpv6(this.meta, i * META + 48);
  }

  get(i: number): ReceivedPacket {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`packet index ${i} out of 0..${this.length - 1}`);
    return {
      data: this.payload(i),
      src: this.src(i),
      dst: this.dst(i),
      ttl: this.ttl(i),
      ifindex: this.ifindex(i),
      time: this.time(i),
      family: this.family(i),
      truncated: this.truncated(i),
    };
  }

  /** The packets as objects; their data views share this batch's data (copy() first to keep a lent batch's). */
  toArray(): ReceivedPacket[] {
    return unpackBatch(this.data, this.meta, this.length);
  }

  /** A batch with its own copies of the buffers, valid indefinitely. */
  copy(): PacketBatch {
    const data = Buffer.alloc(this.data.length);
    this.data.copy(data);
    const meta = Buffer.alloc(this.length * META); // offset 0: 8-aligned for the typed views
    this.meta.copy(meta, 0, 0, this.length * META);
    return new PacketBatch(data, meta, this.length);
  }

  *[Symbol.iterator](): Iterator<ReceivedPacket> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }
}

export interface CarpSocketEvents {
  packets: [batch: ReceivedPacket[]];
  /** The same packets as "packets", as one lazily decoded batch (cheaper for floods). */
  batch: [batch: PacketBatch];
  close: [];
}

export class CarpSocket extends EventEmitter<CarpSocketEvents> {
  readonly interface: string;
  readonly family: 4 | 6;
  readonly group: string;
  readonly ifindex: number;
  readonly receiveMode: "socket" | "ring";
  #native: NativeRawSocket | null;

  constructor(opts: CarpSocketOptions) {
    super();
    if (opts.family !== 4 && opts.family !== 6) throw new TypeError(`family must be 4 or 6, got ${String(opts.family)}`);
    const ttl = opts.ttl ?? 255;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 255) throw new RangeError(`ttl must be an integer 1..255, got ${ttl}`);
    const tos = opts.tos ?? -1;
    if (!Number.isInteger(tos) || tos < -1 || tos > 255) throw new RangeError(`tos must be an integer 0..255, got ${tos}`);
    this.interface = opts.interface;
    this.family = opts.family;
    this.group = opts.group ?? (opts.family === 4 ? CARP_GROUP_V4 : CARP_GROUP_V6);
    const addon = ioAddon();
    const rcvbuf = opts.receiveBuffer ?? 0;
    if (!Number.isInteger(rcvbuf) || rcvbuf < 0 || rcvbuf > 0x7fffffff) throw new RangeError(`receiveBuffer must be a byte count, got ${rcvbuf}`);
    const mode = opts.receiveMode ?? "socket";
    if (mode !== "socket" && mode !== "ring") throw new TypeError(`receiveMode must be "socket" or "ring", got ${String(mode)}`);
    const ringSize = mode === "ring" ? (opts.ringSize ?? (opts.receiveBuffer || DEFAULT_RING_SIZE)) : 0;
    if (!Number.isInteger(ringSize) || ringSize < 0 || ringSize > 1024 ** 3) throw new RangeError(`ringSize must be a byte count up to 1 GiB, got ${ringSize}`);
    this.receiveMode = mode;
    const native = new addon.RawSocket(opts.interface, opts.family, this.group, ttl, tos, rcvbuf, ringSize);
    // The callback lives on the native object, not in a native persistent reference. While open and
    // ref'd the native side holds itself (like node's own handles); once unref'd, an unreachable
    // socket is finalized by the GC, which closes the fd and the poll handle.
    native.onpackets = (data, meta, count, lent = false) => {
      if (this.listenerCount("batch") > 0) this.emit("batch", new PacketBatch(data, meta, count, lent));
      // Packet objects outlive the call: give them their own copy of lent data.
      if (this.listenerCount("packets") > 0) this.emit("packets", unpackBatch(lent ? Buffer.from(data) : data, meta, count));
    };
    this.#native = native;
    this.ifindex = native.ifindex;
  }

  get closed(): boolean {
    return this.#native === null;
  }

  get stats(): CarpSocketStats {
    return this.#live("stats").stats;
  }

  /** Sends one CARP/VRRP payload (the kernel adds the IP header). */
  send(payload: Buffer, opts: SendOptions = {}): SendResult {
    const errno = this.#live("send").send(payload, opts.dst, opts.src);
    if (errno === 0) return { ok: true };
    const code = errnoName(errno);
    const hint =
      code === "EMSGSIZE"
        ? ` (${payload.length}-byte payload too large for ${this.interface}; adverts are never fragmented)`
        : code === "EPERM" || code === "EACCES"
          ? " (needs root or CAP_NET_RAW, or blocked by a firewall)"
          : code === "EADDRNOTAVAIL" || code === "EINVAL"
            ? ` (source ${opts.src ?? "(auto)"} not usable on ${this.interface}?)`
            : "";
    const to = opts.dst ?? this.group;
    return { ok: false, code, errno, message: `send to ${to} on ${this.interface}: ${code}${hint}` };
  }

  /**
   * Keep (default) / stop keeping the event loop alive while open. An unref'd socket that nothing
   * references any more is closed by the garbage collector.
   */
  ref(): this {
    this.#native?.setRef(true);
    return this;
  }

  unref(): this {
    this.#native?.setRef(false);
    return this;
  }

  /** Idempotent. */
  close(): void {
    const n = this.#native;
    if (!n) return;
    this.#native = null;
    n.onpackets = undefined;
    n.close();
    this.emit("close");
  }

  #live(what: string): NativeRawSocket {
    if (!this.#native) {
      const e = new Error(`${what} on closed socket (${this.interface}, IPv${this.family})`);
      (e as Error & { code: string }).code = "ERR_SOCKET_CLOSED";
      throw e;
    }
    return this.#native;
  }
}

export function openCarpSocket(opts: CarpSocketOptions): CarpSocket {
  return new CarpSocket(opts);
}


const errnoNames = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, value]) => [value as number, name]),
);

/** errno number → name ("EPERM"), as the core logs and counts them. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}
