// Plain data shared by the codecs, the election core and the inspector. No behaviour here.

/** carpstats counter names, used as the reason a received packet was rejected. */
export type CarpReason = "badlen" | "badsum" | "badver" | "badttl" | "badvhid" | "badauth";

/** The 36-byte CARPv2 advertisement header, decoded. */
export interface CarpHeader {
  version: number; // high nibble of byte 0 (2 for CARP)
  type: number; // low nibble of byte 0 (1 = advertisement)
  vhid: number;
  advskew: number;
  authlen: number; // 7 on every sender
  demote: number; // byte 4: 0 on FreeBSD/ucarp, OpenBSD's group demote count
  advbase: number;
  checksum: number; // as on the wire
  counter: bigint; // bytes 8..15, big-endian u64
  hmac: Buffer; // bytes 16..35 (20 bytes)
}

/** Which peer's rules to follow (HMAC message, election details). FreeBSD is the default. */
export type PeerSemantics = "freebsd" | "openbsd" | "ucarp";

export type IpFamily = 4 | 6;
