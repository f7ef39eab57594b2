// The one normalized daemon configuration. Every front end (ucarp argv, YAML, rc.conf) builds `RawVhid`
// records and `RawGlobal` values and hands them to `normalizeConfig`, which applies defaults, validates
// ranges exactly as the BSDs/ucarp document them (carp-protocol.md §5) and returns either a `Config` or
// a one-line error naming the offending flag or key. Interface existence is checked later, at runtime.
import { readFileSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import type { PeerSemantics } from "../protocol/types.js";

export type Result<T> = { ok: true; value: T; warnings: string[] } | { ok: false; error: string };

export type LogFormat = "text" | "json";
// Shared with src/host (which must not import from here): defined below both.
import type { HookMode, VipAddress } from "../host/types.js";
export type { HookMode, VipAddress };

export interface VhidConfig {
  interface: string;
  vhid: number;
  advbase: number;
  advskew: number;
  /** Key bytes, at most 19 (BSD ifconfig / ucarp limit). Empty = no password (BSD only). */
  password: Buffer;
  addresses: VipAddress[];
  preempt: boolean;
  semantics: PeerSemantics;
  /** Master-down multiplier (ucarp -r); 3 everywhere else. */
  deadratio: number;
  /** Per-vhid demote count (OpenBSD's carp_demote byte), 0-255. */
  demote: number;
  srcip?: string;
  srcip6?: string;
  /** Advertisement destinations: multicast group unless a unicast peer is set. */
  mcast: string;
  mcast6: string;
  peer?: string;
  peer6?: string;
  /** ucarp -M: Ethernet broadcast, do not join the group. */
  nomcast: boolean;
  ignoreIfState: boolean;
  upscript?: string;
  downscript?: string;
  /** keepalived notify_fault: run when the vhid cannot be MASTER (link down, demoted to the maximum). */
  faultscript?: string;
  xparam?: string;
  /** ucarp -n: no downscript on the initial INIT -> BACKUP. */
  neutral: boolean;
  /** ucarp -z: run the downscript on exit unless already BACKUP. */
  shutdownScript: boolean;
  hookMode: HookMode;
  hookTimeoutMs: number;
  /** Add/remove the VIPs ourselves (default). false = leave it to the scripts, like ucarp. */
  manageVip: boolean;
  /** Refuse adverts whose counter is not above the highest this vhid sent or accepted (freebsd semantics). */
  antiReplay: boolean;
  /** FreeBSD-8 style carp interface name, for devd IFNET LINK_UP/LINK_DOWN events (and the vmac interface). */
  carpName?: string;
  /** Virtual MAC mode: a macvlan `carpName` (default carp<vhid>) with 00:00:5e:00:01:vhid holds the VIPs. */
  vmac: boolean;
  /** rc.conf `state backup|master`: requested initial state. */
  initialState?: "backup" | "master";
  /** Named checks (Config.checks) that demote this vhid only; default none. */
  track?: string[];
  /** Demotion groups (OpenBSD carpdemote): `carp set --group NAME --demote N` applies to these vhids. */
  groups?: string[];
  /** After start, or after our demotion drops (a check recovered), do not preempt for this long. */
  preemptDelayMs?: number;
  /** After start, do not preempt a live master until this node has been MASTER once (keepalived nopreempt on boot). */
  startBackup?: boolean;
  /** While MASTER, GARP/NA again every this many ms (keepalived garp_master_refresh); 0 = off. */
  garpRefreshMs?: number;
  /** GARP/NA rounds sent on takeover (keepalived garp_master_repeat); default 1. */
  garpRepeat?: number;
  /** VRRPv3 mode (FreeBSD `carpver 3`): RFC 5798/9568 adverts instead of CARP; see src/core/vrrp.ts. */
  vrrp?: VrrpConfig;
}

/** A version-3 vhid: priority, interval and the IPv4 checksum variant it sends. */
export interface VrrpConfig {
  /** 1-254, 255 = address owner (FreeBSD vrrpprio, default 100). */
  priority: number;
  /** Advertisement interval in centiseconds, 1-4095 (FreeBSD vrrpinterval, default 100). */
  intervalCs: number;
  /** IPv4 checksum: "pseudo" (RFC 5798, with the pseudo-header) or "v2" (keepalived v3_checksum_as_v2). */
  checksum: "pseudo" | "v2";
}

/** A named health check (YAML `checks:`); exactly one of script, interface, file, process. */
export interface CheckConfig {
  name: string;
  kind: "script" | "interface" | "file" | "process";
  /** script: a string runs with /bin/sh -c; a list runs that argv without a shell. */
  script?: string | string[];
  interface?: string;
  file?: string;
  process?: string;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive failures before the check counts as down, and successes before it counts as up again. */
  fall: number;
  rise: number;
  /** Demotion while down (file checks: a number in the file wins). */
  weight: number;
}

/** A check as a front end collected it, values unchecked. */
export interface RawCheck {
  script?: string | string[];
  interface?: string;
  file?: string;
  process?: string;
  interval?: number | string;
  timeout?: number | string;
  fall?: number | string;
  rise?: number | string;
  weight?: number | string;
}

export interface Config {
  /** Named health checks, and the ones every vhid tracks (their demotion is global). */
  checks?: CheckConfig[];
  track?: string[];
  vhids: VhidConfig[];
  /** Default for vhids that do not say (FreeBSD net.inet.carp.preempt). */
  preempt: boolean;
  /** Global demotion added to every advskew (FreeBSD net.inet.carp.demotion). */
  demotion: number;
  devdConf?: string;
  control: string;
  logFormat: LogFormat;
  /** syslog facility name, or "none". */
  facility: string;
  debug: boolean;
  daemonize: boolean;
  fixSysctls: boolean;
  /** Prometheus endpoint (`metrics: ADDR:PORT`), off when absent. */
  metrics?: MetricsAddress;
}

/** Where the /metrics endpoint listens. */
export interface MetricsAddress {
  host: string;
  port: number;
}

/** "127.0.0.1:9742", "[::1]:9742" -> host and port, or an error message. An address is required. */
export function parseMetricsAddress(text: string): MetricsAddress | string {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:\s[\]]+):(\d{1,5})$/.exec(text);
  if (!m || (text.startsWith("[") ? !isIPv6(m[1]) : !isIPv4(m[1]))) return `expected ADDR:PORT with an IP address (e.g. 127.0.0.1:9742 or [::1]:9742), got ${JSON.stringify(text)}`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `port must be 1-65535, got ${port}`;
  return { host: m[1], port };
}

/** What a front end collected for one vhid; every field optional, values still unchecked. */
export interface RawVhid {
  interface?: string;
  vhid?: number | string;
  advbase?: number | string;
  advskew?: number | string;
  password?: string | Uint8Array;
  passfile?: string;
  /** "198.51.100.10", "198.51.100.10/24", "2001:db8::1/64". */
  addresses?: string[];
  preempt?: boolean;
  semantics?: string;
  deadratio?: number | string;
  demote?: number | string;
  srcip?: string;
  srcip6?: string;
  mcast?: string;
  mcast6?: string;
  peer?: string;
  peer6?: string;
  nomcast?: boolean;
  ignoreIfState?: boolean;
  upscript?: string;
  downscript?: string;
  faultscript?: string;
  xparam?: string;
  neutral?: boolean;
  shutdownScript?: boolean;
  hookMode?: string;
  hookTimeoutMs?: number | string;
  manageVip?: boolean;
  antiReplay?: boolean;
  carpName?: string;
  vmac?: boolean;
  initialState?: string;
  track?: string[];
  groups?: string | string[];
  preemptDelay?: number | string;
  startBackup?: boolean;
  garpRefresh?: number | string;
  garpRepeat?: number | string;
  /** 2 = CARP (default), 3 = VRRPv3 (FreeBSD carpver). */
  version?: number | string;
  vrrpprio?: number | string;
  vrrpinterval?: number | string;
  vrrpChecksum?: string;
}

export interface RawGlobal {
  checks?: Record<string, RawCheck>;
  track?: string[];
  preempt?: boolean;
  /** Default antiReplay for vhids that do not say (--anti-replay). */
  antiReplay?: boolean;
  demotion?: number | string;
  devdConf?: string;
  control?: string;
  logFormat?: string;
  facility?: string;
  debug?: boolean;
  daemonize?: boolean;
  /** Write the sysctls virtual MAC mode needs (otherwise only warn). */
  fixSysctls?: boolean;
  metrics?: string;
}

/** Maps a field name to how the user spelled it in this front end ("--vhid", "vhids[0].vhid", ...). */
export type KeyNamer = (field: string, vhidIndex?: number) => string;

export interface NormalizeOptions {
  keyName: KeyNamer;
  /** Passwords longer than 19 bytes: "truncate" like BSD ifconfig (with a warning) or "refuse" like ucarp. */
  longPassword: "truncate" | "refuse";
  /** Default semantics for vhids that do not say. */
  defaultSemantics?: PeerSemantics;
  readFile?: (path: string) => Buffer;
  /** Require at least one vhid (false lets a front end validate a partial file). */
  requireVhids?: boolean;
}

export const DEFAULTS = {
  advbase: 1,
  advskew: 0,
  deadratio: 3,
  mcast: "224.0.0.18",
  mcast6: "ff02::12",
  hookTimeoutMs: 30_000,
  control: "/run/carp/carp.sock",
  facility: "daemon",
  maxPasswordBytes: 19,
} as const;

const SEMANTICS: readonly PeerSemantics[] = ["freebsd", "openbsd", "ucarp"];
const FACILITIES = [
  "none", "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
  "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

class ConfigError extends Error {}
const fail = (msg: string): never => {
  throw new ConfigError(msg);
};

/** Integer from a number or decimal string, else a ConfigError naming `key`. */
function intIn(value: number | string, key: string, lo: number, hi: number, extra = ""): number {
  const n = typeof value === "number" ? value : /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n)) fail(`${key}: must be an integer ${lo}-${hi}${extra}, got ${JSON.stringify(value)}`);
  if (n < lo || n > hi) fail(`${key}: must be ${lo}-${hi}${extra}, got ${n}`);
  return n;
}

/** Canonical IPv6 text (RFC 5952 style, as the WHATWG URL parser prints it). */
export function canonicalIPv6(addr: string): string {
  return new URL(`http://[${addr}]/`).hostname.slice(1, -1);
}

/** Parses "addr" or "addr/prefix"; prefix defaults to a host route (32 / 128). */
export function parseAddress(text: string, key: string): VipAddress {
  const t = text.trim();
  const slash = t.indexOf("/");
  const addr = slash < 0 ? t : t.slice(0, slash);
  // node's isIPv6 accepts "fe80::1%eth0"; a VIP never has a zone.
  const family = addr.includes("%") ? 0 : isIPv4(addr) ? 4 : isIPv6(addr) ? 6 : 0;
  if (family === 0) {
    const hint = addr.includes("%") ? " (zone ids are not supported)" : "";
    return fail(`${key}: not an IPv4 or IPv6 address: ${JSON.stringify(text)}${hint}`);
  }
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) fail(`${key}: prefix must be 0-${max}, got ${JSON.stringify(p)} in ${text}`);
    prefix = Number(p);
  }
  return { address: family === 6 ? canonicalIPv6(addr) : addr, prefix, family, given: addr };
}

function ipOf(value: string, family: 4 | 6, key: string): string {
  if (value.includes("%") || (family === 4 ? !isIPv4(value) : !isIPv6(value))) fail(`${key}: not an IPv${family} address: ${JSON.stringify(value)}`);
  return family === 6 ? canonicalIPv6(value) : value;
}

/** First line of a password file, newline (and CR) stripped. */
export function readPassfile(path: string, key: string, readFile: (p: string) => Buffer): Buffer {
  let data: Buffer;
  try {
    data = readFile(path);
  } catch (e) {
    return fail(`${key}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let end = data.indexOf(0x0a);
  if (end < 0) end = data.length;
  if (end > 0 && data[end - 1] === 0x0d) end--;
  const line = data.subarray(0, end);
  if (line.length === 0) fail(`${key}: first line of ${path} is empty`);
  return Buffer.from(line);
}

const IFNAME_RE = /^[^\s/:]{1,15}$/;
const GROUP_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** Seconds (integer or decimal, number or string) in lo..hi, returned in ms. */
function secondsIn(value: number | string, key: string, lo: number, hi: number): number {
  const n = typeof value === "number" ? value : /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < lo || n > hi) fail(`${key}: must be ${lo}-${hi} seconds, got ${JSON.stringify(value)}`);
  return Math.round(n * 1000);
}

/** `checks:` entries, validated; `key(name)` spells a check's path for messages. */
function normalizeChecks(raw: Record<string, RawCheck>, key: (name: string) => string): CheckConfig[] {
  const out: CheckConfig[] = [];
  for (const [name, r] of Object.entries(raw)) {
    const k = key(name);
    if (!GROUP_RE.test(name)) fail(`${k}: not a check name (letters, digits, . _ -)`);
    const kinds = (["script", "interface", "file", "process"] as const).filter((x) => r[x] !== undefined);
    if (kinds.length !== 1) fail(`${k}: give exactly one of script, interface, file, process${kinds.length ? ` (got ${kinds.join(", ")})` : ""}`);
    const kind = kinds[0];
    const c: CheckConfig = { name, kind, intervalMs: 0, timeoutMs: 0, fall: 1, rise: 1, weight: 240 };
    if (kind === "script") {
      const sc = r.script!;
      if (Array.isArray(sc) ? sc.length === 0 || sc.some((a) => typeof a !== "string") || sc[0] === "" : typeof sc !== "string" || sc.trim() === "") {
        fail(`${k}.script: a command line or a non-empty argv list`);
      }
      c.script = Array.isArray(sc) ? [...sc] : sc;
    } else if (kind === "interface") {
      if (!IFNAME_RE.test(String(r.interface))) fail(`${k}.interface: not a valid interface name: ${JSON.stringify(r.interface)}`);
      c.interface = r.interface;
    } else if (kind === "file") {
      if (typeof r.file !== "string" || !r.file.startsWith("/")) fail(`${k}.file: an absolute path`);
      c.file = r.file;
    } else {
      if (typeof r.process !== "string" || r.process === "" || r.process.includes("/")) fail(`${k}.process: a process name (as in /proc/PID/comm), got ${JSON.stringify(r.process)}`);
      c.process = r.process;
    }
    // Script checks every 2 s by default; file and process checks poll every second (cheap).
    c.intervalMs = secondsIn(r.interval ?? (kind === "script" ? 2 : 1), `${k}.interval`, 0.1, 3600);
    c.timeoutMs = secondsIn(r.timeout ?? Math.min(c.intervalMs / 1000, 10), `${k}.timeout`, 0.01, 3600);
    c.fall = r.fall === undefined ? 1 : intIn(r.fall, `${k}.fall`, 1, 100);
    c.rise = r.rise === undefined ? 1 : intIn(r.rise, `${k}.rise`, 1, 100);
    c.weight = r.weight === undefined ? 240 : intIn(r.weight, `${k}.weight`, -(2 ** 16), 2 ** 16);
    out.push(c);
  }
  return out;
}

function normalizeVhid(
  r: RawVhid,
  idx: number,
  g: { preempt: boolean; antiReplay?: boolean },
  o: NormalizeOptions,
  warnings: string[],
): VhidConfig {
  const k = (f: string) => o.keyName(f, idx);
  const readFile = o.readFile ?? ((p: string) => readFileSync(p));
  const version = r.version === undefined ? 2 : intIn(r.version, k("version"), 2, 3, " (2 = CARP, 3 = VRRPv3)");
  const v3 = k("version").startsWith("--") ? k("version") : `${k("version")} 3`; // "--vrrp3", "carpver 3"
  if (version !== 3) {
    for (const f of ["vrrpprio", "vrrpinterval", "vrrpChecksum"] as const) if (r[f] !== undefined) fail(`${k(f)}: needs VRRPv3 mode (${v3})`);
  }

  // A version-3 vhid keeps freebsd semantics for what CARP and VRRP share (link, demotion, hooks).
  const semantics = (r.semantics ?? (r.version !== undefined && String(r.version).trim() === "3" ? "freebsd" : o.defaultSemantics) ?? "freebsd") as PeerSemantics;
  if (!SEMANTICS.includes(semantics)) fail(`${k("semantics")}: must be freebsd, openbsd or ucarp, got ${JSON.stringify(r.semantics)}`);

  if (r.interface === undefined || r.interface === "") fail(`${k("interface")}: required`);
  const ifname = r.interface as string;
  if (!IFNAME_RE.test(ifname)) fail(`${k("interface")}: not a valid interface name: ${JSON.stringify(ifname)}`);

  if (r.vhid === undefined) fail(`${k("vhid")}: required`);
  const vhid = intIn(r.vhid as number | string, k("vhid"), 1, 255);

  // advbase 0 is an OpenBSD (interval = advskew/256) and ucarp feature; FreeBSD treats 0 as "unchanged".
  const advbaseLo = semantics === "freebsd" ? 1 : 0;
  const advbase = r.advbase === undefined ? DEFAULTS.advbase : intIn(r.advbase, k("advbase"), advbaseLo, 255);
  // ucarp holds advskew in an unsigned char and accepts 255; the kernels reject >= 255.
  const advskewHi = semantics === "ucarp" ? 255 : 254;
  const advskew = r.advskew === undefined ? DEFAULTS.advskew : intIn(r.advskew, k("advskew"), 0, advskewHi);
  if (advbase === 0 && advskew === 0) fail(`${k("advbase")}: advbase 0 needs a non-zero advskew (interval would be 0)`);

  let password: Buffer;
  if (r.password !== undefined && r.passfile !== undefined) fail(`${k("passfile")}: give a password or a passfile, not both`);
  if (r.passfile !== undefined) password = readPassfile(r.passfile, k("passfile"), readFile);
  else if (r.password !== undefined) password = Buffer.from(typeof r.password === "string" ? Buffer.from(r.password, "utf8") : r.password);
  else password = Buffer.alloc(0);
  const pwKey = r.passfile !== undefined ? k("passfile") : k("password");
  if (password.length > DEFAULTS.maxPasswordBytes) {
    if (o.longPassword === "refuse") fail(`${pwKey}: at most ${DEFAULTS.maxPasswordBytes} bytes, got ${password.length}`);
    warnings.push(`${pwKey}: ${password.length} bytes, truncated to ${DEFAULTS.maxPasswordBytes} like BSD ifconfig`);
    password = password.subarray(0, DEFAULTS.maxPasswordBytes);
  }
  if (version === 3) {
    if (password.length > 0) fail(`${pwKey}: VRRPv3 has no authentication: remove the password for a ${v3} vhid`);
    if (r.semantics !== undefined && semantics !== "freebsd") fail(`${k("semantics")}: a ${v3} vhid speaks VRRPv3, not ${semantics} CARP`);
    for (const f of ["advbase", "advskew", "antiReplay"] as const) {
      if (r[f] !== undefined) fail(`${k(f)}: CARP only; a ${v3} vhid uses ${k("vrrpinterval")} and ${k("vrrpprio")}`);
    }
    if (r.nomcast) fail(`${k("nomcast")}: not available with ${v3}`);
  }
  if (password.length === 0 && semantics === "ucarp") fail(`${k("password")}: required (ucarp peers always authenticate)`);

  const addrs = r.addresses ?? [];
  if (addrs.length === 0) fail(`${k("addresses")}: at least one virtual address is required`);
  const addresses = addrs.map((a) => parseAddress(a, k("addresses")));
  const seen = new Set<string>();
  for (const a of addresses) {
    if (seen.has(a.address)) fail(`${k("addresses")}: ${a.address} listed twice`);
    seen.add(a.address);
  }
  // A ucarp-style command line with several IPv4 addresses: ucarp hashes one, and real ucarp keeps only
  // the last --addr, so no ucarp peer could verify our adverts whichever we picked. Refuse; with
  // --semantics freebsd|openbsd every address is hashed.
  const v4Given = addresses.filter((a) => a.family === 4).length;
  if (o.defaultSemantics === "ucarp" && semantics === "ucarp" && v4Given > 1) {
    fail(
      `${k("addresses")}: ${v4Given} IPv4 addresses, but ucarp hashes one (ucarp 1.5.2 keeps only the last ${k("addresses")}); ` +
        `give one, or ${k("semantics")} freebsd to hash them all`,
    );
  }
  if (semantics === "ucarp" && (addresses.length !== 1 || addresses[0].family !== 4)) {
    warnings.push(`${k("addresses")}: ucarp peers hash exactly one IPv4 address; with ${addresses.length} address(es) only ucarp-compatible if the core hashes the first IPv4 one`);
  }

  const deadratio = r.deadratio === undefined ? DEFAULTS.deadratio : intIn(r.deadratio, k("deadratio"), 1, 2 ** 31 - 1);
  const demote = r.demote === undefined ? 0 : intIn(r.demote, k("demote"), 0, 255);
  const hookTimeoutMs = r.hookTimeoutMs === undefined ? DEFAULTS.hookTimeoutMs : intIn(r.hookTimeoutMs, k("hookTimeoutMs"), 1, 86_400_000);
  const hookMode = (r.hookMode ?? "per-vip") as HookMode;
  if (hookMode !== "per-vip" && hookMode !== "all") fail(`${k("hookMode")}: must be per-vip or all, got ${JSON.stringify(r.hookMode)}`);
  if (r.initialState !== undefined && r.initialState !== "backup" && r.initialState !== "master") {
    fail(`${k("initialState")}: must be backup or master, got ${JSON.stringify(r.initialState)}`);
  }
  if ((r.antiReplay ?? g.antiReplay) && semantics !== "freebsd") {
    fail(`${k("antiReplay")}: needs freebsd semantics (${semantics === "openbsd" ? "OpenBSD sends a constant cookie" : "ucarp sends random counters"}, not a rising counter)`);
  }
  if (r.carpName !== undefined && !IFNAME_RE.test(r.carpName)) fail(`${k("carpName")}: not a valid interface name: ${JSON.stringify(r.carpName)}`);
  for (const f of ["upscript", "downscript", "faultscript"] as const) {
    if (r[f] !== undefined && r[f] === "") fail(`${k(f)}: empty path`);
  }

  const v: VhidConfig = {
    interface: ifname,
    vhid,
    advbase,
    advskew,
    password,
    addresses,
    preempt: r.preempt ?? g.preempt,
    semantics,
    deadratio,
    demote,
    mcast: r.mcast === undefined ? DEFAULTS.mcast : ipOf(r.mcast, 4, k("mcast")),
    mcast6: r.mcast6 === undefined ? DEFAULTS.mcast6 : ipOf(r.mcast6, 6, k("mcast6")),
    nomcast: r.nomcast ?? false,
    ignoreIfState: r.ignoreIfState ?? false,
    neutral: r.neutral ?? false,
    shutdownScript: r.shutdownScript ?? false,
    hookMode,
    hookTimeoutMs,
    manageVip: r.manageVip ?? true,
    antiReplay: r.antiReplay ?? g.antiReplay ?? false,
    vmac: r.vmac ?? false,
  };
  if (r.srcip !== undefined) v.srcip = ipOf(r.srcip, 4, k("srcip"));
  if (r.srcip6 !== undefined) v.srcip6 = ipOf(r.srcip6, 6, k("srcip6"));
  if (r.peer !== undefined) v.peer = ipOf(r.peer, 4, k("peer"));
  if (r.peer6 !== undefined) v.peer6 = ipOf(r.peer6, 6, k("peer6"));
  if (r.upscript !== undefined) v.upscript = r.upscript;
  if (r.downscript !== undefined) v.downscript = r.downscript;
  if (r.faultscript !== undefined) v.faultscript = r.faultscript;
  if (r.xparam !== undefined) v.xparam = r.xparam;
  if (r.carpName !== undefined) v.carpName = r.carpName;
  if (r.initialState !== undefined) v.initialState = r.initialState as "backup" | "master";
  if (r.track !== undefined) v.track = [...new Set(r.track)];
  if (r.groups !== undefined) {
    const gs = typeof r.groups === "string" ? [r.groups] : r.groups;
    for (const gname of gs) if (!GROUP_RE.test(gname)) fail(`${k("groups")}: not a group name (letters, digits, . _ -): ${JSON.stringify(gname)}`);
    v.groups = [...new Set(gs)];
  }
  if (r.preemptDelay !== undefined) v.preemptDelayMs = secondsIn(r.preemptDelay, k("preemptDelay"), 0, 86_400);
  if (r.startBackup !== undefined) v.startBackup = r.startBackup;
  if (r.garpRefresh !== undefined) v.garpRefreshMs = secondsIn(r.garpRefresh, k("garpRefresh"), 0, 86_400);
  if (v.garpRefreshMs !== undefined && v.garpRefreshMs > 0 && v.garpRefreshMs < 100) fail(`${k("garpRefresh")}: at least 0.1 s (or 0 = off)`);
  if (r.garpRepeat !== undefined) v.garpRepeat = intIn(r.garpRepeat, k("garpRepeat"), 1, 100);
  if (version === 3) {
    const checksum = r.vrrpChecksum ?? "pseudo";
    if (checksum !== "pseudo" && checksum !== "v2") fail(`${k("vrrpChecksum")}: must be pseudo or v2, got ${JSON.stringify(r.vrrpChecksum)}`);
    v.vrrp = {
      priority: r.vrrpprio === undefined ? 100 : intIn(r.vrrpprio, k("vrrpprio"), 1, 255, " (255 = address owner)"),
      intervalCs: r.vrrpinterval === undefined ? 100 : intIn(r.vrrpinterval, k("vrrpinterval"), 1, 4095, " centiseconds"),
      checksum: checksum as "pseudo" | "v2",
    };
  }
  if (!v.mcast.match(/^(22[4-9]|23\d)\./)) fail(`${k("mcast")}: not an IPv4 multicast address: ${v.mcast}`);
  if (!v.mcast6.startsWith("ff")) fail(`${k("mcast6")}: not an IPv6 multicast address: ${v.mcast6}`);
  return v;
}

/** Validates and fills defaults. Never throws for bad input: the error comes back as a value. */
export function normalizeConfig(raw: { vhids: RawVhid[]; global?: RawGlobal }, o: NormalizeOptions): Result<Config> {
  const warnings: string[] = [];
  try {
    const g = raw.global ?? {};
    const k = (f: string) => o.keyName(f);
    const logFormat = (g.logFormat ?? "text") as LogFormat;
    if (logFormat !== "text" && logFormat !== "json") fail(`${k("logFormat")}: must be text or json, got ${JSON.stringify(g.logFormat)}`);
    const facility = g.facility ?? DEFAULTS.facility;
    if (!FACILITIES.includes(facility)) fail(`${k("facility")}: unknown syslog facility ${JSON.stringify(facility)}`);
    const demotion = g.demotion === undefined ? 0 : intIn(g.demotion, k("demotion"), -(2 ** 31), 2 ** 31 - 1);
    if (g.control !== undefined && g.control === "") fail(`${k("control")}: empty path`);
    if (g.devdConf !== undefined && g.devdConf === "") fail(`${k("devdConf")}: empty path`);
    const preempt = g.preempt ?? false;
    if (o.requireVhids !== false && raw.vhids.length === 0) fail(`${k("vhid")}: no vhid configured`);
    const vhids = raw.vhids.map((r, i) => normalizeVhid(r, i, { preempt, antiReplay: g.antiReplay }, o, warnings));
    const byKey = new Map<string, number>();
    vhids.forEach((v, i) => {
      const key = `${v.vhid}@${v.interface}`;
      if (byKey.has(key)) fail(`${o.keyName("vhid", i)}: vhid ${v.vhid} on ${v.interface} is configured twice`);
      byKey.set(key, i);
    });
    const cfg: Config = {
      vhids,
      preempt,
      demotion,
      control: g.control ?? DEFAULTS.control,
      logFormat,
      facility,
      debug: g.debug ?? false,
      daemonize: g.daemonize ?? false,
      fixSysctls: g.fixSysctls ?? false,
    };
    if (g.devdConf !== undefined) cfg.devdConf = g.devdConf;
    if (g.checks !== undefined || g.track !== undefined) {
      const checks = normalizeChecks(g.checks ?? {}, (n) => `${k("checks")}.${n}`);
      const names = new Set(checks.map((c) => c.name));
      const track = [...new Set(g.track ?? [])];
      for (const t of track) if (!names.has(t)) fail(`${k("track")}: no check named ${JSON.stringify(t)} under ${k("checks")}`);
      vhids.forEach((v, i) => {
        for (const t of v.track ?? []) if (!names.has(t)) fail(`${o.keyName("track", i)}: no check named ${JSON.stringify(t)} under ${k("checks")}`);
      });
      for (const c of checks) {
        if (!track.includes(c.name) && !vhids.some((v) => v.track?.includes(c.name))) warnings.push(`${k("checks")}.${c.name}: tracked by no vhid (add it to track), it runs without effect`);
      }
      cfg.checks = checks;
      cfg.track = track;
    }
    if (g.metrics !== undefined) {
      const m = parseMetricsAddress(g.metrics);
      if (typeof m === "string") fail(`${k("metrics")}: ${m}`);
      cfg.metrics = m as MetricsAddress;
    }
    return { ok: true, value: cfg, warnings };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, error: e.message };
    throw e;
  }
}

/** Combines configurations from several sources (e.g. YAML file plus argv vhid); vhid@if must stay unique. */
export function mergeVhids(base: Config, extra: VhidConfig[], keyName: string): Result<Config> {
  const seen = new Set(base.vhids.map((v) => `${v.vhid}@${v.interface}`));
  for (const v of extra) {
    const key = `${v.vhid}@${v.interface}`;
    if (seen.has(key)) return { ok: false, error: `${keyName}: vhid ${v.vhid} on ${v.interface} is configured twice` };
    seen.add(key);
  }
  return { ok: true, value: { ...base, vhids: [...base.vhids, ...extra] }, warnings: [] };
}
