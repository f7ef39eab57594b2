// Interfaces and sockets: the per-interface runtime (raw sockets, link watcher, announcer, own
// addresses) and the per-vhid runtime (auth, hooks, send buffers), built from the configuration.
import type { VhidParams, VhidRef } from "../core/index.js";
import { CARP_HEADER_LEN } from "../protocol/carp.js";
import { CarpAuth, isHmacError } from "../protocol/hmac.js";
import type { IpFamily } from "../protocol/types.js";
import type { HookConfig } from "../host/hooks.js";
import type { LinkWatcher } from "../host/link.js";
import type { VirtualMacLink, VmacFrameSender } from "../host/vmac.js";
import { CarpSocket, type ReceivedPacket } from "../host/rawsock.js";
import type { VhidConfig } from "./config.js";
import type { Announcer } from "./l2.js";
import { CarpNodeError } from "./types.js";

/** Receive-side counters kept per vhid (the core counts the rest). */
export interface RxCounters {
  badttl: number;
  badauth: number;
  badver: number;
  badsum: number;
  ownLoops: number;
}

export interface VhidRt {
  ref: VhidRef;
  cfg: VhidConfig;
  auth: CarpAuth;
  hook: HookConfig;
  rx: RxCounters;
  /** Effects of this vhid run one after another on this chain (VIPs, GARP/NA, hooks). */
  chain: Promise<unknown>;
  /** The last VIP add that failed, for status (cleared by a successful add). */
  vipError: string | null;
  /** Reused for every advert of this vhid, one per family (the socket copies it synchronously). */
  pkt: Record<IpFamily, Buffer>;
  sendOpts: Partial<Record<IpFamily, { dst?: string; src?: string }>>;
  /** FreeBSD checks the TTL only for multicast destinations; OpenBSD and ucarp always. */
  rxPolicy: Record<IpFamily, { ttlPolicy: "multicast" | "always"; multicastDestination: boolean }>;
  families: Record<IpFamily, boolean>;
  /** Virtual MAC mode: the vhid's macvlan (VIPs live there), its GARP/NA sender and advert framer. */
  vmac?: { link: VirtualMacLink; announcer: Announcer; frames: VmacFrameSender };
  /** VRRPv3 mode: the IPv4 checksum variant each peer was seen using (vrrp-io.ts), for status and one log line. */
  vrrpPeers?: Map<string, "pseudo" | "v2">;
}

/** Where a vhid's VIPs go: its macvlan in virtual MAC mode, else the interface itself. */
export const vipInterface = (ifr: IfRt, rt: VhidRt): string => rt.vmac?.link.name ?? ifr.name;

export interface IfRt {
  name: string;
  vhids: Map<number, VhidRt>;
  socks: Partial<Record<IpFamily, CarpSocket>>;
  link: LinkWatcher;
  announcer: Announcer;
  /** This host's own addresses on the interface (VIPs excluded), --srcip first. */
  own: string[];
}

/** The addresses a vhid hashes: ucarp peers hash exactly its first IPv4 address, kernels all of them. */
export function hashedAddresses(v: VhidConfig): { v4: string[]; v6: string[] } {
  const v4 = v.addresses.filter((a) => a.family === 4).map((a) => a.address);
  const v6 = v.addresses.filter((a) => a.family === 6).map((a) => a.address);
  if (v.semantics === "ucarp") return { v4: v4.slice(0, 1), v6: [] };
  return { v4, v6 };
}

export function vhidParams(v: VhidConfig, own: string[]): VhidParams {
  const h = hashedAddresses(v);
  return {
    vhid: v.vhid,
    advbase: v.advbase,
    advskew: v.advskew,
    preempt: v.preempt,
    semantics: v.semantics,
    deadratio: v.deadratio,
    demote: v.demote,
    vips: { v4: h.v4.length, v6: h.v6.length },
    ownAddresses: own,
    neutral: v.neutral,
    unicast: v.peer !== undefined || v.peer6 !== undefined,
    ignoreIfState: v.ignoreIfState,
    antiReplay: v.antiReplay,
    // Demotion groups: the user's, plus "check:NAME" for each check this vhid tracks (checks.ts).
    groups: [...(v.groups ?? []), ...(v.track ?? []).map((t) => `check:${t}`)],
    preemptDelayMs: v.preemptDelayMs ?? 0,
    startBackup: v.startBackup ?? false,
    vrrp: v.vrrp ? { priority: v.vrrp.priority, intervalCs: v.vrrp.intervalCs } : null,
  };
}

/** The HMAC context of a vhid. Throws CarpNodeError on address sets a peer type cannot hash. */
export function buildAuth(v: VhidConfig): CarpAuth {
  const h = hashedAddresses(v);
  if (v.semantics === "ucarp" && h.v4.length === 0) {
    throw new CarpNodeError(`--addr: vhid ${v.vhid}: ucarp peers need an IPv4 virtual address (use --semantics freebsd for IPv6-only)`, "usage");
  }
  const a = CarpAuth.create({ vhid: v.vhid, v4: h.v4, v6: h.v6, password: v.password, semantics: v.semantics });
  if (isHmacError(a)) throw new CarpNodeError(`--addr: vhid ${v.vhid}: ${a.error}`, "usage");
  return a;
}

export function hookConfig(v: VhidConfig): HookConfig {
  return {
    interface: v.interface, vhid: v.vhid, addresses: v.addresses, upscript: v.upscript, downscript: v.downscript,
    xparam: v.xparam, neutral: v.neutral, shutdownScript: v.shutdownScript, hookMode: v.hookMode, hookTimeoutMs: v.hookTimeoutMs,
  };
}

/** The interface's own addresses without the VIPs, each vhid's --srcip first. */
export function ownAddresses(addrs: string[], list: VhidConfig[]): string[] {
  const vipSet = new Set(list.flatMap((v) => v.addresses.map((a) => a.address)));
  const own = addrs.filter((a) => !vipSet.has(a));
  for (const v of list) {
    if (!v.srcip) continue;
    const i = own.indexOf(v.srcip);
    if (i >= 0) own.splice(i, 1);
    own.unshift(v.srcip);
  }
  return own;
}

export function newVhidRt(v: VhidConfig): VhidRt {
  const h = hashedAddresses(v);
  const policy = (unicast: boolean) => ({ ttlPolicy: v.semantics === "freebsd" || unicast ? ("multicast" as const) : ("always" as const), multicastDestination: !unicast });
  return {
    ref: { ifname: v.interface, vhid: v.vhid },
    cfg: v,
    auth: buildAuth(v),
    hook: hookConfig(v),
    rx: { badttl: 0, badauth: 0, badver: 0, badsum: 0, ownLoops: 0 },
    chain: Promise.resolve(),
    vipError: null,
    pkt: { 4: Buffer.alloc(CARP_HEADER_LEN), 6: Buffer.alloc(CARP_HEADER_LEN) },
    sendOpts: {
      4: { ...(v.peer ? { dst: v.peer } : {}), ...(v.srcip ? { src: v.srcip } : {}) },
      6: { ...(v.peer6 ? { dst: v.peer6 } : {}), ...(v.srcip6 ? { src: v.srcip6 } : {}) },
    },
    rxPolicy: { 4: policy(v.peer !== undefined), 6: policy(v.peer6 !== undefined) },
    families: { 4: h.v4.length > 0, 6: h.v6.length > 0 },
  };
}

/** One raw socket per family that some vhid on the interface needs. Throws CarpNodeError. */
export function ensureSockets(ifr: IfRt, onPackets: (ifr: IfRt, batch: ReceivedPacket[]) => void): void {
  const rts = [...ifr.vhids.values()];
  for (const family of [4, 6] as const) {
    const need = rts.filter((r) => r.families[family]);
    if (need.length === 0 || ifr.socks[family]) continue;
    const group = family === 4 ? need[0].cfg.mcast : need[0].cfg.mcast6;
    try {
      const s = new CarpSocket({ interface: ifr.name, family, group });
      s.on("packets", (batch) => onPackets(ifr, batch));
      ifr.socks[family] = s;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const msg = err.message.split("\n")[0];
      if (/EPERM|EACCES|not permitted/i.test(msg) || err.code === "EPERM") {
        throw new CarpNodeError(`--interface ${ifr.name}: cannot open a raw IPv${family} socket: ${msg} (needs root or CAP_NET_RAW)`, "usage");
      }
      if (/ENODEV|No such device/i.test(msg)) throw new CarpNodeError(`--interface: no such interface ${JSON.stringify(ifr.name)}`, "usage");
      throw new CarpNodeError(`--interface ${ifr.name}: cannot open a raw IPv${family} socket: ${msg}`, "runtime");
    }
  }
}

export function closeInterface(ifr: IfRt): void {
  for (const s of Object.values(ifr.socks)) s?.close();
  ifr.link.stop();
  ifr.announcer.close();
}
