// Sending adverts: encoded through the protocol codec (encodeCarpInto) and signed in place with the
// vhid's HMAC context, then sent on the interface's raw socket (or injected as an Ethernet broadcast
// for --nomcast; in virtual MAC mode framed with the virtual MAC, see sendFromVirtualMac). Counts
// opackets/senderr.
import type { Transmit } from "../core/index.js";
import { encodeCarpInto } from "../protocol/carp.js";
import type { IpFamily } from "../protocol/types.js";
import type { IfRt, VhidRt } from "./interfaces.js";
import type { CarpStats } from "./types.js";
import { encodeVrrpAdvert, sealVrrp, vrrpDestination, vrrpSource } from "./vrrp-io.js";

export type SendOutcome = { ok: true } | { ok: false; code: string; message: string };

/**
 * The signed advert for `t`, encoded into the vhid's own buffer for its family (no allocation), or
 * into `into` when the caller needs several packets of the same vhid alive at once.
 */
export function encodeAdvert(rt: VhidRt, t: Transmit, into?: Buffer): Buffer {
  if (rt.cfg.vrrp) return encodeVrrpAdvert(rt, t); // VRRPv3 mode: a fresh buffer, sealed in sendAdvert
  return encodeCarpInto(t.advert, into ?? rt.pkt[t.family], (b, o) => rt.auth.signInto(b, b, o + 16, o + 8));
}

/** Sends one encoded advert; updates carpstats. */
export function sendAdvert(ifr: IfRt, rt: VhidRt, family: IpFamily, pkt: Buffer, stats: CarpStats): SendOutcome {
  const sock = ifr.socks[family];
  let r: SendOutcome;
  const vsrc = rt.cfg.vrrp ? vrrpSource(ifr, rt, family) : undefined;
  if (!sock) r = { ok: false, code: "ENOTCONN", message: `no IPv${family} socket` };
  else if (rt.cfg.vrrp) {
    // VRRPv3: the checksum covers the source, so the source is chosen here and given to the kernel.
    if (!vsrc) r = { ok: false, code: "EADDRNOTAVAIL", message: `VRRPv3: no IPv${family} ${family === 6 ? "link-local " : ""}source address on ${ifr.name}` };
    else {
      sealVrrp(pkt, rt, family, vsrc);
      r = (rt.vmac ? sendFromVirtualMac(ifr, rt, family, pkt) : null) ?? sock.send(pkt, { dst: vrrpDestination(rt, family), src: vsrc });
    }
  }
  else if (family === 4 && rt.cfg.nomcast && !rt.cfg.peer) r = sendBroadcast(ifr, rt, pkt);
  else if (rt.vmac) r = sendFromVirtualMac(ifr, rt, family, pkt) ?? sock.send(pkt, rt.sendOpts[family]);
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

/**
 * Virtual MAC mode: the advert framed with Ethernet source 00:00:5e:00:01:vhid and injected on the parent
 * (multicast group MAC, or the unicast peer's MAC from the neighbour table). Null when the peer's MAC is
 * not resolved yet: that one advert goes through the kernel (real MAC), which resolves it for the next.
 */
function sendFromVirtualMac(ifr: IfRt, rt: VhidRt, family: IpFamily, pkt: Buffer): SendOutcome | null {
  const peer = family === 4 ? rt.cfg.peer : rt.cfg.peer6;
  const dst = peer ?? (family === 4 ? rt.cfg.mcast : rt.cfg.mcast6);
  const src = sourceAddress(ifr, rt, family);
  if (!src) return { ok: false, code: "EADDRNOTAVAIL", message: `vmac: no IPv${family} source address on ${ifr.name}` };
  const err = rt.vmac!.frames.send(family, pkt, src, dst, peer !== undefined);
  if (err === "unresolved") return null;
  return err === null ? { ok: true } : { ok: false, code: "EIO", message: `vmac advert: ${err}` };
}

/** The advert's IP source: --srcip/--srcip6, else the parent's first own address (IPv6: link-local first). */
function sourceAddress(ifr: IfRt, rt: VhidRt, family: IpFamily): string | undefined {
  if (family === 4) return rt.cfg.srcip ?? ifr.own.find((a) => a.includes("."));
  const v6 = ifr.own.filter((a) => a.includes(":"));
  return rt.cfg.srcip6 ?? v6.find((a) => a.toLowerCase().startsWith("fe80:")) ?? v6[0];
}
