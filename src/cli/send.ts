// `carp send`: a peer emulator. Crafts CARP adverts with exactly the fields a test needs and injects
// them as whole Ethernet frames through libpcap (src/host/capture.ts), so the source MAC, TTL, IP
// header and checksums are exactly what was asked for; no raw IP socket is involved (a raw socket
// cannot choose the source MAC, and the kernel would rewrite parts of the header).
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { networkInterfaces } from "node:os";
import { parseArgs } from "node:util";
import { canonicalIp, ipToBytes } from "../protocol/addr.js";
import { CARP_BOW_OUT, CARP_GROUP_V4, CARP_GROUP_V6, encodeCarp } from "../protocol/carp.js";
import { CarpAuth } from "../protocol/hmac.js";
import { buildIpv4, buildIpv6 } from "../protocol/ip.js";
import { BROADCAST_MAC, buildEthernet, ETHERTYPE_IPV4, ETHERTYPE_IPV6, multicastMac, parseMac, virtualMac } from "../protocol/link.js";
import type { PeerSemantics } from "../protocol/types.js";
import { decodeFrame } from "../inspect/decode.js";
import { rowJson, rowLine } from "../inspect/render.js";
import { RuntimeError, UsageError } from "./errors.js";

export const summary = "craft and send CARP adverts (peer emulator: chosen advskew, demote, counter, TTL, bad sum/auth, bow-out)";

const HELP = `usage: carp send --interface IF --vhid N [options]

  -i, --interface IF   interface to send on (frames are injected with libpcap)
      --vhid N         1-255
      --advbase N      0-255 (default 1)
      --advskew N      0-255 (default 0)
      --demote N       byte 4, OpenBSD's demote count (default 0)
      --counter N      first counter value (decimal or 0x hex; default random), +1 per advert
      --ttl N          IPv4 TTL / IPv6 hop limit (default 255)
      --src ADDR       IP source (default: the interface's first IPv4, or IPv6 link-local with -6)
      --dst ADDR       destination (default 224.0.0.18 / ff02::12; a unicast peer is allowed)
  -6, --ipv6           send over IPv6 (implied by an IPv6 --src or --dst)
      --src-mac MAC    Ethernet source (default the virtual MAC 00:00:5e:00:01:vhid)
      --dst-mac MAC    Ethernet destination (default the group's multicast MAC; broadcast for unicast)
      --pass PW        password (default none = all-zero key)
      --vip ADDR       virtual address hashed into the HMAC (repeatable; all VIPs of the vhid)
      --semantics S    HMAC form: freebsd (default) | openbsd (link-local IPv6 VIPs left out) | ucarp
      --bow-out        advbase = advskew = 255 (OpenBSD's graceful departure)
  -c, --count N        adverts to send (default 1; 0 = until interrupted)
      --interval S     seconds between adverts (default advbase + advskew/256)
      --bad-sum        corrupt the CARP checksum
      --bad-auth       corrupt the HMAC
      --json           print each advert sent as carp inspect --json would
  -q, --quiet          print nothing
  -h, --help

Exit: 0 sent, 1 runtime failure (no such interface, no privileges), 2 bad usage.`;

function int(v: string | undefined, what: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`${what}: expected an integer ${min}-${max}, got '${v}'`);
  return Number(v);
}

function parseCounter(v: string | undefined): bigint {
  if (v === undefined) return randomBytes(8).readBigUInt64BE(0) >> 1n;
  try {
    if (!/^(0x[0-9a-fA-F]{1,16}|\d{1,20})$/.test(v)) throw new Error();
    const c = BigInt(v);
    if (c > 0xffffffffffffffffn) throw new Error();
    return c;
  } catch {
    throw new UsageError(`--counter: expected a 64-bit number (decimal or 0x hex), got '${v}'`);
  }
}

function ifaceAddress(ifname: string, family: 4 | 6): string | null {
  const list = networkInterfaces()[ifname] ?? [];
  const fam = list.filter((a) => (family === 4 ? a.family === "IPv4" : a.family === "IPv6"));
  if (family === 6) return (fam.find((a) => a.address.startsWith("fe80")) ?? fam[0])?.address.split("%")[0] ?? null;
  return fam[0]?.address ?? null;
}

/** The neighbour's MAC from the kernel's ARP table, for unicast IPv4 peers. */
function arpLookup(ip: string): string | null {
  try {
    for (const line of readFileSync("/proc/net/arp", "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[0] === ip && f[3] && f[3] !== "00:00:00:00:00:00") return f[3];
    }
  } catch {
    /* no ARP table: fall back to broadcast */
  }
  return null;
}


export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        interface: { type: "string", short: "i" },
        vhid: { type: "string" },
        advbase: { type: "string" },
        advskew: { type: "string" },
        demote: { type: "string" },
        counter: { type: "string" },
        ttl: { type: "string" },
        src: { type: "string" },
        dst: { type: "string" },
        ipv6: { type: "boolean", short: "6" },
        "src-mac": { type: "string" },
        "dst-mac": { type: "string" },
        pass: { type: "string" },
        vip: { type: "string", multiple: true },
        semantics: { type: "string" },
        "bow-out": { type: "boolean" },
        count: { type: "string", short: "c" },
        interval: { type: "string" },
        "bad-sum": { type: "boolean" },
        "bad-auth": { type: "boolean" },
        json: { type: "boolean" },
        quiet: { type: "boolean", short: "q" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError(`send: ${(e as Error).message}`);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  if (!v.interface) throw new UsageError("send: --interface is required");
  if (v.vhid === undefined) throw new UsageError("send: --vhid is required");
  const vhid = int(v.vhid, "--vhid", 1, 255, 1);
  let advbase = int(v.advbase, "--advbase", 0, 255, 1);
  let advskew = int(v.advskew, "--advskew", 0, 255, 0);
  if (v["bow-out"]) advbase = advskew = CARP_BOW_OUT;
  const demote = int(v.demote, "--demote", 0, 255, 0);
  const ttl = int(v.ttl, "--ttl", 0, 255, 255);
  const count = int(v.count, "--count", 0, 1e9, 1);
  const sem = v.semantics ?? "freebsd";
  if (!["freebsd", "openbsd", "ucarp"].includes(sem)) throw new UsageError(`--semantics: expected freebsd, openbsd or ucarp, got '${sem}'`);
  let intervalMs = (advbase + advskew / 256) * 1000;
  if (v.interval !== undefined) {
    const s = Number(v.interval);
    if (!Number.isFinite(s) || s < 0) throw new UsageError(`--interval: expected seconds ≥ 0, got '${v.interval}'`);
    intervalMs = s * 1000;
  }
  const canon = (a: string, what: string): string => {
    const c = canonicalIp(a);
    if (!c) throw new UsageError(`${what}: not an IP address: '${a}'`);
    return c;
  };
  let dst = v.dst !== undefined ? canon(v.dst, "--dst") : undefined;
  let src = v.src !== undefined ? canon(v.src, "--src") : undefined;
  const family: 4 | 6 = v.ipv6 || (src && isIPv6(src)) || (dst && isIPv6(dst)) ? 6 : 4;
  for (const [a, what] of [[src, "--src"], [dst, "--dst"]] as const) {
    if (a && (family === 4 ? !isIPv4(a) : !isIPv6(a))) throw new UsageError(`${what}: ${a} is not IPv${family} (the other address is)`);
  }
  dst ??= family === 4 ? CARP_GROUP_V4 : CARP_GROUP_V6;
  src ??= ifaceAddress(v.interface, family) ?? undefined;
  if (!src) throw new UsageError(`send: ${v.interface} has no IPv${family} address; give --src`);
  const vips = (v.vip ?? []).map((a) => canon(a.replace(/\/\d+$/, ""), "--vip"));
  const auth = CarpAuth.create({
    vhid,
    v4: vips.filter((a) => isIPv4(a)),
    v6: vips.filter((a) => isIPv6(a)),
    password: v.pass ?? "",
    semantics: sem === "ucarp" && (v.pass ?? "") === "" ? "freebsd" : (sem as PeerSemantics),
  });
  if ("error" in auth) throw new UsageError(`send: ${auth.error}`);
  const srcMac = v["src-mac"] ?? virtualMac(vhid);
  if (!parseMac(srcMac)) throw new UsageError(`--src-mac: not a MAC address: '${srcMac}'`);
  const dstBytes = ipToBytes(dst)!;
  const multicast = family === 4 ? dstBytes[0] >= 224 && dstBytes[0] <= 239 : dstBytes[0] === 0xff;
  const dstMac = v["dst-mac"] ?? (multicast ? multicastMac(dstBytes) : (family === 4 ? arpLookup(dst) : null) ?? BROADCAST_MAC);
  if (!parseMac(dstMac)) throw new UsageError(`--dst-mac: not a MAC address: '${dstMac}'`);

  const frame = (counter: bigint): Buffer => {
    const hmac = auth.sign(counter);
    if (v["bad-auth"]) hmac[19] ^= 0xff;
    const carp = encodeCarp({ vhid, advbase, advskew, demote, counter, hmac });
    if (v["bad-sum"]) carp[7] ^= 0x5a;
    const ip =
      family === 4
        ? buildIpv4({ src: src!, dst: dst!, proto: 112, payload: carp, ttl, tos: 0x10 })
        : buildIpv6({ src: src!, dst: dst!, nextHeader: 112, payload: carp, hopLimit: ttl });
    return buildEthernet(dstMac, srcMac, family === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6, ip);
  };

  const { openCapture } = await import("../host/capture.js");
  let cap;
  try {
    // Injection only: a filter that matches (almost) nothing keeps the capture side idle.
    cap = openCapture({ interface: v.interface, filter: "ether proto 0x88b5", immediate: true });
  } catch (e) {
    throw new RuntimeError(`cannot open ${v.interface} for injection: ${(e as Error).message}`);
  }
  let counter = parseCounter(v.counter);
  let sent = 0;
  let interrupted = false;
  const onSig = () => {
    interrupted = true;
  };
  process.on("SIGINT", onSig);
  process.on("SIGTERM", onSig);
  try {
    while (!interrupted && (count === 0 || sent < count)) {
      if (sent > 0) await new Promise((r) => setTimeout(r, intervalMs));
      if (interrupted) break;
      const fr = frame(counter);
      try {
        cap.inject(fr);
      } catch (e) {
        throw new RuntimeError(`send on ${v.interface}: ${(e as Error).message}`);
      }
      sent++;
      if (!v.quiet) {
        const d = decodeFrame(Date.now() / 1000, 1, fr);
        if ("row" in d) {
          if (vips.length || v.pass !== undefined) d.row.auth = v["bad-auth"] ? "bad" : "ok";
          process.stdout.write((v.json ? rowJson(d.row) : `sent ${rowLine(d.row)}`) + "\n");
        }
      }
      counter = BigInt.asUintN(64, counter + 1n);
    }
  } finally {
    process.off("SIGINT", onSig);
    process.off("SIGTERM", onSig);
    cap.close();
  }
  return 0;
}
