// Sending adverts: encoded through the protocol codec (encodeCarpInto) and signed in place with the
// vhid's HMAC context, then sent on the interface's raw socket (or injected as an Ethernet broadcast
// for --nomcast). Counts opackets/senderr.
import type { Transmit } from "../core/index.js";
import { encodeCarpInto } from "../protocol/carp.js";
import type { IpFamily } from "../protocol/types.js";
import type { IfRt, VhidRt } from "./interfaces.js";
import type { CarpStats } from "./types.js";

export type SendOutcome = { ok: true } | { ok: false; code: string; message: string };

/**
 * The signed advert for `t`, encoded into the vhid's own buffer for its family (no allocation), or
 * into `into` when the caller needs several packets of the same vhid alive at once.
 */
export function encodeAdvert(rt: VhidRt, t: Transmit, into?: Buffer): Buffer {
  return encodeCarpInto(t.advert, into ?? rt.pkt[t.family], (b, o) => rt.auth.signInto(b, b, o + 16, o + 8));
}

/** Sends one encoded advert; updates carpstats. */
export function sendAdvert(ifr: IfRt, rt: VhidRt, family: IpFamily, pkt: Buffer, stats: CarpStats): SendOutcome {
  const sock = ifr.socks[family];
  let r: SendOutcome;
  if (!sock) r = { ok: false, code: "ENOTCONN", message: `no IPv${family} socket` };
  else if (family === 4 && rt.cfg.nomcast && !rt.cfg.peer) r = sendBroadcast(ifr, rt, pkt);
  else r = sock.send(pkt, rt.sendOpts[family]);
  if (r.ok) {
    if (family === 4) stats.opackets++;
    else stats.opackets6++;
  } else stats.senderr++;
  return r;
}

/** --nomcast (ucarp -M): the advert goes to Ethernet broadcast, injected at layer 2; IP dst stays the group. */
function sendBroadcast(ifr: IfRt, rt: VhidRt, pkt: Buffer): SendOutcome {
  const src = rt.cfg.srcip ?? ifr.own.find((a) => a.includes("."));
  if (!src) return { ok: false, code: "EADDRNOTAVAIL", message: `--nomcast: no IPv4 source address on ${ifr.name}` };
  const err = ifr.announcer.sendBroadcastAdvert(pkt, src, rt.cfg.mcast);
  return err === null ? { ok: true } : { ok: false, code: "EIO", message: err };
}
