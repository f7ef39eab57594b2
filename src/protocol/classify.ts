// Demultiplexer for IP protocol 112, which CARP and VRRP share.
//
// The rule (by the version nibble of the first payload byte, as the kernels decide):
//   version 2 and payload >= 36 bytes  -> CARP. FreeBSD, OpenBSD and ucarp check only the version and the
//        length, never authlen (byte 3) or type, so a version-2 packet of 36+ bytes IS a CARP advertisement to
//        them (it then fails the checksum or HMAC). We follow the kernels: authlen != 7 still classifies as
//        CARP. When the same bytes also form an exact, checksum-valid VRRPv2 message (16 + 4*count bytes, i.e.
//        a VRRPv2 advert with 5+ addresses), `vrrpLookalike` carries that decoding so a monitor can explain it.
//        A real CARP header (36 bytes, authlen 7) is never such a lookalike: count 7 would need 44 bytes.
//   version 2 and payload < 36 bytes   -> VRRPv2 when it decodes as one (IPv4, 16 + 4*count bytes present),
//        else invalid/badlen. A kernel counts these as carps_badlen. N8 (20-byte VRRPv2) lands here.
//   version 3                          -> VRRPv3 (decoded, pseudo-header checksum verified), else invalid/badlen.
//   anything else                      -> invalid/badver.
// A VRRP result carries `valid` (type 1, TTL 255, checksum right, not truncated) and the list of problems, so
// a fuzzed or truncated packet is reported as VRRP-ish but never as a valid advertisement.
import { decodeCarp } from "./carp.js";
import { IPPROTO_CARP, type IpPacket } from "./ip.js";
import type { CarpHeader } from "./types.js";
import { decodeVrrpV2, decodeVrrpV3, VRRP_TYPE_ADVERTISEMENT, type Vrrp, type VrrpV2 } from "./vrrp.js";

export const CARP_MIN_LEN = 36;

export type Proto112Class =
  | { kind: "carp"; header: CarpHeader; vrrpLookalike?: VrrpV2 }
  | { kind: "vrrp"; version: 2 | 3; vrrp: Vrrp; valid: boolean; problems: string[] }
  | { kind: "invalid"; reason: "badlen" | "badver" | "notproto112" | "fragment"; detail: string };

function vrrpResult(ip: IpPacket, vrrp: Vrrp): Proto112Class {
  const problems: string[] = [];
  if (vrrp.type !== VRRP_TYPE_ADVERTISEMENT) problems.push(`type ${vrrp.type} is not advertisement`);
  if (ip.ttl !== 255) problems.push(`${ip.family === 4 ? "TTL" : "hop limit"} ${ip.ttl}, expected 255`);
  if (vrrp.checksumOk !== true) problems.push(`bad VRRP checksum 0x${vrrp.checksum.toString(16).padStart(4, "0")}`);
  if (ip.truncated) problems.push(`capture truncated: ${ip.payload.length} of ${ip.payloadLength} payload bytes`);
  if (vrrp.version === 3 && vrrp.reserved !== 0) problems.push(`reserved bits ${vrrp.reserved}`);
  return { kind: "vrrp", version: vrrp.version, vrrp, valid: problems.length === 0, problems };
}

/** Classify the payload of a parsed IP packet carrying protocol 112. Never throws. */
export function classifyProto112(ip: IpPacket): Proto112Class {
  if (ip.proto !== IPPROTO_CARP) return { kind: "invalid", reason: "notproto112", detail: `IP protocol ${ip.proto}` };
  if (ip.fragment) {
    return { kind: "invalid", reason: "fragment", detail: `IP fragment (offset ${ip.fragOffset}); not reassembled` };
  }
  const p = ip.payload;
  if (p.length < 1) return { kind: "invalid", reason: "badlen", detail: "empty protocol-112 payload" };
  const version = p[0] >> 4;
  if (version === 2) {
    if (p.length >= CARP_MIN_LEN) {
      const h = decodeCarp(p, 0);
      if ("error" in h) return { kind: "invalid", reason: "badlen", detail: `payload ${p.length} bytes` };
      const out: Proto112Class = { kind: "carp", header: h };
      if (ip.family === 4) {
        const v = decodeVrrpV2(p);
        // Only a complete RFC 3768 message (with its 8 auth bytes) counts; without that requirement every
        // CARP header (authlen 7 = "7 addresses", 8 + 28 = 36 bytes) would look like auth-less VRRPv2.
        if (!("error" in v) && v.authData.length === 8 && v.length === p.length && v.checksumOk) out.vrrpLookalike = v;
      }
      return out;
    }
    if (ip.family !== 4) {
      return { kind: "invalid", reason: "badlen", detail: `version 2 over IPv6 with ${p.length} bytes: too short for CARP, and VRRPv2 is IPv4 only` };
    }
    const v = decodeVrrpV2(p);
    if ("error" in v) {
      return { kind: "invalid", reason: "badlen", detail: `version 2, ${p.length} bytes: shorter than CARP's ${CARP_MIN_LEN} and not VRRPv2 (${v.detail})` };
    }
    return vrrpResult(ip, v);
  }
  if (version === 3) {
    const v = decodeVrrpV3(p, ip);
    if ("error" in v) return { kind: "invalid", reason: "badlen", detail: `VRRPv3: ${v.detail}` };
    return vrrpResult(ip, v);
  }
  return { kind: "invalid", reason: "badver", detail: `version ${version} is neither CARP (2) nor VRRPv3 (3)` };
}
