// IPv4/IPv6 addresses: text <-> bytes, canonical (RFC 5952) text, comparison and classification.
import { isIP } from "node:net";

import type { IpFamily } from "./types.js";

export interface ParsedAddr {
  family: IpFamily;
  bytes: Buffer; // 4 or 16 bytes, network order
  text: string; // canonical text (RFC 5952 for IPv6), without zone
  zone?: string; // "eth0" from "fe80::1%eth0"
}

export interface ParsedPrefix extends ParsedAddr {
  prefixLen: number; // 0..32 or 0..128; the full length when no "/n" was given
}

export interface AddrError {
  error: "badaddr" | "badprefix";
  detail: string;
}

/** Dotted quad to 4 bytes, or null. Strict: exactly four decimal octets, no leading "+"/spaces. */
export function ipv4ToBytes(text: string): Buffer | null {
  if (isIP(text) !== 4) return null;
  const parts = text.split(".");
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) out[i] = Number(parts[i]);
  return out;
}

/** IPv6 text (optionally with an embedded IPv4 tail, no zone) to 16 bytes, or null. */
export function ipv6ToBytes(text: string): Buffer | null {
  if (isIP(text) !== 6 || text.includes("%")) return null;
  let s = text;
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(":");
  if (s.indexOf(".", lastColon) > 0) {
    const v4 = ipv4ToBytes(s.slice(lastColon + 1));
    if (!v4) return null;
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    // Keep a trailing "::" intact ("::1.2.3.4" -> "::"), otherwise drop the separating ":".
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith("::")) s = s.slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const toGroups = (h: string): number[] => (h === "" ? [] : h.split(":").map((g) => parseInt(g, 16)));
  const head = toGroups(halves[0]);
  const rest = halves.length === 2 ? toGroups(halves[1]) : [];
  const explicit = head.length + rest.length + tail.length;
  if (halves.length === 1 && explicit !== 8) return null;
  if (halves.length === 2 && explicit > 7) return null;
  const groups = [...head, ...new Array<number>(8 - explicit).fill(0), ...rest, ...tail];
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i] & 0xffff, i * 2);
  return out;
}

export function formatIpv4(buf: Uint8Array, offset = 0): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** RFC 5952 canonical text: lower case, no leading zeros, longest (first on tie) run of >= 2 zero groups as "::". */
export function formatIpv6(buf: Uint8Array, offset = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((buf[offset + 2 * i] << 8) | buf[offset + 2 * i + 1]);
  // IPv4-mapped addresses keep the dotted quad (RFC 5952 §5).
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIpv4(buf, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestStart && bestLen >= 2) {
      out += "::";
      i += bestLen - 1;
      continue;
    }
    if (out !== "" && !out.endsWith("::")) out += ":";
    out += g[i].toString(16);
  }
  return out;
}

/** 4 or 16 bytes to canonical text. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return formatIpv4(bytes);
  if (bytes.length === 16) return formatIpv6(bytes);
  throw new RangeError(`formatIp: address must be 4 or 16 bytes, got ${bytes.length}`);
}

/** Parse IPv4 or IPv6 text (IPv6 may carry a "%zone"). */
export function parseIp(text: string): ParsedAddr | AddrError {
  const s = text.trim();
  const pct = s.indexOf("%");
  const zone = pct >= 0 ? s.slice(pct + 1) : undefined;
  const base = pct >= 0 ? s.slice(0, pct) : s;
  const v4 = zone === undefined ? ipv4ToBytes(base) : null;
  if (v4) return { family: 4, bytes: v4, text: formatIpv4(v4) };
  const v6 = ipv6ToBytes(base);
  if (v6 && (zone === undefined || /^[A-Za-z0-9_.:-]+$/.test(zone))) {
    return zone === undefined ? { family: 6, bytes: v6, text: formatIpv6(v6) } : { family: 6, bytes: v6, text: formatIpv6(v6), zone };
  }
  return { error: "badaddr", detail: `not an IPv4 or IPv6 address: ${JSON.stringify(text)}` };
}

/** Text to bytes (4 or 16), or null. */
export function ipToBytes(text: string): Buffer | null {
  const r = parseIp(text);
  return "error" in r ? null : r.bytes;
}

/** Canonical text of an address given as text, or null when it does not parse. */
export function canonicalIp(text: string): string | null {
  const r = parseIp(text);
  return "error" in r ? null : r.text;
}

/** "198.51.100.5/24", "2001:db8::1/64" or a bare address (full-length prefix). */
export function parsePrefix(text: string): ParsedPrefix | AddrError {
  const s = text.trim();
  const slash = s.indexOf("/");
  const a = parseIp(slash >= 0 ? s.slice(0, slash) : s);
  if ("error" in a) return a;
  const max = a.family === 4 ? 32 : 128;
  if (slash < 0) return { ...a, prefixLen: max };
  const lenText = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
    return { error: "badprefix", detail: `bad prefix length in ${JSON.stringify(text)} (0..${max})` };
  }
  return { ...a, prefixLen: Number(lenText) };
}

function asBytes(a: string | Uint8Array): Uint8Array | null {
  return typeof a === "string" ? ipToBytes(a) : a;
}

/**
 * Numeric order of two addresses (text or bytes). IPv4 sorts before IPv6. Returns <0, 0, >0.
 * Unparseable text sorts last, so sorting mixed input never throws.
 */
export function compareIp(a: string | Uint8Array, b: string | Uint8Array): number {
  const x = asBytes(a);
  const y = asBytes(b);
  if (!x || !y) return (x ? 0 : 1) - (y ? 0 : 1);
  if (x.length !== y.length) return x.length - y.length;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

export function isMulticast(a: string | Uint8Array): boolean {
  const x = asBytes(a);
  if (!x) return false;
  return x.length === 4 ? (x[0] & 0xf0) === 0xe0 : x[0] === 0xff;
}

/** 169.254.0.0/16, fe80::/10 and link-local-scope IPv6 multicast (ff02::/16). */
export function isLinkLocal(a: string | Uint8Array): boolean {
  const x = asBytes(a);
  if (!x) return false;
  if (x.length === 4) return x[0] === 169 && x[1] === 254;
  return (x[0] === 0xfe && (x[1] & 0xc0) === 0x80) || (x[0] === 0xff && (x[1] & 0x0f) === 0x02);
}

/** True when addr lies inside prefix/len (same family). */
export function inPrefix(addr: string | Uint8Array, prefix: string | Uint8Array, len: number): boolean {
  const x = asBytes(addr);
  const p = asBytes(prefix);
  if (!x || !p || x.length !== p.length || len < 0 || len > x.length * 8) return false;
  const full = len >> 3;
  for (let i = 0; i < full; i++) if (x[i] !== p[i]) return false;
  const bits = len & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (x[full] & mask) === (p[full] & mask);
}
