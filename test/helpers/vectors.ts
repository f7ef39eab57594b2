// The known-answer vectors and captures in test/fixtures (see its README), loaded once for every test that needs it.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";

export const VECTORS_DIR = resolve(__dirname, "../fixtures");

/** One entry of carp-vectors.json (D1–D6). */
export interface CarpVector {
  name: string;
  pw: string;
  vhid: number;
  advskew: number;
  advbase: number;
  demote: number;
  v4: string[];
  v6: string[];
  src: string;
  counter: number; // lossy above 2^53: use counterOf()
  hmac_input: string;
  hmac: string;
  carp_cksum: string;
  carp_header: string;
  frame: string;
}

export interface NegativeVector {
  name: string;
  frame: string;
}

export const vectorPath = (file: string): string => resolve(VECTORS_DIR, file);

export const carpVectors: CarpVector[] = JSON.parse(readFileSync(vectorPath("carp-vectors.json"), "utf8")).vectors;
export const negativeVectors: NegativeVector[] = JSON.parse(readFileSync(vectorPath("carp-negative.json"), "utf8"));

/** JSON.parse loses precision above 2^53: the counter comes from header bytes 8–15. */
export const counterOf = (v: CarpVector): bigint => Buffer.from(v.carp_header, "hex").readBigUInt64BE(8);

/** The IP payload and TTL/hop limit of an Ethernet + IPv4/IPv6 frame (no VLAN), independent of our parsers. */
export function ipPayload(frameHex: string): { payload: Buffer; ttl: number } {
  const f = Buffer.from(frameHex, "hex");
  const etype = f.readUInt16BE(12);
  if (etype === 0x0800) {
    const ihl = (f[14] & 0x0f) * 4;
    return { payload: f.subarray(14 + ihl, 14 + f.readUInt16BE(16)), ttl: f[22] };
  }
  if (etype === 0x86dd) return { payload: f.subarray(54, 54 + f.readUInt16BE(18)), ttl: f[21] };
  throw new Error(`unexpected ethertype ${etype}`);
}
