// The receive path: every packet is checked once, here — own loop (by source address, before any HMAC
// work), vhid lookup (badvhid: unknown vhid, or no address of the packet's family), then checksum,
// version, TTL and HMAC (protocol/receive.ts). Only foreign, authenticated adverts reach the core.
// VRRP shares IP protocol 112: a VRRPv3 message, or a VRRPv2 one too short to be CARP, is counted as
// `vrrp` (not badlen) and reported to the sink with its vrid, as the inspector classifies it.
import type { ReceivedAdvert } from "../core/index.js";
import type { ReceivedPacket } from "../host/rawsock.js";
import { receiveCarp, type ReceiveVhid } from "../protocol/receive.js";
import { decodeVrrpV2, decodeVrrpV3, VRRP_TYPE_ADVERTISEMENT } from "../protocol/vrrp.js";
import { CARP_HEADER_LEN } from "../protocol/carp.js";
import type { CarpReason } from "../protocol/types.js";
import type { IfRt, RxCounters } from "./interfaces.js";
import type { CarpStats } from "./types.js";
import { receiveVrrp } from "./vrrp-io.js";

export interface ReceiveSink {
  stats: CarpStats;
  /** An accepted advert for the core. */
  advert(ifname: string, pkt: ReceivedAdvert): void;
  /** A dropped packet, for the debug log. */
  drop(ifname: string, reason: CarpReason | "ownloop", vhid: number | undefined, detail: string): void;
  /** A VRRP advertisement (another protocol on 112); `configured`: its vrid is one of our vhids here. */
  vrrp(ifname: string, from: string, vrid: number, version: 2 | 3, configured: boolean): void;
  /** A version-3 vhid heard a peer use an IPv4 checksum variant for the first time (or a new one). */
  vrrpPeer?(ifname: string, from: string, vrid: number, checksum: "pseudo" | "v2"): void;
}

/** The VRRP version and vrid of a protocol-112 payload that is VRRP rather than CARP, else null. */
export function vrrpOf(p: ReceivedPacket): { version: 2 | 3; vrid: number } | null {
  const d = p.data;
  if (d.length < 8) return null;
  const version = d[0] >> 4;
  if (version === 3) {
    const v = decodeVrrpV3(d, { family: p.family });
    return "error" in v || v.type !== VRRP_TYPE_ADVERTISEMENT ? null : { version: 3, vrid: v.vrid };
  }
  if (version !== 2 || d.length >= CARP_HEADER_LEN || p.family !== 4) return null; // 36+ bytes: CARP, as the kernels decide
  const v = decodeVrrpV2(d);
  return "error" in v || v.type !== VRRP_TYPE_ADVERTISEMENT || v.checksumOk === false ? null : { version: 2, vrid: v.vrid };
}

export function receivePackets(ifr: IfRt, batch: ReceivedPacket[], sink: ReceiveSink): void {
  const stats = sink.stats;
  for (const p of batch) {
    if (p.family === 4) stats.ipackets++;
    else stats.ipackets6++;
    const vhid = p.data.length >= 2 ? p.data[1] : undefined;
    const rt = vhid === undefined ? undefined : ifr.vhids.get(vhid);
    if (ifr.own.includes(p.src)) {
      stats.ownloops++;
      if (rt) rt.rx.ownLoops++;
      continue;
    }
    if (rt?.cfg.vrrp) {
      // A version-3 vhid (VRRPv3 mode): its own checks, no HMAC (VRRPv3 has no authentication).
      const r = receiveVrrp(p, rt);
      if (!r.ok) {
        stats[r.reason]++;
        if (r.reason !== "badvhid" && r.reason in rt.rx) rt.rx[r.reason as keyof RxCounters]++;
        sink.drop(ifr.name, r.reason, vhid, `${p.src}: ${r.detail}`);
        continue;
      }
      const peers = (rt.vrrpPeers ??= new Map());
      if (peers.get(p.src) !== r.checksum) {
        peers.set(p.src, r.checksum);
        sink.vrrpPeer?.(ifr.name, p.src, rt.ref.vhid, r.checksum);
      }
      sink.advert(ifr.name, r.advert);
      continue;
    }
    const vr = vrrpOf(p);
    if (vr) {
      stats.vrrp++;
      sink.vrrp(ifr.name, p.src, vr.vrid, vr.version, rt !== undefined);
      continue;
    }
    const lookup = (v: number): ReceiveVhid | undefined => {
      const r = v === vhid ? rt : ifr.vhids.get(v);
      if (!r || !r.families[p.family]) return undefined; // FreeBSD: no address of this family -> badvhid
      return { auth: r.auth, ...r.rxPolicy[p.family] };
    };
    const r = receiveCarp(p.data, { ttl: p.ttl, dst: p.dst }, lookup);
    if (!r.ok) {
      stats[r.reason]++;
      if (rt && r.reason !== "badvhid" && r.reason in rt.rx) rt.rx[r.reason as keyof RxCounters]++;
      sink.drop(ifr.name, r.reason, r.header?.vhid, `${p.src}: ${r.detail}`);
      continue;
    }
    sink.advert(ifr.name, { from: p.src, family: p.family, header: r.header });
  }
}
