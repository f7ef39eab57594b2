// The bulk path for `--read FILE --summary` on classic pcap files: records are walked in place (no
// per-packet objects), untagged Ethernet/IPv4 CARP frames are gathered into batches and checked by
// verifyBatch (the C++ batch verifier when built), and the analyzer is fed one reused AdvertFacts
// object per packet. Every other frame (VLAN, IPv6, VRRP, ARP, odd IP headers) goes to the generic
// per-packet path, in order, after the pending batch is flushed.
import { closeSync, openSync, readSync } from "node:fs";
import {
  CarpKeyTable,
  decodeBatch,
  verifyBatch,
  VERDICT_BADAUTH,
  VERDICT_BADSUM,
  VERDICT_BADVER,
  VERDICT_BADVHID,
  VERDICT_OK,
  type BatchFields,
} from "../protocol/native-codec.js";
import type { CaptureError } from "../protocol/pcap.js";
import { newFacts, type Analyzer } from "./analyzer.js";
import type { Keyring } from "./keys.js";
import type { Row } from "./types.js";

const BATCH = 4096;
const BUF = 8 << 20;
const DLT_EN10MB = 1;

/** Classic pcap header facts, or null when the file is something else (pcapng, garbage, empty). */
export function pcapHeaderInfo(path: string): { le: boolean; nano: boolean; linktype: number } | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return null;
  }
  try {
    const h = Buffer.alloc(24);
    if (readSync(fd, h, 0, 24, 0) < 24) return null;
    const le = h.readUInt32LE(0);
    const be = h.readUInt32BE(0);
    const magic = le === 0xa1b2c3d4 || le === 0xa1b23c4d ? le : be === 0xa1b2c3d4 || be === 0xa1b23c4d ? be : 0;
    if (!magic) return null;
    const isLe = le === magic;
    return { le: isLe, nano: magic === 0xa1b23c4d, linktype: isLe ? h.readUInt32LE(20) : h.readUInt32BE(20) };
  } finally {
    closeSync(fd);
  }
}

/** Handles one frame the bulk path does not; returns true when it was a protocol-112 packet. */
function hex8(x: number): string {
  return x.toString(16).padStart(8, "0");
}

export type SlowPacket = (time: number, linktype: number, data: Buffer) => boolean;

export interface BulkResult {
  packetsRead: number;
  error?: CaptureError;
}

/**
 * Reads the whole file; `slow` gets every frame the bulk path does not handle. Stops early (cleanly)
 * when `stop()` returns true after a packet.
 */
export async function bulkRead(
  path: string,
  keyring: Keyring,
  analyzer: Analyzer,
  slow: SlowPacket,
  /** Called after each packet with its time and the protocol-112 packets so far; true stops reading. */
  stop: (time: number, proto112: number) => boolean = () => false,
  /**
   * Per-packet output: every packet handled here is also turned into a Row (the same Row decodeFrame +
   * Keyring.verifyRow would give). Then only plain adverts (type 1, authlen 7, TTL 255 to a multicast
   * group) take the batch path; anything that needs notes goes to `slow`.
   */
  emit?: (row: Row) => void,
): Promise<BulkResult> {
  const info = pcapHeaderInfo(path);
  if (!info) throw new Error("bulkRead: not a classic pcap file");
  const { le, nano, linktype } = info;
  const div = nano ? 1e9 : 1e6; // the same arithmetic as pcap.ts, so times are bit-identical
  const table: CarpKeyTable = keyring.keyTable();
  const keyed = keyring.hasAnyPassword();

  const offsets = new Uint32Array(BATCH);
  const ipOff = new Uint32Array(BATCH);
  const times = new Float64Array(BATCH);
  const verdicts = new Uint8Array(BATCH);
  const fields: BatchFields = {
    version: new Uint8Array(BATCH), vhid: new Uint8Array(BATCH), advskew: new Uint8Array(BATCH),
    demote: new Uint8Array(BATCH), advbase: new Uint8Array(BATCH), counterHi: new Uint32Array(BATCH),
    counterLo: new Uint32Array(BATCH),
  };
  const f = newFacts();
  const ipCache = new Map<number, string>();
  const lastMac: (string | null)[] = new Array(256).fill(null);
  const macCache = new Map<number, string>();
  let n = 0;
  let packets = 0;
  let stopped = false;
  let counted = 0;

  const ipText = (b: Buffer, o: number): string => {
    const k = b.readUInt32BE(o);
    let s = ipCache.get(k);
    if (s === undefined) ipCache.set(k, (s = `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`));
    return s;
  };
  const vmacs: string[] = [];
  for (let v = 0; v < 256; v++) vmacs.push(`00:00:5e:00:01:${v.toString(16).padStart(2, "0")}`);
  const macText = (b: Buffer, o: number): string => {
    if (b[o] === 0 && b[o + 1] === 0 && b[o + 2] === 0x5e && b[o + 3] === 0 && b[o + 4] === 1) return vmacs[b[o + 5]];
    const k = b.readUInt16BE(o) * 0x100000000 + b.readUInt32BE(o + 2);
    let s = macCache.get(k);
    if (s === undefined) {
      s = "";
      for (let i = 0; i < 6; i++) s += (i ? ":" : "") + b[o + i].toString(16).padStart(2, "0");
      macCache.set(k, s);
    }
    return s;
  };

  const flush = (buf: Buffer): void => {
    if (n === 0) return;
    const offs = offsets.subarray(0, n);
    if (keyed) verifyBatch(table, buf, offs, 36, verdicts, fields);
    else decodeBatch(buf, offs, 36, verdicts, fields);
    const { version, vhid, advskew, demote, advbase, counterHi, counterLo } = fields as Required<BatchFields>;
    for (let i = 0; i < n; i++) {
      const ip = ipOff[i];
      const t = times[i];
      const v = verdicts[i];
      if (v === VERDICT_BADVER || version[i] !== 2) {
        analyzer.countInvalid(t, `${ipText(buf, ip + 12)} > ${ipText(buf, ip + 16)}: CARP version ${version[i]} [badver]`);
        continue;
      }
      analyzer.countCarp(t);
      f.protocol = "carp";
      f.vhid = vhid[i];
      f.src = ipText(buf, ip + 12);
      f.mac = macText(buf, ip - 8);
      if (lastMac[f.vhid] !== f.mac) {
        keyring.noteAdvertMac(f.vhid, f.mac); // before verifying, as the per-packet path does
        lastMac[f.vhid] = f.mac;
      }
      f.time = t;
      f.advbase = advbase[i];
      f.advskew = advskew[i];
      f.demote = demote[i];
      f.priority = 0;
      f.ttl = buf[ip + 8];
      f.multicast = buf[ip + 16] >= 224 && buf[ip + 16] <= 239;
      f.family = 4;
      f.ctrHi = counterHi[i];
      f.ctrLo = counterLo[i];
      f.checksumOk = v !== VERDICT_BADSUM;
      f.diagnosis = null;
      if (v === VERDICT_OK) f.auth = keyed ? 0 : 2;
      else if (v === VERDICT_BADSUM) f.auth = 2;
      else if (v === VERDICT_BADAUTH || (v === VERDICT_BADVHID && keyring.passwordFor(f.vhid) !== undefined)) {
        // Not in the table (password without VIPs) or failed: the per-packet verifier explains it.
        const hdr = buf.subarray(offsets[i], offsets[i] + 36);
        const r = keyring.verifyHeader(f.vhid, f.src, hdr);
        f.auth = r.auth === "ok" ? 0 : r.auth === "bad" ? 1 : 2;
        f.diagnosis = r.diagnosis;
        if (f.auth === 1) analyzer.badSample(f.vhid, f.src, hdr);
      } else f.auth = 2;
      analyzer.advert(f);
      if (emit) {
        const p = offsets[i];
        const auth = f.auth === 0 ? "ok" : f.auth === 1 ? "bad" : "unverified";
        emit({
          time: t, src: f.src, dst: ipText(buf, ip + 16), ttl: f.ttl, kind: "carp", version: 2, type: 1, vhid: f.vhid,
          advbase: f.advbase, advskew: f.advskew, demote: f.demote,
          counter: hex8(counterHi[i]) + hex8(counterLo[i]), hmac: buf.toString("hex", p + 16, p + 36),
          checksum: f.checksumOk ? "ok" : "bad", auth, error: !f.checksumOk ? "badsum" : f.auth === 1 ? "badauth" : null,
          diagnosis: f.diagnosis, src_mac: f.mac, dst_mac: macText(buf, ip - 14), vlan: null, family: 4,
          length: ((buf[ip + 2] << 8) | buf[ip + 3]) - (buf[ip] & 0x0f) * 4, notes: [],
        });
      }
    }
    n = 0;
  };

  // Synchronous reads into one reused buffer: no per-chunk allocation, no thread-pool round trips.
  // A record cut by the end of the buffer is moved to the front before the next read.
  let buf = Buffer.allocUnsafe(BUF);
  let have = 0; // valid bytes in buf
  let o = 24;
  let first = true;
  let eof = false;
  let error: CaptureError | undefined;
  let fd = -1;
  try {
    fd = openSync(path, "r");
    outer: while (!eof) {
      if (o > 0 && !first) {
        buf.copyWithin(0, o, have);
        have -= o;
        o = 0;
      }
      if (have === buf.length) buf = Buffer.concat([buf, Buffer.allocUnsafe(buf.length)]); // a record larger than the buffer
      const got = readSync(fd, buf, have, buf.length - have, null);
      if (got === 0) eof = true;
      have += got;
      if (first) {
        if (have < 24) continue;
        first = false;
      }
      const end = have;
      while (o + 16 <= end) {
        const sec = le ? buf.readUInt32LE(o) : buf.readUInt32BE(o);
        const frac = le ? buf.readUInt32LE(o + 4) : buf.readUInt32BE(o + 4);
        const incl = le ? buf.readUInt32LE(o + 8) : buf.readUInt32BE(o + 8);
        if (incl > 64 * 1024 * 1024) {
          flush(buf);
          error = { error: "badrecord", detail: `record ${packets + 1} claims ${incl} bytes; ${packets} packet(s) read`, packetsRead: packets };
          break outer;
        }
        if (o + 16 + incl > end) break;
        const d = o + 16;
        const t = sec + frac / div;
        packets++;
        // Fast pattern: Ethernet, EtherType IPv4, IHL ≥ 5, not a fragment, proto 112, CARP v2-ish, ≥ 36 bytes.
        let fast = false;
        if (linktype === DLT_EN10MB && incl >= 14 + 20 + 36 && buf[d + 12] === 0x08 && buf[d + 13] === 0x00) {
          const ip = d + 14;
          const vihl = buf[ip];
          const hl = (vihl & 0x0f) * 4;
          const tot = (buf[ip + 2] << 8) | buf[ip + 3];
          if (
            vihl >> 4 === 4 && hl >= 20 && buf[ip + 9] === 112 && (buf[ip + 6] & 0x3f) === 0 && buf[ip + 7] === 0 &&
            tot >= hl + 36 && 14 + tot <= incl && buf[ip + hl] >> 4 === 2 &&
            (!emit || (buf[ip + hl] === 0x21 && buf[ip + hl + 3] === 7 && buf[ip + 8] === 255 && buf[ip + 16] >= 224 && buf[ip + 16] <= 239))
          ) {
            offsets[n] = ip + hl;
            ipOff[n] = ip;
            times[n] = t;
            n++;
            counted++;
            fast = true;
            if (n === BATCH) flush(buf);
          }
        }
        if (!fast) {
          flush(buf);
          if (slow(t, linktype, Buffer.from(buf.subarray(d, d + incl)))) counted++;
        }
        o = d + incl;
        if (stop(t, counted)) {
          flush(buf);
          stopped = true;
          break outer;
        }
      }
      flush(buf);
      // Let the event loop run between chunks (EPIPE on stdout, signals).
      await new Promise((r) => setImmediate(r));
      if (stop(-Infinity, counted)) {
        stopped = true;
        break;
      }
    }
  } catch (e) {
    error = { error: "io", detail: `${(e as Error).message}; ${packets} packet(s) read`, packetsRead: packets };
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  const pendingBytes = have - o;
  if (!error && !stopped && (first || pendingBytes > 0)) {
    error = first
      ? { error: "truncated", detail: "file ends inside the pcap header; 0 packet(s) read", packetsRead: 0 }
      : { error: "truncated", detail: `file ends inside a record; ${packets} packet(s) read`, packetsRead: packets };
  }
  return error ? { packetsRead: packets, error } : { packetsRead: packets };
}
