// CARP's HMAC-SHA1 (protocol notes carp-protocol.md §2, not shipped): key derivation, the hashed message, and CarpAuth,
// a per-vhid signer/verifier that precomputes every SHA-1 block not touched by the counter.
import { CARP_HMAC_LEN, CARP_KEY_LEN } from "./carp.js";
import { SHA1_IV, sha1Compress, sha1LoadBlock, sha1PadTail, Sha1 } from "./sha1.js";
import type { PeerSemantics } from "./types.js";

/** An error value: bad addresses, a vhid out of range, or an address set ucarp cannot express. */
export interface HmacError {
  error: string;
}

/**
 * The 20-byte CARP key from a passphrase, as BSD `ifconfig carp … pass X` builds it: the UTF-8
 * bytes, TRUNCATED to 19 bytes (the bounded copy keeps room for a NUL), zero-padded to 20.
 * An empty password gives the all-zero key, which is what a kernel vhid without `pass` uses.
 * We truncate rather than refuse (ucarp refuses > 19 bytes) so that long passwords interoperate
 * with FreeBSD/OpenBSD peers configured with the same string. Truncation is by bytes, so it may
 * cut a multi-byte UTF-8 character, exactly as ifconfig does. A Buffer is treated the same way.
 */
export function carpKey(password: string | Uint8Array): Buffer {
  const bytes = typeof password === "string" ? Buffer.from(password, "utf8") : password;
  const key = Buffer.alloc(CARP_KEY_LEN);
  key.set(bytes.subarray(0, CARP_KEY_LEN - 1), 0);
  return key;
}

// ---------------------------------------------------------------------------------------------
// Address parsing (strict; local so that the codec has no dependency on the I/O layers).

/** Parses dotted-quad IPv4 to an unsigned 32-bit number, or null (leading zeros refused, like inet_pton). */
export function parseIpv4(s: string): number | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v;
}

/** Parses an IPv6 address (with optional ::, embedded IPv4 tail and %zone) to 16 bytes, or null. */
export function parseIpv6(s: string): Buffer | null {
  const pct = s.indexOf("%");
  if (pct >= 0) s = s.slice(0, pct);
  if (s.length === 0 || s.length > 45) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const words = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const groups = part.split(":");
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (i === groups.length - 1 && g.includes(".")) {
        const v4 = parseIpv4(g);
        if (v4 === null) return null;
        out.push(Math.floor(v4 / 0x10000), v4 & 0xffff);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = words(halves[0]);
  const tail = halves.length === 2 ? words(halves[1]) : [];
  if (head === null || tail === null) return null;
  let all: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return null;
    all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    all = head;
  }
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}

/**
 * KAME's IN6_IS_SCOPE_EMBED: link-local unicast (fe80::/10) and interface-/link-local multicast
 * (ff01::/16, ff02::/16 and the same scopes with flag bits). Kernels keep the scope id in bytes 2–3
 * of these and zero it before hashing; OpenBSD's sending context leaves them out.
 */
export function isScopeEmbedded(a: Uint8Array): boolean {
  if (a[0] === 0xfe && (a[1] & 0xc0) === 0x80) return true;
  return a[0] === 0xff && ((a[1] & 0x0f) === 0x01 || (a[1] & 0x0f) === 0x02);
}

function parseMac(mac: string | Uint8Array): Buffer | null {
  if (typeof mac !== "string") return mac.length === 6 ? Buffer.from(mac) : null;
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return null;
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

// ---------------------------------------------------------------------------------------------
// The hashed message.

export interface CarpHmacOptions {
  /** Whose message rules to follow. Default "freebsd". */
  semantics?: PeerSemantics;
  /**
   * IPv6 link-local (scope-embedded) addresses: included with bytes 2–3 zeroed (FreeBSD, and
   * OpenBSD's HMAC_ORIG context) or skipped (OpenBSD's HMAC_NOV6LL sending context).
   * Default: true for freebsd, false for openbsd (its sending context).
   */
  includeV6LinkLocal?: boolean;
  /**
   * OpenBSD only: the carp interface's lladdr, hashed between `02 01` and the vhid when an admin
   * set a custom MAC. The default virtual MAC 00:00:5e:00:01:vhid is never hashed (as in OpenBSD),
   * so passing it is the same as omitting it.
   */
  lladdr?: string | Uint8Array;
}

/** The counter-independent part of the message: `02 01 [lladdr] vhid ‖ v4… ‖ v6…`. */
export function carpHmacPrefix(
  vhid: number,
  v4: readonly string[],
  v6: readonly string[],
  opts: CarpHmacOptions = {},
): Buffer | HmacError {
  const semantics = opts.semantics ?? "freebsd";
  if (!Number.isInteger(vhid) || vhid < 1 || vhid > 255) return { error: `vhid ${vhid} out of range 1-255` };

  let mac: Buffer | null = null;
  if (opts.lladdr !== undefined) {
    if (semantics !== "openbsd") return { error: "lladdr is hashed only with openbsd semantics" };
    mac = parseMac(opts.lladdr);
    if (mac === null) return { error: `bad lladdr ${String(opts.lladdr)}` };
    if (mac.equals(Buffer.from([0, 0, 0x5e, 0, 1, vhid]))) mac = null;
  }

  if (semantics === "ucarp") {
    if (v4.length !== 1 || v6.length !== 0) {
      return { error: `ucarp hashes exactly one IPv4 address and no IPv6 (got ${v4.length} IPv4, ${v6.length} IPv6)` };
    }
    const a = parseIpv4(v4[0]);
    if (a === null) return { error: `bad IPv4 address ${v4[0]}` };
    if (a === 0 || a === 0xffffffff) return { error: `ucarp cannot use ${v4[0]} as its address` };
  }

  // IPv4: ascending as numbers, strictly between 0 and 0xffffffff, duplicates once.
  const v4n: number[] = [];
  for (const s of v4) {
    const a = parseIpv4(s);
    if (a === null) return { error: `bad IPv4 address ${s}` };
    if (a !== 0 && a !== 0xffffffff) v4n.push(a);
  }
  v4n.sort((x, y) => x - y);
  const v4u = v4n.filter((a, i) => i === 0 || a !== v4n[i - 1]);

  // IPv6: scope bytes zeroed first (kernels compare the cleared form), then memcmp order.
  const includeLL = opts.includeV6LinkLocal ?? semantics !== "openbsd";
  const v6b: Buffer[] = [];
  for (const s of v6) {
    const a = parseIpv6(s);
    if (a === null) return { error: `bad IPv6 address ${s}` };
    if (isScopeEmbedded(a)) {
      if (!includeLL) continue;
      a[2] = 0;
      a[3] = 0;
    }
    if (a.every((x) => x === 0) || a.every((x) => x === 0xff)) continue;
    v6b.push(a);
  }
  v6b.sort(Buffer.compare);
  const v6u = v6b.filter((a, i) => i === 0 || !a.equals(v6b[i - 1]));

  const out = Buffer.alloc(2 + (mac ? 6 : 0) + 1 + 4 * v4u.length + 16 * v6u.length);
  let o = 0;
  out[o++] = 0x02;
  out[o++] = 0x01;
  if (mac) o += mac.copy(out, o);
  out[o++] = vhid;
  for (const a of v4u) o = out.writeUInt32BE(a, o);
  for (const a of v6u) o += a.copy(out, o);
  return out;
}

/** The full HMAC input: prefix ‖ counter (BE64). See carpHmacPrefix for the rules. */
export function carpHmacMessage(
  vhid: number,
  v4: readonly string[],
  v6: readonly string[],
  counter: bigint,
  opts: CarpHmacOptions = {},
): Buffer | HmacError {
  const prefix = carpHmacPrefix(vhid, v4, v6, opts);
  if (!Buffer.isBuffer(prefix)) return prefix;
  const out = Buffer.alloc(prefix.length + 8);
  prefix.copy(out, 0);
  out.writeBigUInt64BE(BigInt.asUintN(64, counter), prefix.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Precomputed HMAC-SHA1 for one message prefix.

// Scratch shared by all contexts; JS is single-threaded and no call re-enters.
const W = new Int32Array(80);
const ST = new Int32Array(5);
const MASK32 = 0xffffffffn;

/**
 * HMAC-SHA1(key, prefix ‖ counter) with the inner state saved after key⊕ipad and every whole
 * 64-byte block of the prefix, and the outer state saved after key⊕opad. Per packet: the
 * prefix tail + 8 counter bytes + padding (one compression when the tail is ≤ 47 bytes, else two)
 * and one outer compression.
 */
export class HmacContext {
  readonly prefix: Buffer;
  private readonly inner: Int32Array;
  private readonly outer: Int32Array;
  /** Padded final inner block(s); the counter goes at `ctrPos`. */
  private readonly tail: Uint8Array;
  private readonly ctrPos: number;
  /** The outer block: 5 digest words, 0x80000000, zeros, bit length 672 = (64 + 20) * 8. */
  private readonly outerBlock = new Int32Array(16);

  constructor(key: Uint8Array, prefix: Buffer) {
    if (key.length > 64) throw new RangeError("HmacContext: keys over 64 bytes are not used by CARP");
    this.prefix = prefix;
    const ipad = new Uint8Array(64).fill(0x36);
    const opad = new Uint8Array(64).fill(0x5c);
    for (let i = 0; i < key.length; i++) {
      ipad[i] ^= key[i];
      opad[i] ^= key[i];
    }
    const whole = prefix.length - (prefix.length % 64);
    const ih = new Sha1(SHA1_IV, 0).update(ipad).update(prefix, 0, whole);
    this.inner = Int32Array.from(ih.state);
    const rest = prefix.subarray(whole);
    const tailBytes = new Uint8Array(rest.length + 8);
    tailBytes.set(rest, 0);
    this.tail = sha1PadTail(tailBytes, 64 + prefix.length + 8);
    this.ctrPos = rest.length;
    this.outer = Int32Array.from(new Sha1(SHA1_IV, 0).update(opad).state);
    this.outerBlock[5] = 0x80000000 | 0;
    this.outerBlock[15] = (64 + CARP_HMAC_LEN) * 8;
  }

  /** Runs the per-packet part; the digest is left in ST. The counter must already be in `tail`. */
  private finish(): void {
    ST.set(this.inner);
    for (let off = 0; off < this.tail.length; off += 64) {
      sha1LoadBlock(W, this.tail, off);
      sha1Compress(ST, W);
    }
    const ob = this.outerBlock;
    ob[0] = ST[0]; ob[1] = ST[1]; ob[2] = ST[2]; ob[3] = ST[3]; ob[4] = ST[4];
    W.set(ob);
    ST.set(this.outer);
    sha1Compress(ST, W);
  }

  private setCounterWords(hi: number, lo: number): void {
    const t = this.tail, p = this.ctrPos;
    t[p] = hi >>> 24; t[p + 1] = (hi >>> 16) & 0xff; t[p + 2] = (hi >>> 8) & 0xff; t[p + 3] = hi & 0xff;
    t[p + 4] = lo >>> 24; t[p + 5] = (lo >>> 16) & 0xff; t[p + 6] = (lo >>> 8) & 0xff; t[p + 7] = lo & 0xff;
  }

  private setCounter(counter: bigint | Uint8Array, counterOffset: number): void {
    if (typeof counter === "bigint") {
      const c = BigInt.asUintN(64, counter);
      this.setCounterWords(Number(c >> 32n), Number(c & MASK32));
    } else {
      const t = this.tail, p = this.ctrPos;
      for (let i = 0; i < 8; i++) t[p + i] = counter[counterOffset + i];
    }
  }

  /** Writes HMAC(prefix ‖ counter) into out[offset..offset+20). */
  signInto(counter: bigint | Uint8Array, out: Uint8Array, offset = 0, counterOffset = 0): void {
    this.setCounter(counter, counterOffset);
    this.finish();
    for (let i = 0; i < 5; i++) {
      const v = ST[i], o = offset + i * 4;
      out[o] = v >>> 24; out[o + 1] = (v >>> 16) & 0xff; out[o + 2] = (v >>> 8) & 0xff; out[o + 3] = v & 0xff;
    }
  }

  /** Constant-time comparison of HMAC(prefix ‖ counter) with hmac[hmacOffset..+20). */
  verify(counter: bigint | Uint8Array, hmac: Uint8Array, hmacOffset = 0, counterOffset = 0): boolean {
    if (hmacOffset < 0 || hmac.length - hmacOffset < CARP_HMAC_LEN) return false;
    if (typeof counter !== "bigint" && (counterOffset < 0 || counter.length - counterOffset < 8)) return false;
    this.setCounter(counter, counterOffset);
    this.finish();
    let diff = 0;
    for (let i = 0; i < 5; i++) {
      const o = hmacOffset + i * 4;
      diff |= ST[i] ^ ((hmac[o] << 24) | (hmac[o + 1] << 16) | (hmac[o + 2] << 8) | hmac[o + 3]);
    }
    return diff === 0;
  }

  message(counter: bigint): Buffer {
    const out = Buffer.alloc(this.prefix.length + 8);
    this.prefix.copy(out, 0);
    out.writeBigUInt64BE(BigInt.asUintN(64, counter), this.prefix.length);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------

export interface CarpAuthConfig {
  vhid: number;
  v4?: readonly string[];
  v6?: readonly string[];
  /** Passphrase, turned into the key by carpKey (≤ 19 bytes). Omitted or "" = all-zero key. */
  password?: string | Uint8Array;
  /** A raw key instead of a password (e.g. 20 bytes set through FreeBSD netlink). ≤ 64 bytes. */
  key?: Uint8Array;
  semantics?: PeerSemantics;
  /** OpenBSD only: custom carp lladdr hashed into the message (see CarpHmacOptions). */
  lladdr?: string | Uint8Array;
}

/**
 * Signs and verifies one vhid's advertisements. Build once per configuration with CarpAuth.create.
 * freebsd/ucarp: one context (link-local IPv6 included, scope-zeroed).
 * openbsd: signs with link-local IPv6 left out (HMAC_NOV6LL); verify accepts either context.
 */
export class CarpAuth {
  readonly vhid: number;
  readonly semantics: PeerSemantics;
  /** The context used to sign. */
  readonly primary: HmacContext;
  /** OpenBSD's other context (link-locals included), only when it differs from the primary. */
  readonly alternate: HmacContext | null;

  private constructor(vhid: number, semantics: PeerSemantics, primary: HmacContext, alternate: HmacContext | null) {
    this.vhid = vhid;
    this.semantics = semantics;
    this.primary = primary;
    this.alternate = alternate;
  }

  static create(cfg: CarpAuthConfig): CarpAuth | HmacError {
    const semantics = cfg.semantics ?? "freebsd";
    if (cfg.key !== undefined && cfg.password !== undefined) return { error: "give either password or key, not both" };
    if (cfg.key !== undefined && cfg.key.length > 64) return { error: "key longer than 64 bytes" };
    if (semantics === "ucarp" && (cfg.password === undefined || cfg.password.length === 0) && cfg.key === undefined) {
      return { error: "ucarp requires a non-empty password" };
    }
    const key = cfg.key !== undefined ? cfg.key : carpKey(cfg.password ?? "");
    const v4 = cfg.v4 ?? [], v6 = cfg.v6 ?? [];
    const opts = { semantics, lladdr: cfg.lladdr };
    const p = carpHmacPrefix(cfg.vhid, v4, v6, opts);
    if (!Buffer.isBuffer(p)) return p;
    const primary = new HmacContext(key, p);
    let alternate: HmacContext | null = null;
    if (semantics === "openbsd") {
      const q = carpHmacPrefix(cfg.vhid, v4, v6, { ...opts, includeV6LinkLocal: true });
      if (!Buffer.isBuffer(q)) return q;
      if (!q.equals(p)) alternate = new HmacContext(key, q);
    }
    return new CarpAuth(cfg.vhid, semantics, primary, alternate);
  }

  sign(counter: bigint): Buffer {
    const out = Buffer.allocUnsafe(CARP_HMAC_LEN);
    this.primary.signInto(counter, out, 0);
    return out;
  }

  signInto(counter: bigint | Uint8Array, out: Uint8Array, offset = 0, counterOffset = 0): void {
    this.primary.signInto(counter, out, offset, counterOffset);
  }

  /**
   * Constant-time check of a received HMAC. `counter` is a bigint or the bytes holding it (8 bytes
   * at counterOffset, as on the wire). For openbsd both contexts are tried (and both computed).
   */
  verify(counter: bigint | Uint8Array, hmac: Uint8Array, hmacOffset = 0, counterOffset = 0): boolean {
    const a = this.primary.verify(counter, hmac, hmacOffset, counterOffset);
    if (this.alternate === null) return a;
    const b = this.alternate.verify(counter, hmac, hmacOffset, counterOffset);
    return a || b;
  }

  /** Checks a 36-byte CARP header in place: counter at +8, HMAC at +16. */
  verifyHeader(buf: Uint8Array, offset = 0): boolean {
    return this.verify(buf, buf, offset + 16, offset + 8);
  }

  /** The exact bytes hashed for `counter` (the signing context, or OpenBSD's alternate). */
  message(counter: bigint, context: "sign" | "alternate" = "sign"): Buffer {
    return (context === "alternate" && this.alternate ? this.alternate : this.primary).message(counter);
  }
}

export function isHmacError(x: unknown): x is HmacError {
  return typeof x === "object" && x !== null && "error" in x && !Buffer.isBuffer(x);
}
