// sysctl read/write through /proc/sys (per network namespace: the files show the reading process's
// namespace), and the settings virtual MAC mode needs on the parent and the macvlan. Errors are values.
import { readFileSync, writeFileSync } from "node:fs";

export type SysctlResult<T> = { ok: true; value: T } | { ok: false; code: string; error: string };

const pathOf = (key: string) => `/proc/sys/${key.replace(/\./g, "/")}`;

/** "net.ipv4.conf.eth0.arp_ignore" -> its value (trimmed text). Interface names with dots are not supported. */
export function readSysctl(key: string): SysctlResult<string> {
  try {
    return { ok: true, value: readFileSync(pathOf(key), "utf8").trim() };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    return { ok: false, code, error: `sysctl ${key}: ${code === "ENOENT" ? "no such setting" : code}` };
  }
}

export function writeSysctl(key: string, value: string | number): SysctlResult<true> {
  try {
    writeFileSync(pathOf(key), `${value}\n`);
    return { ok: true, value: true };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    return { ok: false, code, error: `sysctl -w ${key}=${value}: ${code === "EACCES" || code === "EROFS" || code === "EPERM" ? `${code} (needs root in the namespace)` : code}` };
  }
}

/** One requirement: `key` must hold one of `accept`; `set` is the value we recommend (and write with --fix-sysctls). */
export interface SysctlCheck {
  key: string;
  /** Current value, or null when unreadable (e.g. the interface does not exist yet). */
  value: string | null;
  accept: string[];
  set: string;
  why: string;
  ok: boolean;
  /** The interface does not exist yet: `value` is the net.*.conf.default one it will inherit. */
  inherited?: boolean;
}

interface Rule {
  key: string;
  accept: string[];
  set: string;
  why: string;
}

/**
 * What virtual MAC mode needs (README "Layer 2 modes"). The kernel uses max(all, interface) for arp_ignore,
 * arp_announce and rp_filter, so `all` is listed for those too. `carp` may not exist yet (created at start).
 */
export function vmacRules(parent: string, carp: string, v6: boolean): Rule[] {
  const rules: Rule[] = [];
  for (const i of ["all", parent, carp]) {
    rules.push({ key: `net.ipv4.conf.${i}.arp_ignore`, accept: i === "all" ? ["0", "1"] : ["1"], set: "1", why: "answer ARP only for addresses of the receiving interface (the parent must not answer for a VIP with its real MAC)" });
    rules.push({ key: `net.ipv4.conf.${i}.arp_announce`, accept: i === "all" ? ["0", "2"] : ["2"], set: "2", why: "ARP requests carry the interface's own address, never a VIP with the real MAC" });
  }
  for (const i of ["all", carp]) rules.push({ key: `net.ipv4.conf.${i}.rp_filter`, accept: ["0", "2"], set: "2", why: "traffic to a VIP arrives on the macvlan while the subnet's route points at the parent: strict reverse-path filtering drops it" });
  rules.push({ key: `net.ipv4.conf.${carp}.promote_secondaries`, accept: ["1"], set: "1", why: "removing one VIP keeps the others" });
  if (v6) rules.push({ key: `net.ipv6.conf.${carp}.accept_dad`, accept: ["0"], set: "0", why: "the virtual MAC's link-local address and the VIPs (added nodad) are shared by the pair: no DAD on the macvlan" });
  return rules;
}

/**
 * Reads every rule. A setting of an interface that does not exist yet (the macvlan before the daemon
 * creates it) is read from net.ipv4/6.conf.default, which a new interface inherits; `inherited` says so.
 */
export function checkSysctls(rules: Rule[]): SysctlCheck[] {
  return rules.map((r) => {
    let v = readSysctl(r.key);
    let inherited = false;
    if (!v.ok && v.code === "ENOENT") {
      const d = r.key.replace(/^(net\.ipv[46]\.conf)\.[^.]+\./, "$1.default.");
      if (d !== r.key) {
        v = readSysctl(d);
        inherited = v.ok;
      }
    }
    const value = v.ok ? v.value : null;
    return { ...r, value, ok: value !== null && r.accept.includes(value), ...(inherited ? { inherited: true } : {}) };
  });
}

/** Writes the recommended value of every failed check whose setting exists; returns error lines. */
export function fixSysctls(checks: SysctlCheck[]): string[] {
  const errors: string[] = [];
  for (const c of checks) {
    if (c.ok || c.value === null) continue;
    const w = writeSysctl(c.key, c.set);
    if (!w.ok) errors.push(w.error);
    else {
      c.value = c.set;
      c.ok = true;
    }
  }
  return errors;
}

/** "net.ipv4.conf.eth0.arp_ignore is 0, set 1 (why)" */
export function describeCheck(c: SysctlCheck): string {
  const is = c.inherited ? `will be ${c.value} (from default)` : `is ${c.value ?? "unreadable"}`;
  return `${c.key} ${is}, set ${c.set} (sysctl -w ${c.key}=${c.set}, or --fix-sysctls): ${c.why}`;
}
