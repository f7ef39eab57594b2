// FreeBSD rc.conf front end. Understands the carp lines of both eras:
//   ifconfig_carp0="vhid 1 pass secret advskew 10 192.0.2.50/24"            (FreeBSD 8: carpN interface;
//                                                                           parent from --carp-parent/--interface)
//   ifconfig_em0_alias0="inet vhid 1 pass secret advskew 10 alias 192.0.2.50/32"  (FreeBSD 10+)
//   ifconfig_em0_alias1="inet6 vhid 1 pass secret 2001:db8::50/64"
//   ifconfig_em0_aliases="inet vhid 1 ... 192.0.2.50/32 inet vhid 2 ... 192.0.2.51/32"
// with advbase, advskew, pass, peer, peer6, mcast, mcast6, state backup|master, netmask/prefixlen, carpdev,
// and FreeBSD 15's VRRPv3 keywords carpver 3, vrrpprio N, vrrpinterval CS.
// Lines of one vhid on one parent are merged (their parameters must agree). Non-carp lines are ignored;
// sysctl.conf-style `net.inet.carp.preempt=1` / `net.inet.carp.demotion=N` lines are honoured too.
import { isIPv4, isIPv6 } from "node:net";
import { type Config, type RawGlobal, type RawVhid, type Result, normalizeConfig } from "./config.js";

export interface RcConfOptions {
  /** carpN -> parent interface (FreeBSD-8 style lines). */
  parents?: Record<string, string>;
  /** Parent for carpN lines not in `parents` (the --interface flag). */
  defaultParent?: string;
  readFile?: (path: string) => Buffer;
  global?: RawGlobal;
  requireVhids?: boolean;
}

export interface RcAssignment {
  name: string;
  value: string;
  line: number;
}

/** Splits rc.conf text into assignments: shell-style quoting, `#` comments, blank lines. */
export function parseRcAssignments(text: string): Result<RcAssignment[]> {
  const out: RcAssignment[] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    let s = lines[n].trim();
    if (s === "" || s.startsWith("#")) continue;
    if (s.startsWith("export ")) s = s.slice(7).trim();
    const m = /^([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(s);
    if (!m) continue; // not an assignment (e.g. a shell statement): rc.conf allows them, we ignore them
    const name = m[1];
    let rest = m[2];
    let value = "";
    // Concatenate quoted/unquoted pieces until whitespace or a comment, like sh does.
    while (rest.length > 0 && !/^\s/.test(rest) && !rest.startsWith("#")) {
      const q = rest[0];
      if (q === '"' || q === "'") {
        let end = 1;
        let piece = "";
        while (end < rest.length && rest[end] !== q) {
          if (q === '"' && rest[end] === "\\" && end + 1 < rest.length) end++;
          piece += rest[end++];
        }
        if (end >= rest.length) return { ok: false, error: `line ${n + 1}: ${name}: unterminated ${q} quote` };
        value += piece;
        rest = rest.slice(end + 1);
      } else {
        const u = /^[^\s"'#]+/.exec(rest);
        value += u ? u[0] : "";
        rest = rest.slice(u ? u[0].length : 1);
      }
    }
    out.push({ name, value, line: n + 1 });
  }
  return { ok: true, value: out, warnings: [] };
}

interface Group {
  var: string;
  line: number;
  parent?: string;
  carpName?: string;
  raw: RawVhid & { addresses: string[] };
}

const NETMASK_HEX = /^0x[0-9a-fA-F]{8}$/;

function maskToPrefix(mask: string): number | null {
  let n: number;
  if (NETMASK_HEX.test(mask)) n = parseInt(mask.slice(2), 16);
  else if (isIPv4(mask)) n = mask.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  else return null;
  const bits = n.toString(2).padStart(32, "0");
  return /^1*0*$/.test(bits) ? bits.indexOf("0") < 0 ? 32 : bits.indexOf("0") : null;
}

const ADDR_RE = /^[0-9a-fA-F:.]+(\/\d{1,3})?$/;
const isAddrToken = (t: string) => ADDR_RE.test(t) && (isIPv4(t.split("/")[0]) || isIPv6(t.split("/")[0]));

/** Parses one ifconfig argument string into per-vhid groups (an `_aliases` value may hold several). */
function parseIfconfigValue(varName: string, value: string): { groups: Omit<Group, "var" | "line">[]; error?: string } {
  const tokens = value.trim().split(/\s+/).filter(Boolean);
  const groups: Omit<Group, "var" | "line">[] = [];
  let cur: Omit<Group, "var" | "line"> | null = null;
  const start = () => {
    cur = { raw: { addresses: [] } };
    groups.push(cur);
    return cur;
  };
  const err = (msg: string) => ({ groups, error: `${varName}: ${msg}` });
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const g: Omit<Group, "var" | "line"> = t === "inet" || t === "inet6" || cur === null ? start() : cur;
    if (t === "inet" || t === "inet6") continue;
    const next = (kw: string): string | undefined => {
      const v = tokens[i + 1];
      i++;
      return v;
    };
    switch (t) {
      case "vhid": {
        const v = next(t);
        if (v === undefined) return err("vhid: missing value");
        g.raw.vhid = v;
        break;
      }
      case "pass": case "password": {
        const v = next(t);
        if (v === undefined) return err("pass: missing value");
        g.raw.password = v;
        break;
      }
      case "advskew": case "advbase": {
        const v = next(t);
        if (v === undefined) return err(`${t}: missing value`);
        g.raw[t] = v;
        break;
      }
      case "peer": case "peer6": case "carpdev": {
        const v = next(t);
        if (v === undefined) return err(`${t}: missing value`);
        if (t === "carpdev") g.parent = v;
        else if (g.raw[t] !== undefined && g.raw[t] !== v) {
          // ifconfig would keep the last one: one unicast peer per vhid.
          return err(`${t}: given twice (${g.raw[t]}, ${v}): a vhid has one unicast peer, like FreeBSD's peer; use multicast for more nodes`);
        } else g.raw[t] = v;
        break;
      }
      case "mcast": delete g.raw.peer; break;
      case "mcast6": delete g.raw.peer6; break;
      case "state": {
        const v = next(t);
        if (v !== "backup" && v !== "master") return err(`state: must be backup or master, got ${JSON.stringify(v ?? "")}`);
        g.raw.initialState = v;
        break;
      }
      case "netmask": {
        const v = next(t);
        const p = v === undefined ? null : maskToPrefix(v);
        const last = g.raw.addresses.length - 1;
        if (p === null || last < 0) return err(`netmask: invalid or without an address: ${JSON.stringify(v ?? "")}`);
        g.raw.addresses[last] = `${g.raw.addresses[last].split("/")[0]}/${p}`;
        break;
      }
      case "prefixlen": {
        const v = next(t);
        const last = g.raw.addresses.length - 1;
        if (v === undefined || !/^\d+$/.test(v) || last < 0) return err(`prefixlen: invalid or without an address`);
        g.raw.addresses[last] = `${g.raw.addresses[last].split("/")[0]}/${v}`;
        break;
      }
      case "broadcast": next(t); break;
      case "alias": case "add": case "up": break;
      case "carpver": case "vrrpprio": case "vrrpinterval": {
        // FreeBSD 15: `carpver 3 vrrpprio N vrrpinterval CS` makes the vhid speak VRRPv3.
        const v = next(t);
        if (v === undefined) return err(`${t}: missing value`);
        g.raw[t === "carpver" ? "version" : t] = v;
        break;
      }
      default:
        if (isAddrToken(t)) g.raw.addresses.push(t);
        else return err(`unsupported keyword ${JSON.stringify(t)}`);
    }
  }
  return { groups };
}

export function parseRcConf(text: string, opts: RcConfOptions = {}): Result<Config> {
  const a = parseRcAssignments(text);
  if (!a.ok) return a;
  const global: RawGlobal = {};
  const merged: Group[] = [];
  const warnings: string[] = [];
  const setParams = ["password", "advskew", "advbase", "peer", "peer6", "initialState", "version", "vrrpprio", "vrrpinterval"] as const;

  for (const { name, value, line } of a.value) {
    if (name === "net.inet.carp.preempt") {
      global.preempt = value.trim() !== "0";
      continue;
    }
    if (name === "net.inet.carp.demotion") {
      global.demotion = value.trim();
      continue;
    }
    const m = /^(?:ipv6_)?ifconfig_(.+)$/.exec(name);
    if (!m || !/(^|\s)vhid(\s|$)/.test(value)) continue; // not a carp line
    const ifpart = m[1].replace(/_(alias\d*|aliases|ipv6)$/, "");
    const parsed = parseIfconfigValue(name, value);
    if (parsed.error) return { ok: false, error: `line ${line}: ${parsed.error}` };
    for (const g of parsed.groups) {
      if (g.raw.vhid === undefined) {
        // A group without vhid in a carp line (e.g. the parent's own address in _aliases): not ours.
        continue;
      }
      let parent = g.parent;
      let carpName: string | undefined;
      if (/^carp\d+$/.test(ifpart)) {
        carpName = ifpart;
        parent ??= opts.parents?.[ifpart] ?? opts.defaultParent;
        if (parent === undefined) {
          return { ok: false, error: `line ${line}: ${name}: parent interface of ${ifpart} unknown: give --carp-parent ${ifpart}=IF or --interface IF` };
        }
      } else parent ??= ifpart;
      const existing = merged.find((x) => x.parent === parent && String(x.raw.vhid) === String(g.raw.vhid));
      if (!existing) {
        const ng: Group = { var: name, line, parent, raw: { ...g.raw, interface: parent, addresses: [...g.raw.addresses] } };
        if (carpName) ng.raw.carpName = carpName;
        merged.push(ng);
        continue;
      }
      for (const p of setParams) {
        const v = g.raw[p];
        if (v === undefined) continue;
        const old = existing.raw[p];
        if (old !== undefined && String(old) !== String(v)) {
          return { ok: false, error: `line ${line}: ${name}: ${p === "password" ? "pass" : p} differs from ${existing.var} for vhid ${g.raw.vhid} on ${parent}` };
        }
        (existing.raw as unknown as Record<string, unknown>)[p] = v;
      }
      if (carpName && existing.raw.carpName === undefined) existing.raw.carpName = carpName;
      existing.raw.addresses.push(...g.raw.addresses);
    }
  }
  const word: Record<string, string> = {
    password: "pass", addresses: "address", initialState: "state", interface: "parent interface", version: "carpver",
  };
  for (const [k, v] of Object.entries(opts.global ?? {})) if (v !== undefined) (global as Record<string, unknown>)[k] = v;
  const n = normalizeConfig(
    { vhids: merged.map((g) => g.raw), global },
    {
      keyName: (f, i) => (i === undefined ? f : `${merged[i].var} ${word[f] ?? f}`),
      longPassword: "truncate",
      readFile: opts.readFile,
      requireVhids: opts.requireVhids,
    },
  );
  if (n.ok) n.warnings.unshift(...warnings);
  return n;
}
