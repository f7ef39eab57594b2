// ucarp-compatible command line (ucarp 1.5.2 `src/ucarp.c` getopt_long table, carp-protocol.md §7.1) plus our
// extras. GNU getopt rules: `--key=value` and `--key value`, unambiguous long prefixes (`--mcast` for
// `--mcastip`), clustered short flags (`-PnB`), attached short values (`-v42`), `--` ends options.
// Any working ucarp command line parses to the equivalent config (semantics "ucarp", per-VIP hooks).
import { readFileSync } from "node:fs";
import {
  type Config,
  type KeyNamer,
  type RawGlobal,
  type RawVhid,
  type Result,
  mergeVhids,
  normalizeConfig,
} from "./config.js";
import { parseYamlConfig } from "./config-yaml.js";
import { parseRcConf } from "./config-rcconf.js";

interface OptSpec {
  long: string;
  short?: string;
  arg: boolean;
  /** Part of ucarp's own table (these win prefix resolution, so ucarp's abbreviations keep working). */
  ucarp: boolean;
  /** Not shown in the usage text (aliases). */
  hidden?: boolean;
}

const OPTS: OptSpec[] = [
  { long: "interface", short: "i", arg: true, ucarp: true },
  { long: "srcip", short: "s", arg: true, ucarp: true },
  { long: "mcastip", arg: true, ucarp: true },
  // ucarp's usage text says --mcast/-m; getopt accepts --mcast as a prefix and rejects -m. We accept both.
  { long: "mcast", short: "m", arg: true, ucarp: true, hidden: true },
  { long: "vhid", short: "v", arg: true, ucarp: true },
  { long: "pass", short: "p", arg: true, ucarp: true },
  { long: "passfile", short: "o", arg: true, ucarp: true },
  { long: "preempt", short: "P", arg: false, ucarp: true },
  { long: "neutral", short: "n", arg: false, ucarp: true },
  { long: "addr", short: "a", arg: true, ucarp: true },
  { long: "help", short: "h", arg: false, ucarp: true },
  { long: "advbase", short: "b", arg: true, ucarp: true },
  { long: "advskew", short: "k", arg: true, ucarp: true },
  { long: "upscript", short: "u", arg: true, ucarp: true },
  { long: "downscript", short: "d", arg: true, ucarp: true },
  { long: "deadratio", short: "r", arg: true, ucarp: true },
  { long: "debug", short: "D", arg: false, ucarp: true },
  { long: "shutdown", short: "z", arg: false, ucarp: true },
  { long: "daemonize", short: "B", arg: false, ucarp: true },
  { long: "ignoreifstate", short: "S", arg: false, ucarp: true },
  { long: "nomcast", short: "M", arg: false, ucarp: true },
  { long: "facility", short: "f", arg: true, ucarp: true },
  { long: "xparam", short: "x", arg: true, ucarp: true },
  // Our extras (long only).
  { long: "config", arg: true, ucarp: false },
  { long: "rc-conf", arg: true, ucarp: false },
  { long: "carp-parent", arg: true, ucarp: false },
  { long: "devd-conf", arg: true, ucarp: false },
  { long: "control", arg: true, ucarp: false },
  { long: "log-format", arg: true, ucarp: false },
  { long: "no-manage-vip", arg: false, ucarp: false },
  { long: "vmac", arg: false, ucarp: false },
  { long: "fix-sysctls", arg: false, ucarp: false },
  { long: "semantics", arg: true, ucarp: false },
  { long: "hook-mode", arg: true, ucarp: false },
  { long: "hook-timeout", arg: true, ucarp: false },
  { long: "srcip6", arg: true, ucarp: false },
  { long: "mcast6", arg: true, ucarp: false },
  { long: "peer", arg: true, ucarp: false },
  { long: "peer6", arg: true, ucarp: false },
  { long: "demote", arg: true, ucarp: false },
  { long: "demotion", arg: true, ucarp: false },
  { long: "carp-name", arg: true, ucarp: false },
  { long: "pidfile", arg: true, ucarp: false },
  { long: "anti-replay", arg: false, ucarp: false },
  { long: "faultscript", arg: true, ucarp: false },
  { long: "metrics", arg: true, ucarp: false },
  { long: "vrrp3", arg: false, ucarp: false },
  { long: "vrrpprio", arg: true, ucarp: false },
  { long: "vrrpinterval", arg: true, ucarp: false },
  { long: "vrrp-checksum", arg: true, ucarp: false },
];

export const UCARP_USAGE = `Usage: carp [options]   (ucarp-compatible)
  --interface=<if> (-i <if>)     interface carrying the vhid
  --srcip=<ip> (-s <ip>)         this host's real IPv4 address (ad source)
  --mcast=<ip> (-m <ip>)         multicast group (default 224.0.0.18); also --mcastip
  --vhid=<id> (-v <id>)          virtual host id (1-255)
  --pass=<pass> (-p <pass>)      password (at most 19 bytes)
  --passfile=<file> (-o <file>)  read the password from the first line of <file>
  --preempt (-P)                 take over from slower masters
  --neutral (-n)                 no downscript on the initial INIT -> BACKUP
  --addr=<ip[/len]> (-a <ip>)    virtual address; repeatable, IPv4 or IPv6
  --advbase=<s> (-b <s>)         advertisement interval base (default 1)
  --advskew=<n> (-k <n>)         advertisement skew (default 0)
  --upscript=<file> (-u <file>)  run on becoming MASTER: <file> <if> <vip> [xparam]
  --downscript=<file> (-d <file>) run on becoming BACKUP
  --deadratio=<n> (-r <n>)       master-down multiplier (default 3)
  --debug (-D)                   debug logging
  --shutdown (-z)                run the downscript at exit unless BACKUP
  --daemonize (-B)               run in background
  --ignoreifstate (-S)           ignore interface down / no carrier
  --nomcast (-M)                 broadcast advertisements at layer 2
  --facility=<name> (-f <name>)  syslog facility (default daemon, none = off)
  --xparam=<value> (-x <value>)  extra argument for the scripts
  --help (-h)                    this text
Extras:
  --config FILE  --rc-conf FILE  --carp-parent carpN=IF  --devd-conf FILE  --control PATH
  --log-format text|json  --no-manage-vip  --semantics freebsd|openbsd|ucarp  --hook-mode per-vip|all
  --vmac  --fix-sysctls  --hook-timeout MS  --srcip6 IP  --mcast6 IP  --peer IP  --peer6 IP  --demote N  --demotion N  --carp-name carpN
  --pidfile FILE  --faultscript FILE  --metrics ADDR:PORT
  --anti-replay  refuse replayed or rewritten adverts (needs --semantics freebsd; see README)
  --vrrp3 [--vrrpprio N] [--vrrpinterval CS] [--vrrp-checksum pseudo|v2]
                 VRRPv3 mode (FreeBSD carpver 3): priority 1-255 (default 100), interval in centiseconds
                 (default 100); no authentication in VRRPv3 (see README)
`;

const FIELD_FLAG: Record<string, string> = {
  interface: "--interface", vhid: "--vhid", advbase: "--advbase", advskew: "--advskew", password: "--pass",
  passfile: "--passfile", addresses: "--addr", semantics: "--semantics", deadratio: "--deadratio",
  demote: "--demote", srcip: "--srcip", srcip6: "--srcip6", mcast: "--mcast", mcast6: "--mcast6", peer: "--peer",
  peer6: "--peer6", hookMode: "--hook-mode", hookTimeoutMs: "--hook-timeout", carpName: "--carp-name",
  upscript: "--upscript", downscript: "--downscript", faultscript: "--faultscript", metrics: "--metrics", logFormat: "--log-format", facility: "--facility",
  demotion: "--demotion", control: "--control", devdConf: "--devd-conf", initialState: "--state",
  antiReplay: "--anti-replay",
  version: "--vrrp3", vrrpprio: "--vrrpprio", vrrpinterval: "--vrrpinterval", vrrpChecksum: "--vrrp-checksum",
};
const ONE_PEER = "a vhid has one unicast peer, like FreeBSD's peer; use multicast for more nodes";

export const ucarpKeyName: KeyNamer = (f) => FIELD_FLAG[f] ?? `--${f}`;

export interface ParsedArgv {
  help: boolean;
  /** Set when any per-vhid flag was given. */
  vhid: RawVhid | null;
  global: RawGlobal;
  configFile?: string;
  rcConfFile?: string;
  /** --carp-parent carp0=em0 mappings for FreeBSD-8 style rc.conf lines. */
  carpParents: Record<string, string>;
  /** --pidfile FILE: written once every vhid runs, removed at exit. */
  pidfile?: string;
  /** Positional arguments; ucarp ignores them, so do we (with a warning). */
  extra: string[];
}

function resolveLong(name: string): OptSpec | string {
  const exact = OPTS.find((o) => o.long === name);
  if (exact) return exact;
  for (const pool of [OPTS.filter((o) => o.ucarp), OPTS]) {
    const hits = pool.filter((o) => o.long.startsWith(name));
    // --mcast and --mcastip are one option; dedupe by what they set.
    const distinct = new Set(hits.map((o) => (o.long === "mcast" ? "mcastip" : o.long)));
    if (distinct.size === 1) return hits[0];
    if (distinct.size > 1 && pool !== OPTS) continue;
    if (distinct.size > 1) return `--${name}: ambiguous, could be ${[...distinct].map((l) => "--" + l).join(", ")}`;
  }
  return `--${name}: unknown option`;
}

const VHID_FLAGS = new Set([
  "interface", "srcip", "mcastip", "mcast", "vhid", "pass", "passfile", "preempt", "neutral", "addr", "advbase",
  "advskew", "upscript", "downscript", "deadratio", "shutdown", "ignoreifstate", "nomcast", "xparam",
  "no-manage-vip", "vmac", "semantics", "hook-mode", "hook-timeout", "srcip6", "mcast6", "peer", "peer6", "demote", "carp-name",
  "faultscript", "vrrp3", "vrrpprio", "vrrpinterval", "vrrp-checksum",
]);

/**
 * ucarp reads numbers with C strtoul (base 0: "0x10" is 16, "010" is 8, trailing junk ignored). We read
 * them the same way, with a warning whenever the result differs from the plain decimal reading. Unlike
 * ucarp we do NOT wrap advbase/advskew into a byte (ucarp turns 300 into 44): out-of-range values are left
 * for the validator, which rejects them naming the flag. Non-numeric text and negatives too.
 */
export function ucarpNumber(text: string, flag: string, warnings: string[]): string {
  const m = /^\s*\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(text);
  if (!m) return text;
  const lit = m[1];
  const n = /^0[xX]/.test(lit) ? parseInt(lit.slice(2), 16) : lit.length > 1 && lit[0] === "0" ? parseInt(lit, 8) : Number(lit);
  if (!/^\d+$/.test(text) || (text.length > 1 && text[0] === "0")) {
    warnings.push(`${flag}: ${JSON.stringify(text)} read as ${n} (ucarp's strtoul)`);
  }
  return String(n);
}

/** Pure argv parser: no file access, no defaults. */
export function parseUcarpArgv(argv: readonly string[]): Result<ParsedArgv> {
  const out: ParsedArgv = { help: false, vhid: null, global: {}, carpParents: {}, extra: [] };
  const v: RawVhid = {};
  let touchedVhid = false;
  let interfaceGiven: string | undefined;
  const warnings: string[] = [];

  const apply = (o: OptSpec, flag: string, val: string | undefined): string | null => {
    if (VHID_FLAGS.has(o.long) && o.long !== "interface") touchedVhid = true;
    const s = val as string;
    switch (o.long) {
      case "interface": interfaceGiven = s; v.interface = s; break;
      case "srcip": v.srcip = s; break;
      case "mcastip": case "mcast": v.mcast = s; break;
      case "vhid": v.vhid = ucarpNumber(s, flag, warnings); break;
      case "pass": v.password = s; break;
      case "passfile": v.passfile = s; break;
      case "preempt": v.preempt = true; break;
      case "neutral": v.neutral = true; break;
      case "addr": (v.addresses ??= []).push(s); break;
      case "help": out.help = true; break;
      case "advbase": v.advbase = ucarpNumber(s, flag, warnings); break;
      case "advskew": v.advskew = ucarpNumber(s, flag, warnings); break;
      case "upscript": v.upscript = s; break;
      case "downscript": v.downscript = s; break;
      case "deadratio": v.deadratio = ucarpNumber(s, flag, warnings); break;
      case "debug": out.global.debug = true; break;
      case "shutdown": v.shutdownScript = true; break;
      case "daemonize": out.global.daemonize = true; break;
      case "ignoreifstate": v.ignoreIfState = true; break;
      case "nomcast": v.nomcast = true; break;
      case "facility": out.global.facility = s; break;
      case "xparam": v.xparam = s; break;
      case "config": out.configFile = s; break;
      case "rc-conf": out.rcConfFile = s; break;
      case "carp-parent": {
        const m = /^([^=\s]+)=([^=\s]+)$/.exec(s);
        if (!m) return `${flag}: expected carpN=IF, got ${JSON.stringify(s)}`;
        out.carpParents[m[1]] = m[2];
        break;
      }
      case "devd-conf": out.global.devdConf = s; break;
      case "control": out.global.control = s; break;
      case "log-format": out.global.logFormat = s; break;
      case "no-manage-vip": v.manageVip = false; break;
      case "vmac": v.vmac = true; break;
      case "fix-sysctls": out.global.fixSysctls = true; break;
      case "semantics": v.semantics = s; break;
      case "hook-mode": v.hookMode = s; break;
      case "hook-timeout": v.hookTimeoutMs = s; break;
      case "srcip6": v.srcip6 = s; break;
      case "mcast6": v.mcast6 = s; break;
      case "peer": case "peer6": {
        // One unicast peer per vhid (FreeBSD's peer): a second one would silently replace the first.
        const was = v[o.long];
        if (was !== undefined && was !== s) return `${flag}: given twice (${was}, ${s}): ${ONE_PEER}`;
        v[o.long] = s;
        break;
      }
      case "demote": v.demote = s; break;
      case "demotion": out.global.demotion = s; break;
      case "carp-name": v.carpName = s; break;
      case "pidfile": out.pidfile = s; break;
      case "anti-replay": out.global.antiReplay = true; break;
      case "faultscript": v.faultscript = s; break;
      case "metrics": out.global.metrics = s; break;
      case "vrrp3": v.version = 3; break;
      case "vrrpprio": v.vrrpprio = s; break;
      case "vrrpinterval": v.vrrpinterval = s; break;
      case "vrrp-checksum": v.vrrpChecksum = s; break;
    }
    return null;
  };

  let i = 0;
  while (i < argv.length) {
    const a = argv[i++];
    if (a === "--") {
      out.extra.push(...argv.slice(i));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const o = resolveLong(name);
      if (typeof o === "string") return { ok: false, error: o };
      const flag = `--${o.long}`;
      let val: string | undefined;
      if (o.arg) {
        if (eq >= 0) val = a.slice(eq + 1);
        else if (i < argv.length) val = argv[i++];
        else return { ok: false, error: `${flag}: requires a value` };
      } else if (eq >= 0) return { ok: false, error: `${flag}: takes no value, got ${JSON.stringify(a.slice(eq + 1))}` };
      const err = apply(o, flag, val);
      if (err) return { ok: false, error: err };
    } else if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j];
        const o = OPTS.find((x) => x.short === c);
        if (!o) return { ok: false, error: `-${c}: unknown option` };
        const flag = `-${c} (--${o.long})`;
        let val: string | undefined;
        if (o.arg) {
          if (j + 1 < a.length) val = a.slice(j + 1);
          else if (i < argv.length) val = argv[i++];
          else return { ok: false, error: `${flag}: requires a value` };
          j = a.length;
        }
        const err = apply(o, flag, val);
        if (err) return { ok: false, error: err };
      }
    } else {
      out.extra.push(a);
    }
  }
  for (const e of out.extra) warnings.push(`ignoring extra argument ${JSON.stringify(e)} (ucarp ignores it too)`);
  if (touchedVhid) out.vhid = v;
  else if (interfaceGiven !== undefined) out.vhid = null;
  // --interface alone (with --rc-conf) names the parent of FreeBSD-8 carpN lines.
  if (interfaceGiven !== undefined && !touchedVhid) out.carpParents["*"] = interfaceGiven;
  return { ok: true, value: out, warnings };
}

export interface LoadOptions {
  readFile?: (path: string) => Buffer;
}

export type LoadedArgv = { help: true } | ({ help: false } & Config);

/**
 * Full command-line front end: parses argv, then loads --config (YAML) and --rc-conf files, and adds the
 * vhid described by flags. Flags for global settings override the file's.
 */
export function loadConfigFromArgv(argv: readonly string[], opts: LoadOptions = {}): Result<LoadedArgv> {
  const readFile = opts.readFile ?? ((p: string) => readFileSync(p));
  const parsed = parseUcarpArgv(argv);
  if (!parsed.ok) return parsed;
  const p = parsed.value;
  const warnings = [...parsed.warnings];
  if (p.help) return { ok: true, value: { help: true }, warnings };

  const readText = (path: string, flag: string): Result<string> => {
    try {
      return { ok: true, value: readFile(path).toString("utf8"), warnings: [] };
    } catch (e) {
      return { ok: false, error: `${flag}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    }
  };

  let base: Config | null = null;
  if (p.configFile !== undefined) {
    const text = readText(p.configFile, "--config");
    if (!text.ok) return text;
    const y = parseYamlConfig(text.value, { readFile, source: p.configFile, globalOverrides: p.global, requireVhids: false });
    if (!y.ok) return { ok: false, error: `--config ${p.configFile}: ${y.error}` };
    warnings.push(...y.warnings);
    base = y.value;
  }
  if (p.rcConfFile !== undefined) {
    const text = readText(p.rcConfFile, "--rc-conf");
    if (!text.ok) return text;
    const { "*": defaultParent, ...parents } = p.carpParents;
    const r = parseRcConf(text.value, {
      readFile,
      parents,
      defaultParent,
      global: p.global,
      requireVhids: false,
    });
    if (!r.ok) return { ok: false, error: `--rc-conf ${p.rcConfFile}: ${r.error}` };
    warnings.push(...r.warnings);
    if (base) {
      const m = mergeVhids(base, r.value.vhids, "--rc-conf");
      if (!m.ok) return m;
      base = m.value;
    } else base = r.value;
  }

  if (p.vhid !== null || base === null) {
    const raw = p.vhid ?? {};
    if (p.vhid === null && p.carpParents["*"] !== undefined) raw.interface = p.carpParents["*"];
    // A ucarp command line talks to ucarp peers unless told otherwise.
    const n = normalizeConfig(
      { vhids: [raw], global: p.global },
      { keyName: ucarpKeyName, longPassword: "refuse", defaultSemantics: "ucarp", readFile },
    );
    if (!n.ok) {
      if (p.vhid === null) return { ok: false, error: `--vhid: required (or --config FILE / --rc-conf FILE)` };
      return n;
    }
    warnings.push(...n.warnings);
    if (base) {
      const m = mergeVhids(base, n.value.vhids, "--vhid");
      if (!m.ok) return m;
      base = m.value;
    } else base = n.value;
  }
  if (base.vhids.length === 0) return { ok: false, error: `--vhid: no vhid configured` };
  return { ok: true, value: { help: false, ...base }, warnings };
}
