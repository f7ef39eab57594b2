// The receive checks shared by the daemon and the inspector. Pure: IP-level facts and the CARP
// payload in, a verdict with a carpstats-style reason and a human sentence out.
//
// Order (close to FreeBSD 14 carp_input/carp_input_c; protocol notes §1.3):
//   1. badlen   payload shorter than 36 bytes (longer is fine; only the first 36 are used)
//   2. badsum   Internet checksum over the 36 bytes ≠ 0
//   3. badvhid  no configuration for this vhid (lookup callback returns undefined)
//   4. badver   version nibble ≠ 2
//   5. badttl   TTL / hop limit ≠ 255, checked when the vhid's destination is multicast
//               (FreeBSD), or always when ttlPolicy is "always" (OpenBSD, ucarp)
//   6. badauth  HMAC mismatch (OpenBSD semantics try both contexts, inside CarpAuth)
// Policy: the type nibble, authlen and byte 4 are NOT checked, because FreeBSD, OpenBSD and ucarp
// accept any value there. So the vectors N4 (type 2) and N6 (authlen 5) are accepted. Callers
// that want to warn about them can look at `header`. There is no replay check (none of the peers has
// one); looped packets are recognised by source address elsewhere.
import { CARP_HEADER_LEN, CARP_TTL, CARP_VERSION, decodeCarp } from "./carp.js";
import { inetChecksum } from "./checksum.js";
import type { CarpHeader, CarpReason } from "./types.js";

/** Anything that can check the HMAC of a 36-byte header in place (CarpAuth does). */
export interface CarpVerifier {
  verifyHeader(buf: Uint8Array, offset?: number): boolean;
}

/** What receive() needs to know about a configured vhid. */
export interface ReceiveVhid {
  auth: CarpVerifier;
  /**
   * "multicast" (default, FreeBSD): require TTL 255 only when the destination is multicast.
   * "always" (OpenBSD, ucarp): require TTL 255 for every packet.
   */
  ttlPolicy?: "multicast" | "always";
  /**
   * Whether this vhid sends to a multicast group (FreeBSD decides the TTL check by the vhid's
   * configured destination). When omitted, the packet's own destination decides.
   */
  multicastDestination?: boolean;
}

/** IP-level facts about the packet that carried the CARP payload. */
export interface ReceiveFacts {
  /** IPv4 TTL or IPv6 hop limit. */
  ttl: number;
  /** The IP destination, e.g. "224.0.0.18". Used to decide whether it was multicast. */
  dst?: string;
  /** Overrides the multicast test of `dst`. */
  dstMulticast?: boolean;
}

export type ReceiveResult =
  | { ok: true; header: CarpHeader }
  | { ok: false; reason: CarpReason; header?: CarpHeader; detail: string };

export type VhidLookup = (vhid: number) => ReceiveVhid | undefined;

/** True for IPv4 224.0.0.0/4 and IPv6 ff00::/8 in text form. */
export function isMulticastAddress(addr: string): boolean {
  if (addr.includes(":")) return /^ff[0-9a-f]{2}:/i.test(addr);
  const first = Number(addr.split(".")[0]);
  return first >= 224 && first <= 239;
}

/**
 * Runs the checks above on `payload[offset…]` (the IP payload, at least 36 bytes).
 * Never throws for any input.
 */
export function receiveCarp(
  payload: Uint8Array,
  facts: ReceiveFacts,
  lookup: VhidLookup,
  offset = 0,
): ReceiveResult {
  const h = decodeCarp(payload, offset);
  if ("error" in h) {
    const have = Math.max(0, payload.length - Math.max(0, offset));
    return { ok: false, reason: "badlen", detail: `payload ${have} bytes, expected at least ${CARP_HEADER_LEN}` };
  }
  const sum = inetChecksum(payload, offset, offset + CARP_HEADER_LEN);
  if (sum !== 0) {
    return {
      ok: false,
      reason: "badsum",
      header: h,
      detail: `checksum 0x${hex4(h.checksum)} is wrong, expected 0x${hex4(expectedChecksum(payload, offset))}`,
    };
  }
  const vh = lookup(h.vhid);
  if (vh === undefined) {
    return { ok: false, reason: "badvhid", header: h, detail: `vhid ${h.vhid} is not configured here` };
  }
  if (h.version !== CARP_VERSION) {
    return { ok: false, reason: "badver", header: h, detail: `version ${h.version}, expected ${CARP_VERSION}` };
  }
  const mcast = vh.multicastDestination ?? facts.dstMulticast ?? (facts.dst !== undefined && isMulticastAddress(facts.dst));
  const always = vh.ttlPolicy === "always";
  if ((always || mcast) && facts.ttl !== CARP_TTL) {
    const why = always ? "always required" : "multicast";
    return { ok: false, reason: "badttl", header: h, detail: `ttl ${facts.ttl}, expected ${CARP_TTL} (${why})` };
  }
  if (!vh.auth.verifyHeader(payload, offset)) {
    return {
      ok: false,
      reason: "badauth",
      header: h,
      detail: `HMAC mismatch for vhid ${h.vhid}: check password, vhid and virtual addresses (and peer type)`,
    };
  }
  return { ok: true, header: h };
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}

/** The checksum the 36 bytes should carry: recomputed with the checksum field taken as zero. */
function expectedChecksum(buf: Uint8Array, offset: number): number {
  const copy = Buffer.from(buf.subarray(offset, offset + CARP_HEADER_LEN));
  copy[6] = 0;
  copy[7] = 0;
  return inetChecksum(copy);
}
