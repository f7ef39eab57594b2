// Passwords and VIP sets the user gave, HMAC verification of CARP rows, and the "incorrect hash"
// explainer: when a digest does not verify, find out whether the password is wrong or the sender
// hashes a different VIP set (inferred from GARP/NA, a subset of ours, ucarp's single address,
// OpenBSD's set without link-locals).
import { isIPv4 } from "node:net";
import { CARP_HEADER_LEN } from "../protocol/carp.js";
import { CarpAuth, isScopeEmbedded, parseIpv6 } from "../protocol/hmac.js";
import { CarpKeyTable, createCarpAuth, type NativeCarpAuth } from "../protocol/native-codec.js";
import type { Announcement, Row, VhidKeys } from "./types.js";

type Verifier = CarpAuth | NativeCarpAuth;

/** Largest address pool searched exhaustively (2^n subsets). */
const MAX_POOL = 10;

export interface KeyringInput {
  /** vhid → keys. */
  vhids: Map<number, VhidKeys>;
  /** --pass PW without a vhid: used for every vhid that has no password of its own. */
  defaultPassword?: Buffer;
}

interface DiagEntry {
  pool: string;
  found: Verifier | null;
  text: string;
  vips: string[] | null;
}

function splitFamilies(addrs: readonly string[]): { v4: string[]; v6: string[] } {
  const v4: string[] = [], v6: string[] = [];
  for (const a of addrs) (isIPv4(a) ? v4 : v6).push(a);
  return { v4, v6 };
}

function isLinkLocal6(a: string): boolean {
  const b = parseIpv6(a);
  return b !== null && isScopeEmbedded(b);
}

function list(a: readonly string[]): string {
  return a.length ? a.join(", ") : "no addresses";
}

export class Keyring {
  readonly vhids: Map<number, VhidKeys>;
  readonly defaultPassword?: Buffer;
  /** Announced addresses, in order of first sight, with the MACs that claimed them. */
  readonly announced = new Map<string, Set<string>>();
  /** vhid → MACs its adverts came from (to tie GARPs sent with a real MAC to the vhid). */
  readonly advertMacs = new Map<number, Set<string>>();
  private readonly verifiers = new Map<number, { main: Verifier; alt: Verifier | null } | null>();
  private readonly diag = new Map<string, DiagEntry>();
  /** vhid → VIP set that made its digests verify when none was given. */
  readonly inferred = new Map<number, { vips: string[]; auth: Verifier }>();
  private announceVersion = 0;

  constructor(input: KeyringInput) {
    this.vhids = input.vhids;
    this.defaultPassword = input.defaultPassword;
  }

  passwordFor(vhid: number): Buffer | undefined {
    return this.vhids.get(vhid)?.password ?? this.defaultPassword;
  }

  /** The VIP set known for a vhid (given or config), or null. */
  givenVips(vhid: number): VhidKeys | null {
    const k = this.vhids.get(vhid);
    return k && k.vipSource !== "none" ? k : null;
  }

  /** True when some vhid has a password but no VIP set, so announcements matter before verifying. */
  needsInference(): boolean {
    if (this.defaultPassword) return true;
    for (const k of this.vhids.values()) if (k.password && k.vipSource === "none") return true;
    return false;
  }

  hasAnyPassword(): boolean {
    return this.defaultPassword !== undefined || [...this.vhids.values()].some((k) => k.password !== undefined);
  }

  addAnnouncement(a: Announcement): void {
    let macs = this.announced.get(a.vip);
    if (!macs) {
      macs = new Set();
      this.announced.set(a.vip, macs);
      this.announceVersion++;
    }
    const before = macs.size;
    macs.add(a.mac);
    if (a.src_mac) macs.add(a.src_mac);
    if (macs.size !== before) this.announceVersion++;
  }

  noteAdvertMac(vhid: number, mac: string | null): void {
    if (!mac) return;
    let s = this.advertMacs.get(vhid);
    if (!s) this.advertMacs.set(vhid, (s = new Set()));
    if (!s.has(mac)) {
      s.add(mac);
      this.announceVersion++;
    }
  }

  /** Whether an announcement belongs to a vhid: its virtual MAC, or a MAC the vhid's adverts used. */
  isAssociated(vhid: number, vip: string): boolean {
    const macs = this.announced.get(vip);
    if (!macs) return false;
    const vmac = `00:00:5e:00:01:${vhid.toString(16).padStart(2, "0")}`;
    const adv = this.advertMacs.get(vhid);
    for (const m of macs) if (m === vmac || adv?.has(m)) return true;
    return false;
  }

  /** The VIP set a vhid's rows are checked against and where it came from. */
  vipsFor(vhid: number): { vips: string[]; source: "given" | "config" | "inferred" } | null {
    const g = this.givenVips(vhid);
    if (g) return { vips: [...g.v4, ...g.v6], source: g.vipSource as "given" | "config" };
    const i = this.inferred.get(vhid);
    return i ? { vips: i.vips, source: "inferred" } : null;
  }

  private verifierFor(vhid: number): { main: Verifier; alt: Verifier | null } | null {
    if (this.verifiers.has(vhid)) return this.verifiers.get(vhid)!;
    const pw = this.passwordFor(vhid);
    const g = this.givenVips(vhid);
    let v: { main: Verifier; alt: Verifier | null } | null = null;
    if (pw !== undefined && g) {
      const sem = g.semantics === "ucarp" && (g.v4.length !== 1 || g.v6.length) ? "freebsd" : g.semantics;
      const main = createCarpAuth({ vhid, v4: g.v4, v6: g.v6, password: pw, semantics: sem === "openbsd" ? "freebsd" : sem });
      // OpenBSD signs without link-local VIPs; accept that form too and say so.
      const ll = g.v6.filter((a) => !isLinkLocal6(a));
      const alt = ll.length !== g.v6.length ? createCarpAuth({ vhid, v4: g.v4, v6: ll, password: pw }) : null;
      if ("error" in main) throw new Error(`vhid ${vhid}: ${main.error}`);
      v = { main, alt: alt && !("error" in alt) ? alt : null };
    }
    this.verifiers.set(vhid, v);
    return v;
  }

  /** The batch table for the fast path: every vhid with both a password and a VIP set. */
  keyTable(): CarpKeyTable {
    const t = new CarpKeyTable();
    const vhids = new Set<number>(this.vhids.keys());
    for (const vhid of vhids) {
      const pw = this.passwordFor(vhid);
      const g = this.givenVips(vhid);
      if (pw === undefined || !g) continue;
      const err = t.set({ vhid, v4: g.v4, v6: g.v6, password: pw });
      if (err) throw new Error(`vhid ${vhid}: ${err.error}`);
    }
    return t;
  }

  /**
   * Sets row.auth (and error "badauth", diagnosis) for a CARP row whose checksum is right.
   * `payload` holds the 36-byte header at offset 0.
   */
  verifyRow(row: Row, payload: Uint8Array): void {
    if (row.kind !== "carp" || row.vhid === null || row.checksum !== "ok" || row.version !== 2) return;
    const v = this.verifyHeader(row.vhid, row.src, payload);
    row.auth = v.auth;
    if (v.auth === "bad" && row.error === null) row.error = "badauth";
    if (v.diagnosis) row.diagnosis = v.diagnosis;
  }

  /** HMAC verdict for one 36-byte header (checksum already known to be right). */
  verifyHeader(vhid: number, src: string, payload: Uint8Array): { auth: "ok" | "bad" | "unverified"; diagnosis: string | null } {
    if (payload.length < CARP_HEADER_LEN) return { auth: "unverified", diagnosis: null };
    const pw = this.passwordFor(vhid);
    if (pw === undefined) return { auth: "unverified", diagnosis: null };
    const v = this.verifierFor(vhid);
    if (v) {
      if (v.main.verifyHeader(payload, 0)) return { auth: "ok", diagnosis: null };
      if (v.alt && v.alt.verifyHeader(payload, 0)) {
        return { auth: "ok", diagnosis: "HMAC matches OpenBSD's sending form (link-local IPv6 VIPs not hashed); FreeBSD peers reject it" };
      }
      return { auth: "bad", diagnosis: this.diagnose(vhid, src, payload, pw).text };
    }
    // Password but no VIP set: infer it from the addresses announced in the capture.
    const inf = this.inferred.get(vhid);
    if (inf && inf.auth.verifyHeader(payload, 0)) return { auth: "ok", diagnosis: `VIP set inferred from GARP/NA: ${list(inf.vips)}` };
    const d = this.diagnose(vhid, src, payload, pw);
    if (d.found && d.vips) {
      this.inferred.set(vhid, { vips: d.vips, auth: d.found });
      return { auth: "ok", diagnosis: `VIP set inferred from GARP/NA: ${list(d.vips)}` };
    }
    return { auth: "unverified", diagnosis: d.text };
  }

  /** Address pool for the subset search: associated announcements, our set, then the rest. */
  private pool(vhid: number, given: readonly string[]): string[] {
    const out: string[] = [];
    const add = (a: string) => {
      if (!out.includes(a) && out.length < MAX_POOL) out.push(a);
    };
    for (const a of this.announced.keys()) if (this.isAssociated(vhid, a)) add(a);
    for (const a of given) add(a);
    for (const a of this.announced.keys()) add(a);
    return out;
  }

  /** Explains a digest that does not verify with our configuration (cached per vhid and source). */
  diagnose(vhid: number, src: string, payload: Uint8Array, pw: Buffer): DiagEntry {
    const g = this.givenVips(vhid);
    const given = g ? [...g.v4, ...g.v6] : [];
    const key = `${vhid}|${src}`;
    const poolSig = `${this.announceVersion}`;
    const cached = this.diag.get(key);
    if (cached && (cached.found ? cached.found.verifyHeader(payload, 0) : cached.pool === poolSig)) return cached;

    const pool = this.pool(vhid, given);
    let found: Verifier | null = null;
    let vips: string[] | null = null;
    const n = pool.length;
    // Smallest sets first: ucarp's single address and small VIP lists are the common cases.
    const masks: number[] = [];
    for (let m = 0; m < 1 << n; m++) masks.push(m);
    masks.sort((a, b) => popcount(a) - popcount(b) || a - b);
    for (const m of masks) {
      const set = pool.filter((_, i) => m & (1 << i));
      const { v4, v6 } = splitFamilies(set);
      const a = CarpAuth.create({ vhid, v4, v6, password: pw });
      if ("error" in a) continue;
      if (a.verifyHeader(payload, 0)) {
        found = a;
        vips = set;
        break;
      }
    }
    let text: string;
    if (found && vips) {
      if (!g) text = `VIP set inferred from GARP/NA: ${list(vips)}`;
      else {
        const missing = vips.filter((a) => !given.includes(a));
        const extra = given.filter((a) => !vips!.includes(a));
        const parts = [`password is right but the VIP set differs: the sender hashes ${list(vips)}, you gave ${list(given)}`];
        const diff: string[] = [];
        if (missing.length) diff.push(`not in yours: ${missing.join(", ")}`);
        if (extra.length) diff.push(`not in the sender's: ${extra.join(", ")}`);
        if (diff.length) parts.push(`(${diff.join("; ")})`);
        const llFree = given.filter((a) => !isLinkLocal6(a));
        if (llFree.length !== given.length && sameSet(llFree, vips)) {
          parts.push("- this is OpenBSD's sending form (link-local IPv6 VIPs not hashed)");
        } else if (vips.length === 1 && isIPv4(vips[0]) && given.length > 1) {
          parts.push(`- this is ucarp's single-VIP form (ucarp hashes only its --addr ${vips[0]})`);
        }
        text = parts.join(" ");
      }
    } else {
      // Wrong password? Check whether the sender uses none at all.
      const { v4, v6 } = splitFamilies(given);
      const zero = CarpAuth.create({ vhid, v4, v6, password: "" });
      if (pw.length > 0 && !("error" in zero) && zero.verifyHeader(payload, 0)) {
        text = "the sender uses no password (all-zero key) with your VIP set";
      } else if (!g && n === 0) {
        text = "no VIP set given and no GARP/NA seen to infer one: give --vip VHID=ADDR";
      } else {
        const known = new Set([...given, ...this.announced.keys()]).size;
        const of = known > n ? `${n} of the ${known}` : `${n}`;
        text =
          `wrong password: no subset of the ${of} known address(es) (${list(pool)}) verifies with it` +
          " (or the sender hashes addresses not announced in this capture)";
      }
    }
    const e: DiagEntry = { pool: poolSig, found, text, vips };
    this.diag.set(key, e);
    return e;
  }
}

function popcount(m: number): number {
  let c = 0;
  for (; m; m &= m - 1) c++;
  return c;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
