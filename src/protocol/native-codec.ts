// The optional C++ twin of the CARP codec (native/codec, addon "carp_codec"): SHA-1 with SHA-NI,
// kernel-style precomputed HMAC contexts, and batch decode/verify over one Buffer of many packets.
//
// Fallback policy: every export here works without the addon. CarpKeyTable and createCarpAuth pick
// the native back end when the addon is built and the pure TypeScript codec (hmac.ts, carp.ts)
// otherwise; verifyBatch/decodeBatch then run the same loop in TypeScript. Only the introspection
// helpers (nativeSha1*, nativeHmacPrefix) return null when the addon is missing.
// Verdicts follow receive.ts (badlen, badsum, badvhid, badver, badauth, in that order); the TTL
// check needs the IP header and stays with the caller (receiveCarp).
import { addonError, loadAddon } from "../addon.js";
import { CARP_HEADER_LEN, carpFinishChecksum, decodeCarp } from "./carp.js";
import { inetChecksum } from "./checksum.js";
import {
  CarpAuth,
  carpHmacPrefix,
  carpKey,
  parseIpv4,
  parseIpv6,
  type CarpAuthConfig,
  type CarpHmacOptions,
  type HmacError,
} from "./hmac.js";
import type { CarpHeader, CarpReason } from "./types.js";

export type Sha1ImplName = "portable" | "shani" | "openssl";

/** Verdict codes written by verifyBatch/decodeBatch; index = code. */
export const VERDICTS = ["ok", "badlen", "badsum", "badvhid", "badver", "badauth"] as const;
export type BatchVerdict = (typeof VERDICTS)[number];
export const VERDICT_OK = 0;
export const VERDICT_BADLEN = 1;
export const VERDICT_BADSUM = 2;
export const VERDICT_BADVHID = 3;
export const VERDICT_BADVER = 4;
export const VERDICT_BADAUTH = 5;

/** The reason for a verdict code (undefined for ok). */
export function verdictReason(code: number): CarpReason | undefined {
  const v = VERDICTS[code];
  return v === undefined || v === "ok" ? undefined : v;
}

/** Optional per-packet outputs; each array present must be at least as long as `offsets`. */
export interface BatchFields {
  version?: Uint8Array;
  type?: Uint8Array;
  vhid?: Uint8Array;
  advskew?: Uint8Array;
  authlen?: Uint8Array;
  demote?: Uint8Array;
  advbase?: Uint8Array;
  checksum?: Uint16Array;
  counterHi?: Uint32Array;
  counterLo?: Uint32Array;
}

// ---------------------------------------------------------------------------------------------
// The addon's raw surface (native/codec/binding.cc).

interface NativeKeySchedule {
  sign(counter: bigint): Buffer;
  verify(counter: bigint, hmac: Uint8Array): boolean;
}
interface NativeKeyTable {
  set(vhid: number, schedules: NativeKeySchedule | NativeKeySchedule[]): void;
  delete(vhid: number): boolean;
  has(vhid: number): boolean;
  clear(): void;
}
type Lengths = Uint32Array | number;
/** The addon's exports, as seen from TypeScript. */
export interface CarpCodecAddon {
  KeySchedule: new (key: Uint8Array, prefix: Uint8Array) => NativeKeySchedule;
  KeyTable: new () => NativeKeyTable;
  decodeBatch(buf: Uint8Array, offsets: Uint32Array, lengths: Lengths, verdicts: Uint8Array, fields?: BatchFields): number;
  verifyBatch(
    table: NativeKeyTable,
    buf: Uint8Array,
    offsets: Uint32Array,
    lengths: Lengths,
    verdicts: Uint8Array,
    fields?: BatchFields,
  ): number;
  signInto(schedule: NativeKeySchedule, buf: Uint8Array, offset: number, counter: bigint): void;
  checksum(buf: Uint8Array, offset?: number, length?: number): number;
  hmacPrefix(vhid: number, v4: Uint8Array, v6: Uint8Array, variant: 0 | 1 | 2, lladdr?: Uint8Array | null): Buffer;
  sha1(data: Uint8Array): Buffer;
  sha1Impl(): Sha1ImplName;
  setSha1Impl(name: Sha1ImplName): boolean;
  sha1Impls(): Sha1ImplName[];
  sha1CompressBench(n: number): number;
}

const addon = loadAddon<CarpCodecAddon>("carp_codec");

export function nativeCodecAvailable(): boolean {
  return addon !== null;
}
/** Why the addon is not available (undefined when it is). */
export function nativeCodecError(): string | undefined {
  return addon ? undefined : (addonError("carp_codec") ?? "carp_codec not loaded");
}
/** The raw addon for tests and benchmarks; null when not built. */
export function nativeCodecAddon(): CarpCodecAddon | null {
  return addon;
}

/** The SHA-1 back end in use (CARP_SHA1=portable|shani|openssl forces one at load), or null. */
export function nativeSha1Impl(): Sha1ImplName | null {
  return addon ? addon.sha1Impl() : null;
}
/** Switches the SHA-1 back end; false if it is not available here (or no addon). */
export function setNativeSha1Impl(name: Sha1ImplName): boolean {
  return addon ? addon.setSha1Impl(name) : false;
}
export function nativeSha1Impls(): Sha1ImplName[] {
  return addon ? addon.sha1Impls() : [];
}

// ---------------------------------------------------------------------------------------------
// Message prefixes built natively (same rules as carpHmacPrefix; validation is carpHmacPrefix's).

function parseMac(mac: string | Uint8Array): Buffer | null {
  if (typeof mac !== "string") return mac.length === 6 ? Buffer.from(mac) : null;
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return null;
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

/**
 * carpHmacPrefix computed by the addon: same arguments, same errors (validation is shared with
 * the TS builder), the sorting/dedup/scope rules run in C++. Null when the addon is missing.
 */
export function nativeHmacPrefix(
  vhid: number,
  v4: readonly string[],
  v6: readonly string[],
  opts: CarpHmacOptions = {},
): Buffer | HmacError | null {
  if (!addon) return null;
  const checked = carpHmacPrefix(vhid, v4, v6, opts);
  if (!Buffer.isBuffer(checked)) return checked;
  const semantics = opts.semantics ?? "freebsd";
  const v4b = Buffer.alloc(4 * v4.length);
  v4.forEach((s, i) => v4b.writeUInt32BE(parseIpv4(s)!, 4 * i));
  const v6b = Buffer.concat(v6.map((s) => parseIpv6(s)!), 16 * v6.length);
  const includeLL = opts.includeV6LinkLocal ?? semantics !== "openbsd";
  const variant = semantics === "ucarp" ? 2 : includeLL ? 0 : 1;
  const mac = opts.lladdr !== undefined ? parseMac(opts.lladdr) : null;
  return addon.hmacPrefix(vhid, v4b, v6b, variant, mac);
}

// ---------------------------------------------------------------------------------------------
// Per-vhid authenticators.

/**
 * CarpAuth's native twin: same sign/verify/verifyHeader semantics (OpenBSD: sign with the
 * HMAC_NOV6LL context, accept either), so it can serve as receive.ts's CarpVerifier.
 */
export class NativeCarpAuth {
  readonly vhid: number;
  /** The native schedules: [sign context, alternate?]. */
  readonly schedules: readonly NativeKeySchedule[];
  readonly #sign: NativeKeySchedule;
  readonly #signInto: CarpCodecAddon["signInto"];

  private constructor(vhid: number, schedules: NativeKeySchedule[], signInto: CarpCodecAddon["signInto"]) {
    this.vhid = vhid;
    this.schedules = schedules;
    this.#sign = schedules[0];
    this.#signInto = signInto;
  }

  /** Same config and errors as CarpAuth.create; null when the addon is not built. */
  static create(cfg: CarpAuthConfig): NativeCarpAuth | HmacError | null {
    if (!addon) return null;
    // Build the TS authenticator once for its validation and prefixes, then key the native side.
    const ts = CarpAuth.create(cfg);
    if (!(ts instanceof CarpAuth)) return ts;
    const key = cfg.key !== undefined ? cfg.key : carpKey(cfg.password ?? "");
    const semantics = cfg.semantics ?? "freebsd";
    const opts = { semantics, lladdr: cfg.lladdr };
    const prefixes: Buffer[] = [];
    const p = nativeHmacPrefix(cfg.vhid, cfg.v4 ?? [], cfg.v6 ?? [], opts);
    if (p === null || !Buffer.isBuffer(p)) return p ?? null;
    prefixes.push(p);
    if (semantics === "openbsd") {
      const q = nativeHmacPrefix(cfg.vhid, cfg.v4 ?? [], cfg.v6 ?? [], { ...opts, includeV6LinkLocal: true });
      if (q === null || !Buffer.isBuffer(q)) return q ?? null;
      if (!q.equals(p)) prefixes.push(q);
    }
    const schedules = prefixes.map((x) => new addon.KeySchedule(key, x));
    return new NativeCarpAuth(cfg.vhid, schedules, addon.signInto);
  }

  sign(counter: bigint): Buffer {
    return this.#sign.sign(BigInt.asUintN(64, counter));
  }

  /** Like CarpAuth.verify: compares the first 20 bytes of `hmac`; false when it is shorter. */
  verify(counter: bigint, hmac: Uint8Array): boolean {
    const c = BigInt.asUintN(64, counter);
    const md = hmac.length > 20 ? hmac.subarray(0, 20) : hmac;
    let ok = false;
    for (const s of this.schedules) ok = s.verify(c, md) || ok;
    return ok;
  }

  /** Checks a 36-byte CARP header in place (counter at +8, HMAC at +16); false if short. */
  verifyHeader(buf: Uint8Array, offset = 0): boolean {
    if (!(offset >= 0) || !Number.isInteger(offset) || buf.length - offset < CARP_HEADER_LEN) return false;
    const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    return this.verify(b.readBigUInt64BE(offset + 8), b.subarray(offset + 16, offset + 36));
  }

  /**
   * Fills counter, HMAC and checksum of the header at buf[offset..+36); bytes 0–5 (version/type,
   * vhid, advskew, authlen, demote, advbase) must already be written. RangeError if it does not fit.
   */
  signHeaderInto(buf: Uint8Array, offset: number, counter: bigint): void {
    this.#signInto(this.#sign, buf, offset, BigInt.asUintN(64, counter));
  }
}

/** The native authenticator when the addon is built, else the TypeScript CarpAuth. */
export function createCarpAuth(cfg: CarpAuthConfig): CarpAuth | NativeCarpAuth | HmacError {
  return NativeCarpAuth.create(cfg) ?? CarpAuth.create(cfg);
}

/** Fills counter, HMAC and checksum of a header whose bytes 0–5 are written (either back end). */
export function signHeaderInto(auth: CarpAuth | NativeCarpAuth, buf: Buffer, offset: number, counter: bigint): void {
  if (auth instanceof NativeCarpAuth) return auth.signHeaderInto(buf, offset, counter);
  if (!(offset >= 0) || buf.length - offset < CARP_HEADER_LEN) throw new RangeError("signHeaderInto: offset out of range");
  buf.writeBigUInt64BE(BigInt.asUintN(64, counter), offset + 8);
  auth.signInto(counter, buf, offset + 16);
  carpFinishChecksum(buf, offset);
}

// ---------------------------------------------------------------------------------------------
// Key table and batches.

/** vhid → authenticator(s), backed by the addon's KeyTable or by a Map of CarpAuth. */
export class CarpKeyTable {
  readonly backend: "native" | "ts";
  /** Native table (backend "native") — the contexts are copied in, so later edits need set(). */
  readonly native: NativeKeyTable | null;
  readonly #ts = new Map<number, CarpAuth>();

  constructor(opts: { backend?: "native" | "ts" | "auto" } = {}) {
    const want = opts.backend ?? "auto";
    if (want === "native" && !addon) throw new Error(`carp_codec addon not available: ${nativeCodecError()}`);
    this.backend = want === "ts" || !addon ? "ts" : "native";
    this.native = this.backend === "native" ? new addon!.KeyTable() : null;
  }

  /** Adds or replaces cfg.vhid's keys. Returns an error value for a bad config (table unchanged). */
  set(cfg: CarpAuthConfig): HmacError | undefined {
    if (this.native) {
      const a = NativeCarpAuth.create(cfg);
      if (a === null) return { error: "carp_codec addon not available" };
      if (!(a instanceof NativeCarpAuth)) return a;
      this.native.set(cfg.vhid, [...a.schedules]);
      return undefined;
    }
    const a = CarpAuth.create(cfg);
    if (!(a instanceof CarpAuth)) return a;
    this.#ts.set(cfg.vhid, a);
    return undefined;
  }

  delete(vhid: number): boolean {
    return this.native ? this.native.delete(vhid) : this.#ts.delete(vhid);
  }

  has(vhid: number): boolean {
    return this.native ? this.native.has(vhid) : this.#ts.has(vhid);
  }

  /** @internal the TS authenticator for a vhid (ts backend). */
  tsAuth(vhid: number): CarpAuth | undefined {
    return this.#ts.get(vhid);
  }
}

function checkBatchArgs(buf: Uint8Array, offsets: Uint32Array, lengths: Lengths, verdicts: Uint8Array): void {
  if (!(buf instanceof Uint8Array)) throw new TypeError("buf must be a Uint8Array");
  if (!(offsets instanceof Uint32Array)) throw new TypeError("offsets must be a Uint32Array");
  if (typeof lengths === "number") {
    if (!Number.isInteger(lengths) || lengths < 0 || lengths > 0xffffffff) throw new TypeError("lengths must be a Uint32Array or an integer");
  } else if (!(lengths instanceof Uint32Array)) throw new TypeError("lengths must be a Uint32Array or an integer");
  else if (lengths.length < offsets.length) throw new RangeError("lengths is shorter than offsets");
  if (!(verdicts instanceof Uint8Array)) throw new TypeError("verdicts must be a Uint8Array");
  if (verdicts.length < offsets.length) throw new RangeError("verdicts is shorter than offsets");
}

const FIELD_TYPES: [keyof BatchFields, Function][] = [
  ["version", Uint8Array], ["type", Uint8Array], ["vhid", Uint8Array], ["advskew", Uint8Array],
  ["authlen", Uint8Array], ["demote", Uint8Array], ["advbase", Uint8Array], ["checksum", Uint16Array],
  ["counterHi", Uint32Array], ["counterLo", Uint32Array],
];
function checkFields(f: BatchFields | undefined, n: number): void {
  if (f === undefined || f === null) return;
  if (typeof f !== "object") throw new TypeError("fields must be an object of typed arrays");
  for (const [k, T] of FIELD_TYPES) {
    const a = f[k] as unknown;
    if (a === undefined || a === null) continue;
    if (!(a instanceof T) || (a as Uint8Array).constructor !== T) throw new TypeError(`fields.${k} has the wrong type`);
    if ((a as Uint8Array).length < n) throw new TypeError("fields: a field array is shorter than offsets");
  }
}

function putFields(f: BatchFields | undefined, i: number, b: Uint8Array | null, o: number): void {
  if (!f) return;
  const g = (k: number) => (b ? b[o + k] : 0);
  if (f.version) f.version[i] = g(0) >> 4;
  if (f.type) f.type[i] = g(0) & 0x0f;
  if (f.vhid) f.vhid[i] = g(1);
  if (f.advskew) f.advskew[i] = g(2);
  if (f.authlen) f.authlen[i] = g(3);
  if (f.demote) f.demote[i] = g(4);
  if (f.advbase) f.advbase[i] = g(5);
  if (f.checksum) f.checksum[i] = (g(6) << 8) | g(7);
  if (f.counterHi) f.counterHi[i] = ((g(8) << 24) | (g(9) << 16) | (g(10) << 8) | g(11)) >>> 0;
  if (f.counterLo) f.counterLo[i] = ((g(12) << 24) | (g(13) << 16) | (g(14) << 8) | g(15)) >>> 0;
}

/** Start of packet i when at least 36 bytes are available there, else -1. */
function packetAt(buf: Uint8Array, offsets: Uint32Array, lengths: Lengths, i: number): number {
  const off = offsets[i];
  if (off >= buf.length) return -1;
  const want = typeof lengths === "number" ? lengths : lengths[i];
  return Math.min(want, buf.length - off) >= CARP_HEADER_LEN ? off : -1;
}

/**
 * Verifies offsets.length packets in buf: packet i starts at offsets[i] and has lengths[i] bytes
 * (or `lengths` bytes each), clipped to the buffer. verdicts[i] gets a VERDICTS code; fields, when
 * given, get the header fields (zeros for badlen). Returns the number of ok packets.
 * Bad arguments (wrong types, short output arrays) throw TypeError/RangeError; bad packets never throw.
 */
export function verifyBatch(
  table: CarpKeyTable,
  buf: Uint8Array,
  offsets: Uint32Array,
  lengths: Lengths,
  verdicts: Uint8Array,
  fields?: BatchFields,
): number {
  if (!(table instanceof CarpKeyTable)) throw new TypeError("verifyBatch: table must be a CarpKeyTable");
  if (table.native) return addon!.verifyBatch(table.native, buf, offsets, lengths, verdicts, fields);
  return tsBatch(buf, offsets, lengths, verdicts, fields, (o) => {
    const auth = table.tsAuth(buf[o + 1]);
    if (auth === undefined) return VERDICT_BADVHID;
    if (buf[o] >> 4 !== 2) return VERDICT_BADVER;
    return auth.verifyHeader(buf, o) ? VERDICT_OK : VERDICT_BADAUTH;
  });
}

/**
 * Decodes without keys: verdict badlen, badsum or ok; fields as in verifyBatch. `backend` "auto"
 * (default) uses the addon when built.
 */
export function decodeBatch(
  buf: Uint8Array,
  offsets: Uint32Array,
  lengths: Lengths,
  verdicts: Uint8Array,
  fields?: BatchFields,
  backend: "native" | "ts" | "auto" = "auto",
): number {
  if (backend === "native" && !addon) throw new Error(`carp_codec addon not available: ${nativeCodecError()}`);
  if (addon && backend !== "ts") return addon.decodeBatch(buf, offsets, lengths, verdicts, fields);
  return tsBatch(buf, offsets, lengths, verdicts, fields, () => VERDICT_OK);
}

/**
 * The TypeScript batch loop shared by verifyBatch and decodeBatch: length and checksum for every
 * packet, fields filled, then `judge(offset)` for packets whose checksum holds. Returns the ok count.
 */
function tsBatch(
  buf: Uint8Array,
  offsets: Uint32Array,
  lengths: Lengths,
  verdicts: Uint8Array,
  fields: BatchFields | undefined,
  judge: (offset: number) => number,
): number {
  checkBatchArgs(buf, offsets, lengths, verdicts);
  checkFields(fields, offsets.length);
  let ok = 0;
  for (let i = 0; i < offsets.length; i++) {
    const o = packetAt(buf, offsets, lengths, i);
    if (o < 0) {
      verdicts[i] = VERDICT_BADLEN;
      putFields(fields, i, null, 0);
      continue;
    }
    putFields(fields, i, buf, o);
    verdicts[i] = inetChecksum(buf, o, o + CARP_HEADER_LEN) !== 0 ? VERDICT_BADSUM : judge(o);
    if (verdicts[i] === VERDICT_OK) ok++;
  }
  return ok;
}

// ---------------------------------------------------------------------------------------------
// Single-packet mirrors of the TS codec (for differential tests and callers that want one API).

const one = new Uint32Array(1);
const oneVerdict = new Uint8Array(1);
const oneFields = {
  version: new Uint8Array(1), type: new Uint8Array(1), vhid: new Uint8Array(1), advskew: new Uint8Array(1),
  authlen: new Uint8Array(1), demote: new Uint8Array(1), advbase: new Uint8Array(1), checksum: new Uint16Array(1),
  counterHi: new Uint32Array(1), counterLo: new Uint32Array(1),
};

/** decodeCarp through the addon's decoder (falls back to decodeCarp). Same result shape. */
export function nativeDecodeCarp(buf: Uint8Array, offset = 0): CarpHeader | { error: "badlen" } {
  if (!addon) return decodeCarp(buf, offset);
  if (!(offset >= 0) || !Number.isInteger(offset) || offset > 0xffffffff) return { error: "badlen" };
  one[0] = offset;
  addon.decodeBatch(buf, one, 0xffffffff, oneVerdict, oneFields);
  if (oneVerdict[0] === VERDICT_BADLEN) return { error: "badlen" };
  const f = oneFields;
  return {
    version: f.version[0], type: f.type[0], vhid: f.vhid[0], advskew: f.advskew[0], authlen: f.authlen[0],
    demote: f.demote[0], advbase: f.advbase[0], checksum: f.checksum[0],
    counter: (BigInt(f.counterHi[0]) << 32n) | BigInt(f.counterLo[0]),
    hmac: Buffer.from(buf.subarray(offset + 16, offset + 36)),
  };
}

/** inetChecksum(buf, start, end) through the addon (falls back to inetChecksum). */
export function nativeInetChecksum(buf: Uint8Array, start = 0, end = buf.length): number {
  if (!addon) return inetChecksum(buf, start, end);
  const s = Math.max(0, Math.min(start, buf.length));
  const e = Math.max(s, Math.min(end, buf.length));
  return addon.checksum(buf, s, e - s);
}
