// YAML front end. Schema (every key optional unless noted; unknown keys are errors naming their path):
//
//   preempt: bool            default preempt for all vhids (FreeBSD net.inet.carp.preempt), default false
//   antiReplay: bool         default antiReplay for all vhids (refuse replayed/rewritten adverts), default false
//   demotion: int            global demotion added to every advskew, default 0
//   control: path            control socket, default /run/carp/carp.sock
//   devd: path               devd.conf-style rules file
//   daemonize: bool
//   fixSysctls: bool         write the sysctls vmac needs (default false: only warn)
//   metrics: "ADDR:PORT"     Prometheus endpoint at http://ADDR:PORT/metrics (e.g. 127.0.0.1:9742), off by default
//   log: { format: text|json, facility: daemon|local0..7|none|..., debug: bool }
//   checks: { NAME: { script: "cmd" | [argv] | interface: IF | file: PATH | process: NAME,
//             interval: s, timeout: s, fall: n, rise: n, weight: n } }   named health checks
//   track: [check names]     checks every vhid tracks (their demotion is global)
//   defaults: <vhid fields>  merged under every entry of `vhids`
//   vhids:                   (required, non-empty) list of <vhid fields>:
//     interface, vhid (required), advbase, advskew, password | passfile | passwordHex, addresses (list of
//     "ip[/prefix]"), preempt, semantics, deadratio, demote, srcip, srcip6, mcast, mcast6, peer, peer6,
//     nomcast, ignoreIfState, manageVip, carpName, vmac, state (backup|master),
//     track: [check names] (this vhid only), group: NAME | [NAMES] (demotion groups), preemptDelay: s,
//     startBackup: bool, garpRefresh: s (0 = off), garpRepeat: n (takeover GARP/NA rounds, default 1),
//     version: 2|3 (3 = VRRPv3), vrrpprio: 1-255, vrrpinterval: centiseconds, vrrpChecksum: pseudo|v2,
//     hooks: { up, down, fault, mode: per-vip|all, timeoutMs, xparam, neutral, onShutdown }
import { createRequire } from "node:module";
import type * as Yaml from "yaml";
import { type Config, type RawCheck, type RawGlobal, type RawVhid, type Result, normalizeConfig } from "./config.js";

// Loaded on first use: ucarp-style command lines never pay the parser's memory (several MB resident).
let yamlModule: typeof Yaml | null = null;
const yaml = (): typeof Yaml => (yamlModule ??= createRequire(import.meta.url)("yaml") as typeof Yaml);

export interface YamlOptions {
  readFile?: (path: string) => Buffer;
  /** For messages. */
  source?: string;
  /** Command-line globals that win over the file's. */
  globalOverrides?: RawGlobal;
  requireVhids?: boolean;
}

type Kind = "string" | "bool" | "int" | "number" | "strings" | "names" | "password" | "object" | "list";

const VHID_KEYS: Record<string, Kind> = {
  interface: "string", vhid: "int", advbase: "int", advskew: "int", password: "password", passfile: "string",
  passwordHex: "string", addresses: "strings", preempt: "bool", semantics: "string", deadratio: "int",
  demote: "int", srcip: "string", srcip6: "string", mcast: "string", mcast6: "string", peer: "string",
  peer6: "string", nomcast: "bool", ignoreIfState: "bool", manageVip: "bool", carpName: "string", vmac: "bool", antiReplay: "bool",
  state: "string", hooks: "object",
  track: "strings", group: "names", preemptDelay: "number", startBackup: "bool", garpRefresh: "number", garpRepeat: "int",
  version: "int", vrrpprio: "int", vrrpinterval: "int", vrrpChecksum: "string",
};
const CHECK_KEYS: Record<string, Kind> = {
  script: "names", interface: "string", file: "string", process: "string", interval: "number", timeout: "number",
  fall: "int", rise: "int", weight: "int",
};
const HOOK_KEYS: Record<string, Kind> = {
  up: "string", down: "string", fault: "string", mode: "string", timeoutMs: "int", xparam: "string", neutral: "bool",
  onShutdown: "bool",
};
const TOP_KEYS: Record<string, Kind> = {
  preempt: "bool", antiReplay: "bool", demotion: "int", control: "string", devd: "string", daemonize: "bool", log: "object", fixSysctls: "bool",
  defaults: "object", vhids: "list", checks: "object", track: "strings", metrics: "string",
};
const LOG_KEYS: Record<string, Kind> = { format: "string", facility: "string", debug: "bool" };

class YamlError extends Error {}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

/** The original text of every scalar by key path ("vhids[0].password" -> "0123"), for messages. */
type Sources = Map<string, string>;
let sources: Sources = new Map();

function collectSources(node: unknown, path: string, into: Sources): void {
  const y = yaml();
  if (y.isScalar(node)) {
    into.set(path, node.source ?? String(node.value));
  } else if (y.isMap(node)) {
    for (const pair of node.items) {
      const key = y.isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      collectSources(pair.value, path ? `${path}.${key}` : key, into);
    }
  } else if (y.isSeq(node)) {
    node.items.forEach((item, i) => collectSources(item, `${path}[${i}]`, into));
  }
}

function checkType(value: unknown, kind: Kind, path: string): void {
  const bad = (what: string) => {
    throw new YamlError(`${path}: must be ${what}, got ${JSON.stringify(value)}`);
  };
  // A number, boolean or date where text is required is never coerced: 0123 would sign with "123".
  const notText = () => {
    const src = sources.get(path) ?? String(value);
    throw new YamlError(`${path}: must be a string (quote it: ${JSON.stringify(src)})`);
  };
  switch (kind) {
    case "string":
      if (typeof value !== "string") notText();
      break;
    case "bool":
      if (typeof value !== "boolean") bad("true or false");
      break;
    case "int":
      if (!(typeof value === "number" && Number.isInteger(value)) && !(typeof value === "string" && /^-?\d+$/.test(value))) bad("an integer");
      break;
    case "number":
      if (!(typeof value === "number" && Number.isFinite(value)) && !(typeof value === "string" && /^\d+(\.\d+)?$/.test(value))) bad("a number");
      break;
    case "names": // one string or a list of strings
      if (typeof value === "string") break;
      checkType(value, "strings", path);
      break;
    case "strings":
      if (!Array.isArray(value)) bad("a list of strings");
      (value as unknown[]).forEach((s, i) => {
        if (typeof s !== "string") {
          const src = sources.get(`${path}[${i}]`) ?? String(s);
          throw new YamlError(`${path}[${i}]: must be a string (quote it: ${JSON.stringify(src)})`);
        }
      });
      break;
    case "password":
      if (typeof value !== "string" && !(value instanceof Uint8Array)) notText();
      break;
    case "object":
      if (!isPlainObject(value)) bad("a mapping");
      break;
    case "list":
      if (!Array.isArray(value)) bad("a list");
      break;
  }
}

function checkKeys(obj: Record<string, unknown>, allowed: Record<string, Kind>, path: string): void {
  for (const [key, value] of Object.entries(obj)) {
    const kind = allowed[key];
    const p = path ? `${path}.${key}` : key;
    if (!kind) throw new YamlError(`${p}: unknown key`);
    if (value === null) throw new YamlError(`${p}: empty value`);
    checkType(value, kind, p);
  }
}

/** Maps a YAML vhid mapping onto RawVhid; `path` is "vhids[2]" or "defaults". */
function toRawVhid(obj: Record<string, unknown>, path: string): RawVhid {
  for (const k of ["peer", "peer6"]) {
    const list = obj[k];
    if (Array.isArray(list)) {
      throw new YamlError(`${path}.${k}: one unicast peer per vhid, like FreeBSD's peer, got a list of ${list.length}; use multicast for more nodes`);
    }
  }
  checkKeys(obj, VHID_KEYS, path);
  const s = (x: unknown) => (x === undefined ? undefined : String(x));
  const r: RawVhid = {};
  const set = <K extends keyof RawVhid>(k: K, v: RawVhid[K] | undefined) => {
    if (v !== undefined) r[k] = v;
  };
  set("interface", s(obj.interface));
  set("vhid", obj.vhid as number | undefined);
  set("advbase", obj.advbase as number | undefined);
  set("advskew", obj.advskew as number | undefined);
  if (obj.password instanceof Uint8Array) r.password = obj.password;
  else set("password", s(obj.password));
  set("passfile", s(obj.passfile));
  if (obj.passwordHex !== undefined) {
    const hex = String(obj.passwordHex);
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new YamlError(`${path}.passwordHex: must be an even number of hex digits`);
    if (r.password !== undefined) throw new YamlError(`${path}.passwordHex: give password or passwordHex, not both`);
    r.password = Buffer.from(hex, "hex");
  }
  set("addresses", obj.addresses as string[] | undefined);
  set("preempt", obj.preempt as boolean | undefined);
  set("semantics", s(obj.semantics));
  // Numbers and booleans kept under their own names (checkType has already checked each one).
  for (const k of ["deadratio", "demote", "nomcast", "ignoreIfState", "manageVip", "antiReplay", "vmac", "preemptDelay", "startBackup", "garpRefresh", "garpRepeat", "version", "vrrpprio", "vrrpinterval"] as const) {
    set(k, obj[k] as RawVhid[typeof k] | undefined);
  }
  for (const k of ["srcip", "srcip6", "mcast", "mcast6", "peer", "peer6", "carpName"] as const) set(k, s(obj[k]));
  set("initialState", s(obj.state));
  set("track", obj.track as string[] | undefined);
  set("groups", obj.group as string | string[] | undefined);
  set("vrrpChecksum", s(obj.vrrpChecksum));
  if (obj.hooks !== undefined) {
    const h = obj.hooks as Record<string, unknown>;
    checkKeys(h, HOOK_KEYS, `${path}.hooks`);
    set("upscript", s(h.up));
    set("downscript", s(h.down));
    set("faultscript", s(h.fault));
    set("hookMode", s(h.mode));
    set("hookTimeoutMs", h.timeoutMs as number | undefined);
    set("xparam", s(h.xparam));
    set("neutral", h.neutral as boolean | undefined);
    set("shutdownScript", h.onShutdown as boolean | undefined);
  }
  return r;
}

// Error key names in YAML terms.
const FIELD_KEY: Record<string, string> = {
  upscript: "hooks.up", downscript: "hooks.down", faultscript: "hooks.fault", hookMode: "hooks.mode", hookTimeoutMs: "hooks.timeoutMs",
  xparam: "hooks.xparam", neutral: "hooks.neutral", shutdownScript: "hooks.onShutdown", initialState: "state", groups: "group",
};
const GLOBAL_KEY: Record<string, string> = {
  logFormat: "log.format", facility: "log.facility", debug: "log.debug", devdConf: "devd", vhid: "vhids",
};

export function parseYamlConfig(text: string, opts: YamlOptions = {}): Result<Config> {
  const doc = yaml().parseDocument(text, { prettyErrors: true, uniqueKeys: true, customTags: ["binary"] });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const where = e.linePos ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "";
    return { ok: false, error: `YAML syntax error${where}: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}` };
  }
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (e) {
    // yaml's guard against alias bombs ("billion laughs"): bad input, not a crash.
    if (e instanceof ReferenceError) return { ok: false, error: `YAML: too many alias expansions (more than 100): ${e.message.split("\n")[0]}` };
    throw e;
  }
  collectSources(doc.contents, "", sources);
  try {
    if (root === null || root === undefined) throw new YamlError("empty file");
    if (!isPlainObject(root)) throw new YamlError("top level must be a mapping");
    checkKeys(root, TOP_KEYS, "");
    const defaults = root.defaults === undefined ? {} : toRawVhid(root.defaults as Record<string, unknown>, "defaults");
    const list = root.vhids ?? [];
    if (!Array.isArray(list)) throw new YamlError(`vhids: must be a list`);
    const vhids = list.map((item, i) => {
      if (!isPlainObject(item)) throw new YamlError(`vhids[${i}]: must be a mapping`);
      return { ...defaults, ...toRawVhid(item, `vhids[${i}]`) };
    });
    const g: RawGlobal = {};
    if (root.preempt !== undefined) g.preempt = root.preempt as boolean;
    if (root.antiReplay !== undefined) g.antiReplay = root.antiReplay as boolean;
    if (root.demotion !== undefined) g.demotion = root.demotion as number;
    if (root.control !== undefined) g.control = String(root.control);
    if (root.devd !== undefined) g.devdConf = String(root.devd);
    if (root.daemonize !== undefined) g.daemonize = root.daemonize as boolean;
    if (root.track !== undefined) g.track = root.track as string[];
    if (root.checks !== undefined) {
      g.checks = {};
      for (const [name, c] of Object.entries(root.checks as Record<string, unknown>)) {
        if (!isPlainObject(c)) throw new YamlError(`checks.${name}: must be a mapping`);
        checkKeys(c, CHECK_KEYS, `checks.${name}`);
        g.checks[name] = c as RawCheck;
      }
    }
    if (root.fixSysctls !== undefined) g.fixSysctls = root.fixSysctls as boolean;
    if (root.metrics !== undefined) g.metrics = String(root.metrics);
    if (root.log !== undefined) {
      const l = root.log as Record<string, unknown>;
      checkKeys(l, LOG_KEYS, "log");
      if (l.format !== undefined) g.logFormat = String(l.format);
      if (l.facility !== undefined) g.facility = String(l.facility);
      if (l.debug !== undefined) g.debug = l.debug as boolean;
    }
    for (const [k, v] of Object.entries(opts.globalOverrides ?? {})) if (v !== undefined) (g as Record<string, unknown>)[k] = v;
    return normalizeConfig(
      { vhids, global: g },
      {
        keyName: (f, i) => (i === undefined ? GLOBAL_KEY[f] ?? f : `vhids[${i}].${FIELD_KEY[f] ?? f}`),
        longPassword: "truncate",
        readFile: opts.readFile,
        requireVhids: opts.requireVhids,
      },
    );
  } catch (e) {
    if (e instanceof YamlError) return { ok: false, error: e.message };
    throw e;
  } finally {
    sources = new Map(); // the texts include passwords: keep them no longer than the parse
  }
}
