// The receive path: every packet is checked once, here — own loop (by source address, before any HMAC
// work), vhid lookup (badvhid: unknown vhid, or no address of the packet's family), then checksum,
// version, TTL and HMAC (protocol/receive.ts). Only foreign, authenticated adverts reach the core.
import type { ReceivedAdvert } from "../core/index.js";
import type { ReceivedPacket } from "../host/rawsock.js";
import { receiveCarp, type ReceiveVhid } from "../protocol/receive.js";
import type { CarpReason } from "../protocol/types.js";
import type { IfRt, RxCounters } from "./interfaces.js";
import type { CarpStats } from "./types.js";

export interface ReceiveSink {
  stats: CarpStats;
  /** An accepted advert for the core. */
  advert(ifname: string, pkt: ReceivedAdvert): void;
  /** A dropped packet, for the debug log. */
  drop(ifname: string, reason: CarpReason | "ownloop", vhid: number | undefined, detail: string): void;
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
