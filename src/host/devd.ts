// A FreeBSD devd.conf(5) subset, so existing CARP rules (the handbook's HAST+CARP example, pfSense-style
// `system=CARP` rules) work unchanged. Facts copied from devd's behaviour (sbin/devd/devd.cc):
//  - `match "var" "value"`: value is a POSIX extended regex, anchored as "^value$", case-insensitive; a
//    leading "!" inverts. `$name` in the value is expanded at parse time from `options { set … }` variables.
//  - `action "cmd"`: `$name` expanded when the event fires (event variables first, then `set` variables;
//    unknown -> ""; `$$` -> `$`), run with /bin/sh -c.
//  - Blocks are stably sorted by priority, highest first; for an event only the FIRST block whose matches
//    all succeed runs (all of its actions, in order).
// We emit notify events only: `system=CARP subsystem=<vhid>@<if> type=MASTER|BACKUP|INIT` (FreeBSD 10+) and
// `system=IFNET subsystem=<carpName> type=LINK_UP|LINK_DOWN` (FreeBSD 8 carpN interfaces). attach, detach and
// nomatch blocks are parsed and kept but never fire (noted in `notes`).
import { type HookResult, runScript } from "./hooks.js";

export type DevdEvent = Record<string, string>;

export interface DevdMatch {
  variable: string;
  /** Expanded pattern without the anchors, as written (minus "!"). */
  pattern: string;
  invert: boolean;
  re: RegExp;
}

export interface DevdRule {
  kind: "notify" | "attach" | "detach" | "nomatch";
  priority: number;
  matches: DevdMatch[];
  actions: string[];
  line: number;
  /** Sub-statements we cannot evaluate (media-type): such a rule never matches. */
  unsupported: string[];
}

export interface DevdConfig {
  rules: DevdRule[];
  /** `options { set name "value"; }` */
  variables: Record<string, string>;
  notes: string[];
}

export type DevdResult<T> = { ok: true; value: T } | { ok: false; error: string };

type Tok = { t: "str" | "word" | "punct"; v: string; line: number };

function tokenize(text: string): DevdResult<Tok[]> {
  const out: Tok[] = [];
  let i = 0;
  let line = 1;
  while (i < text.length) {
    const c = text[i];
    if (c === "\n") {
      line++;
      i++;
    } else if (/\s/.test(c)) i++;
    else if (c === "#" || (c === "/" && text[i + 1] === "/")) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) return { ok: false, error: `line ${line}: unterminated /* comment` };
      for (let j = i; j < end; j++) if (text[j] === "\n") line++;
      i = end + 2;
    } else if (c === '"') {
      let v = "";
      const start = line;
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\" && (text[i + 1] === '"' || text[i + 1] === "\\")) i++;
        if (text[i] === "\n") line++;
        v += text[i++];
      }
      if (i >= text.length) return { ok: false, error: `line ${start}: unterminated string` };
      i++;
      out.push({ t: "str", v, line: start });
    } else if (c === "{" || c === "}" || c === ";") {
      out.push({ t: "punct", v: c, line });
      i++;
    } else {
      const m = /^[^\s{};"#]+/.exec(text.slice(i, i + 256));
      if (!m) return { ok: false, error: `line ${line}: unexpected ${JSON.stringify(c)}` };
      out.push({ t: "word", v: m[0], line });
      i += m[0].length;
    }
  }
  return { ok: true, value: out };
}

const isIdStart = (c: string | undefined) => c !== undefined && /[A-Za-z_\-*]/.test(c);
const isIdChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_\-]/.test(c);

/** devd's `$var` expansion. */
export function expandDevd(src: string, lookup: (name: string) => string | undefined): string {
  let out = "";
  let i = 0;
  while (i < src.length) {
    const at = src.indexOf("$", i);
    if (at < 0) {
      out += src.slice(i);
      break;
    }
    out += src.slice(i, at);
    i = at + 1;
    const c = src[i];
    if (c === "$") {
      out += "$";
      i++;
    } else if (c === "(") {
      // $(...) passes through untouched (devd does the same).
      let depth = 0;
      out += "$";
      while (i < src.length) {
        const ch = src[i++];
        out += ch;
        if (ch === "(") depth++;
        else if (ch === ")" && --depth === 0) break;
      }
    } else if (!isIdStart(c)) {
      out += "$";
    } else {
      let name = src[i++];
      while (isIdChar(src[i])) name += src[i++];
      out += lookup(name) ?? "";
    }
  }
  return out;
}

const POSIX_CLASSES: Record<string, string> = {
  alpha: "A-Za-z", digit: "0-9", alnum: "A-Za-z0-9", upper: "A-Z", lower: "a-z", space: " \\t\\n\\r\\f\\v",
  xdigit: "0-9A-Fa-f", punct: "!-\\/:-@\\[-`{-~", blank: " \\t", cntrl: "\\x00-\\x1f\\x7f", print: "\\x20-\\x7e",
  graph: "\\x21-\\x7e",
};

/** POSIX ERE -> JS RegExp anchored like devd ("^" + re + "$", REG_ICASE). */
export function devdRegex(pattern: string): RegExp {
  const js = pattern.replace(/\[:([a-z]+):\]/g, (m, name: string) => POSIX_CLASSES[name] ?? m);
  return new RegExp(`^${js}$`, "i");
}

export function parseDevdConf(text: string): DevdResult<DevdConfig> {
  const tk = tokenize(text);
  if (!tk.ok) return tk;
  const toks = tk.value;
  const cfg: DevdConfig = { rules: [], variables: {}, notes: [] };
  let p = 0;
  const peek = () => toks[p];
  const err = (msg: string, t = toks[Math.min(p, toks.length - 1)]): DevdResult<DevdConfig> => ({
    ok: false,
    error: `line ${t?.line ?? 1}: ${msg}`,
  });
  const isPunct = (v: string) => peek()?.t === "punct" && peek()?.v === v;
  const value = (): string | undefined => {
    const t = peek();
    if (t && (t.t === "str" || t.t === "word")) {
      p++;
      return t.v;
    }
    return undefined;
  };
  const semi = (): boolean => {
    if (!isPunct(";")) return false;
    p++;
    return true;
  };

  while (p < toks.length) {
    const kw = peek();
    if (kw.t === "punct" && kw.v === ";") {
      p++;
      continue;
    }
    if (kw.t !== "word") return err(`expected a block keyword, got ${JSON.stringify(kw.v)}`);
    p++;
    if (kw.v === "options") {
      if (!isPunct("{")) return err(`options: expected "{"`);
      p++;
      while (!isPunct("}")) {
        const o = peek();
        if (!o) return err(`options: missing "}"`, kw);
        p++;
        if (o.v === "set") {
          const name = value();
          const val = value();
          if (name === undefined || val === undefined) return err(`set: expected a name and a value`, o);
          cfg.variables[name] = expandDevd(val, (n) => cfg.variables[n]);
        } else if (o.v === "directory" || o.v === "pid-file") {
          const v = value();
          if (v === undefined) return err(`${o.v}: expected a value`, o);
          cfg.notes.push(`line ${o.line}: options ${o.v} ${JSON.stringify(v)} ignored`);
        } else return err(`options: unknown statement ${JSON.stringify(o.v)}`, o);
        if (!semi()) return err(`expected ";" after ${o.v}`, o);
      }
      p++;
      semi();
      continue;
    }
    if (!["notify", "attach", "detach", "nomatch"].includes(kw.v)) return err(`unknown block ${JSON.stringify(kw.v)}`, kw);
    const prioTok = value();
    if (prioTok === undefined || !/^-?\d+$/.test(prioTok)) return err(`${kw.v}: expected a priority number`, kw);
    if (!isPunct("{")) return err(`${kw.v}: expected "{"`, kw);
    p++;
    const rule: DevdRule = {
      kind: kw.v as DevdRule["kind"],
      priority: Number(prioTok),
      matches: [],
      actions: [],
      line: kw.line,
      unsupported: [],
    };
    while (!isPunct("}")) {
      const s = peek();
      if (!s) return err(`${kw.v}: missing "}"`, kw);
      p++;
      const addMatch = (variable: string, raw: string): DevdResult<DevdConfig> | null => {
        const invert = raw.startsWith("!");
        const pattern = expandDevd(invert ? raw.slice(1) : raw, (n) => cfg.variables[n]);
        try {
          rule.matches.push({ variable, pattern, invert, re: devdRegex(pattern) });
        } catch (e) {
          return err(`match ${JSON.stringify(variable)}: bad regex ${JSON.stringify(pattern)}: ${(e as Error).message}`, s);
        }
        return null;
      };
      if (s.v === "match") {
        const variable = value();
        const raw = value();
        if (variable === undefined || raw === undefined) return err(`match: expected a variable and a value`, s);
        const e = addMatch(variable, raw);
        if (e) return e;
      } else if (s.v === "action") {
        const a = value();
        if (a === undefined) return err(`action: expected a command`, s);
        rule.actions.push(a);
      } else if (s.v === "device-name" || s.v === "class" || s.v === "subdevice") {
        const v = value();
        if (v === undefined) return err(`${s.v}: expected a value`, s);
        const e = addMatch(s.v, v);
        if (e) return e;
      } else if (s.v === "media-type") {
        const a = value();
        const b = value();
        if (a === undefined) return err(`media-type: expected a value`, s);
        rule.unsupported.push(`media-type ${a}${b !== undefined ? " " + b : ""}`);
      } else return err(`${kw.v}: unknown statement ${JSON.stringify(s.v)}`, s);
      if (!semi()) return err(`expected ";" after ${s.v}`, s);
    }
    p++;
    semi();
    if (rule.kind !== "notify") cfg.notes.push(`line ${rule.line}: ${rule.kind} block kept but never fires (only notify events are emitted)`);
    if (rule.unsupported.length) cfg.notes.push(`line ${rule.line}: ${rule.unsupported.join(", ")} not supported; this block never matches`);
    cfg.rules.push(rule);
  }
  // Stable sort, highest priority first (devd's epv_greater).
  cfg.rules = cfg.rules.map((r, i) => ({ r, i })).sort((a, b) => b.r.priority - a.r.priority || a.i - b.i).map((x) => x.r);
  return { ok: true, value: cfg };
}

/** The first (highest-priority) notify rule whose matches all succeed, or null. */
export function findRule(cfg: DevdConfig, ev: DevdEvent, kind: DevdRule["kind"] = "notify"): DevdRule | null {
  for (const r of cfg.rules) {
    if (r.kind !== kind || r.unsupported.length > 0) continue;
    const ok = r.matches.every((m) => m.re.test(ev[m.variable] ?? "") !== m.invert);
    if (ok) return r;
  }
  return null;
}

/** Expanded action commands an event would run. */
export function actionsFor(cfg: DevdConfig, ev: DevdEvent): string[] {
  const r = findRule(cfg, ev);
  if (!r) return [];
  const all: DevdEvent = { ...ev, "*": Object.entries(ev).map(([k, v]) => `${k}=${v}`).join(" ") };
  return r.actions.map((a) => expandDevd(a, (n) => (n in all ? all[n] : cfg.variables[n])));
}

/** FreeBSD 10+ devctl notification for a state change. */
export function carpEvent(vhid: number, ifname: string, state: "INIT" | "BACKUP" | "MASTER"): DevdEvent {
  return { system: "CARP", subsystem: `${vhid}@${ifname}`, type: state };
}

/** FreeBSD 8 carpN link event: the carp interface is up exactly while MASTER. */
export function ifnetEvent(carpName: string, up: boolean): DevdEvent {
  return { system: "IFNET", subsystem: carpName, type: up ? "LINK_UP" : "LINK_DOWN" };
}

/** Events for a transition: always CARP; IFNET when a carpName is set and the link state flips. */
export function eventsForTransition(
  v: { vhid: number; interface: string; carpName?: string },
  from: "INIT" | "BACKUP" | "MASTER",
  to: "INIT" | "BACKUP" | "MASTER",
): DevdEvent[] {
  const evs = [carpEvent(v.vhid, v.interface, to)];
  if (v.carpName && (from === "MASTER") !== (to === "MASTER")) evs.push(ifnetEvent(v.carpName, to === "MASTER"));
  return evs;
}

export interface DevdRunnerOptions {
  timeoutMs?: number;
  onResult?: (r: HookResult & { event: DevdEvent; command: string }) => void;
  shell?: string;
  killGraceMs?: number;
}

/** Fires actions for events; all actions run serialized (one global queue) through /bin/sh -c. */
export class DevdRunner {
  private queue: Promise<unknown> = Promise.resolve();
  constructor(
    readonly cfg: DevdConfig,
    private readonly opts: DevdRunnerOptions = {},
  ) {}

  /** Queues the matching actions; returns at once. The promise resolves with the results. */
  dispatch(ev: DevdEvent): Promise<HookResult[]> {
    const cmds = actionsFor(this.cfg, ev);
    if (cmds.length === 0) return Promise.resolve([]);
    const job = async () => {
      const out: HookResult[] = [];
      for (const command of cmds) {
        const r = await runScript(
          { file: this.opts.shell ?? "/bin/sh", args: ["-c", command], env: {} },
          this.opts.timeoutMs ?? 30_000,
          { vhid: 0, interface: ev.subsystem ?? "", to: ev.type ?? "" },
          { killGraceMs: this.opts.killGraceMs },
        );
        out.push(r);
        try {
          this.opts.onResult?.({ ...r, event: ev, command });
        } catch {
          /* logging must not break the queue */
        }
      }
      return out;
    };
    const next = this.queue.then(job);
    this.queue = next.catch(() => undefined);
    return next;
  }

  idle(): Promise<unknown> {
    return this.queue;
  }
}
