// Virtual addresses on Linux through iproute2 (`ip`). Design decisions:
//  - Idempotent: adding an address that exists, or removing one that is absent, is success (changed=false).
//  - Ownership: IPv4 VIPs get the label "<if>:carp<vhid>" (or "<if>:c<vhid>" when that exceeds the kernel's
//    15-character IFNAMSIZ limit; no label if even that does not fit). iproute2 6.1 has no address `proto`
//    attribute, so every VIP we add (IPv4 and IPv6) is also recorded in a small JSON state file (default
//    /run/carp/vips.json, on tmpfs: it dies with the addresses at reboot). An address is ours if it carries
//    our label or is in the state file.
//  - IPv6 VIPs are added with `nodad`, so they are usable at once (no tentative phase during takeover).
//  - Vanished VIPs: `VipWatcher` runs `ip -o monitor address` as a child process (netlink events, no
//    polling) and emits "removed"/"added"; `present()` answers "is it still there" for a reconcile check.
//  - Errors carry the reason: EPERM -> "needs root or CAP_NET_ADMIN", unknown interface, missing netns.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import type { VipAddress } from "../daemon/config.js";

export type IpErrorCode = "EPERM" | "ENODEV" | "ENOENT" | "EEXIST" | "EADDRNOTAVAIL" | "EINVAL" | "EIO";
export type HostResult<T> = { ok: true; value: T } | { ok: false; code: IpErrorCode; error: string };

export interface IpOptions {
  /** Run inside this network namespace (`ip -n NS`). */
  netns?: string;
  /** Path of the ip binary. Default "ip". */
  ipPath?: string;
}

const IFNAMSIZ_MAX = 15;

/** Classifies iproute2's stderr into an errno-like code with a human reason. */
export function classifyIpError(stderr: string, context: string): { code: IpErrorCode; error: string } {
  const s = stderr.trim().split("\n")[0] ?? "";
  if (/Operation not permitted|Permission denied/i.test(stderr)) {
    return { code: "EPERM", error: `${context}: ${s} (needs root or CAP_NET_ADMIN)` };
  }
  if (/Cannot find device|does not exist|No such device/i.test(stderr)) return { code: "ENODEV", error: `${context}: interface not found (${s})` };
  if (/Cannot open network namespace/i.test(stderr)) return { code: "ENOENT", error: `${context}: ${s}` };
  if (/File exists|already assigned/i.test(stderr)) return { code: "EEXIST", error: `${context}: ${s}` };
  if (/Cannot assign requested address|address not found/i.test(stderr)) return { code: "EADDRNOTAVAIL", error: `${context}: ${s}` };
  if (/Invalid argument|Error:/i.test(stderr)) return { code: "EINVAL", error: `${context}: ${s}` };
  return { code: "EIO", error: `${context}: ${s || "ip failed"}` };
}

/** Runs `ip [-n ns] args…`; resolves with stdout or a classified error. Never rejects. */
export function runIp(args: string[], o: IpOptions, context: string): Promise<HostResult<string>> {
  const full = o.netns ? ["-n", o.netns, ...args] : args;
  return new Promise((resolve) => {
    execFile(o.ipPath ?? "ip", full, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, value: stdout });
      const e = err as NodeJS.ErrnoException;
      if (e.code === "ENOENT") return resolve({ ok: false, code: "ENOENT", error: `${context}: ${o.ipPath ?? "ip"} not found (install iproute2)` });
      resolve({ ok: false, ...classifyIpError(String(stderr), context) });
    });
  });
}

/**
 * Runs several `ip` commands in one process (`ip -force -batch -`): one fork for all VIPs of a vhid at
 * takeover. Resolves with one result per command (errors classified like runIp). Never rejects.
 */
export function runIpBatch(cmds: string[][], o: IpOptions, context: string): Promise<Array<HostResult<null>>> {
  const args = [...(o.netns ? ["-n", o.netns] : []), "-force", "-batch", "-"];
  return new Promise((resolve) => {
    const child = execFile(o.ipPath ?? "ip", args, { maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
      const e = err as NodeJS.ErrnoException | null;
      if (e && e.code === "ENOENT") {
        const r = { ok: false as const, code: "ENOENT" as const, error: `${context}: ${o.ipPath ?? "ip"} not found (install iproute2)` };
        return resolve(cmds.map(() => r));
      }
      // stderr: the error text of command N, then "Command failed -:N".
      const failed = new Map<number, string>();
      let buf: string[] = [];
      for (const line of String(stderr).split("\n")) {
        const m = /^Command failed -:(\d+)/.exec(line);
        if (m) {
          failed.set(Number(m[1]), buf.join("\n"));
          buf = [];
        } else if (line.trim()) buf.push(line);
      }
      if (e && failed.size === 0) {
        // Failed before running anything (e.g. missing netns): every command failed the same way.
        const c = classifyIpError(String(stderr), context);
        return resolve(cmds.map(() => ({ ok: false as const, ...c })));
      }
      resolve(
        cmds.map((cmd, i) => {
          const text = failed.get(i + 1);
          if (text === undefined) return { ok: true as const, value: null };
          return { ok: false as const, ...classifyIpError(text, `${context}: ${cmd.join(" ")}`) };
        }),
      );
    });
    // ip may exit before reading its batch (e.g. a missing netns): EPIPE here must not crash the daemon;
    // the exit callback above reports the failure.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(cmds.map((c) => c.join(" ")).join("\n") + "\n");
  });
}

/** The label we give IPv4 VIPs, or undefined if no label fits in 15 characters. */
export function vipLabel(ifname: string, vhid: number): string | undefined {
  for (const l of [`${ifname}:carp${vhid}`, `${ifname}:c${vhid}`]) if (l.length <= IFNAMSIZ_MAX) return l;
  return undefined;
}

/** The vhid encoded in one of our labels, or undefined. */
export function vhidFromLabel(ifname: string, label: string | undefined): number | undefined {
  if (!label || !label.startsWith(ifname + ":")) return undefined;
  const m = /^c(?:arp)?(\d{1,3})$/.exec(label.slice(ifname.length + 1));
  return m ? Number(m[1]) : undefined;
}

export interface OwnedVip {
  ifname: string;
  vhid: number;
  address: string;
  prefix: number;
  family: 4 | 6;
}

export interface PresentAddress {
  ifname: string;
  address: string;
  prefix: number;
  family: 4 | 6;
  label?: string;
}

/** All addresses (optionally of one interface), from `ip -j addr show`. */
export async function listAddresses(o: IpOptions, ifname?: string): Promise<HostResult<PresentAddress[]>> {
  const r = await runIp(["-j", "addr", "show", ...(ifname ? ["dev", ifname] : [])], o, ifname ? `list addresses of ${ifname}` : "list addresses");
  if (!r.ok) return r;
  let data: Array<{ ifname: string; addr_info?: Array<{ family: string; local: string; prefixlen: number; label?: string }> }>;
  try {
    data = JSON.parse(r.value || "[]");
  } catch {
    return { ok: false, code: "EIO", error: "list addresses: unparsable `ip -j` output" };
  }
  const out: PresentAddress[] = [];
  for (const link of data) {
    for (const a of link.addr_info ?? []) {
      if (a.family !== "inet" && a.family !== "inet6") continue;
      const p: PresentAddress = { ifname: link.ifname, address: a.local, prefix: a.prefixlen, family: a.family === "inet" ? 4 : 6 };
      if (a.label) p.label = a.label;
      out.push(p);
    }
  }
  return { ok: true, value: out };
}

export interface VipManagerOptions extends IpOptions {
  /**
   * Where this instance records the VIPs it added: one file per instance (the daemon uses
   * `<control socket>.vips.json`), never shared, so no lock is needed. Default
   * `$CARP_RUN_DIR/carp.sock.vips.json` (/run/carp/...), the file of the default instance.
   */
  stateFile?: string;
}

/** Which VIPs a startup cleanup may touch besides those in this instance's state file. */
export interface StaleScope {
  /** This instance's vhids: labelled VIPs of these count as ours even when the state file lost them. */
  own?: ReadonlyArray<{ ifname: string; vhid: number }>;
  /** Candidates to leave in place anyway. */
  keep?: (v: OwnedVip) => boolean;
}

const sameVip = (a: { ifname: string; address: string; prefix: number }, b: { ifname: string; address: string; prefix: number }) =>
  a.ifname === b.ifname && a.address === b.address && a.prefix === b.prefix;

export class VipManager {
  readonly stateFile: string;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: VipManagerOptions = {}) {
    this.stateFile = o.stateFile ?? join(process.env.CARP_RUN_DIR || "/run/carp", "carp.sock.vips.json");
  }

  /** Serializes state-file read-modify-write cycles. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async readState(): Promise<OwnedVip[]> {
    try {
      const j = JSON.parse(await readFile(this.stateFile, "utf8")) as { vips?: OwnedVip[] };
      return Array.isArray(j.vips) ? j.vips : [];
    } catch {
      return [];
    }
  }

  private async writeState(vips: OwnedVip[]): Promise<void> {
    await mkdir(dirname(this.stateFile), { recursive: true });
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ vips }, null, 1) + "\n");
    await rename(tmp, this.stateFile);
  }

  /** Adds a VIP; success if it is already there. `value` is true when we actually added it. */
  add(ifname: string, vhid: number, vip: VipAddress): Promise<HostResult<boolean>> {
    return this.serial(async () => {
      const args = ["addr", "add", `${vip.address}/${vip.prefix}`, "dev", ifname];
      if (vip.family === 4) {
        const label = vipLabel(ifname, vhid);
        if (label) args.push("label", label);
      } else args.push("nodad");
      const r = await runIp(args, this.o, `add ${vip.address}/${vip.prefix} to ${ifname}`);
      if (!r.ok && r.code !== "EEXIST") return r;
      const added = r.ok;
      if (added) {
        const state = await this.readState();
        const entry: OwnedVip = { ifname, vhid, address: vip.address, prefix: vip.prefix, family: vip.family };
        if (!state.some((s) => sameVip(s, entry))) state.push(entry);
        try {
          await this.writeState(state);
        } catch (e) {
          return { ok: false, code: "EIO", error: `record VIP in ${this.stateFile}: ${(e as Error).message}` };
        }
      }
      return { ok: true, value: added };
    });
  }

  /**
   * Adds every VIP of a vhid with a single `ip -batch` (the takeover path). Per-address results, same
   * meaning as add(): value true = we added it, false = it was already there.
   */
  addAll(ifname: string, vhid: number, vips: VipAddress[]): Promise<Array<HostResult<boolean>>> {
    return this.serial(async () => {
      const label = vipLabel(ifname, vhid);
      const cmds = vips.map((v) => {
        const c = ["addr", "add", `${v.address}/${v.prefix}`, "dev", ifname];
        if (v.family === 4) {
          if (label) c.push("label", label);
        } else c.push("nodad");
        return c;
      });
      const rs = await runIpBatch(cmds, this.o, `add VIPs to ${ifname}`);
      const out: Array<HostResult<boolean>> = rs.map((r) => (r.ok ? { ok: true, value: true } : r.code === "EEXIST" ? { ok: true, value: false } : r));
      const added = vips.filter((_, i) => out[i].ok && (out[i] as { value: boolean }).value);
      if (added.length > 0) {
        const state = await this.readState();
        for (const v of added) {
          const entry: OwnedVip = { ifname, vhid, address: v.address, prefix: v.prefix, family: v.family };
          if (!state.some((x) => sameVip(x, entry))) state.push(entry);
        }
        try {
          await this.writeState(state);
        } catch (e) {
          const err = { ok: false as const, code: "EIO" as const, error: `record VIPs in ${this.stateFile}: ${(e as Error).message}` };
          return out.map((r, i) => (added.includes(vips[i]) ? err : r));
        }
      }
      return out;
    });
  }

  /** Removes every VIP given with a single `ip -batch`; absent ones are success (value false). */
  removeAll(ifname: string, vips: Array<Pick<VipAddress, "address" | "prefix">>): Promise<Array<HostResult<boolean>>> {
    return this.serial(async () => {
      const cmds = vips.map((v) => ["addr", "del", `${v.address}/${v.prefix}`, "dev", ifname]);
      const rs = await runIpBatch(cmds, this.o, `remove VIPs from ${ifname}`);
      const out: Array<HostResult<boolean>> = rs.map((r) =>
        r.ok ? { ok: true, value: true } : r.code === "EADDRNOTAVAIL" ? { ok: true, value: false } : r,
      );
      const state = await this.readState();
      const left = state.filter((s) => !vips.some((v, i) => out[i].ok && sameVip(s, { ifname, ...v })));
      if (left.length !== state.length) await this.writeState(left).catch(() => undefined);
      return out;
    });
  }

  /** Removes a VIP; success if it is absent. `value` is true when we actually removed it. */
  remove(ifname: string, vip: Pick<VipAddress, "address" | "prefix">): Promise<HostResult<boolean>> {
    return this.serial(async () => {
      const r = await runIp(["addr", "del", `${vip.address}/${vip.prefix}`, "dev", ifname], this.o, `remove ${vip.address}/${vip.prefix} from ${ifname}`);
      if (!r.ok && r.code !== "EADDRNOTAVAIL") return r;
      const state = await this.readState();
      const left = state.filter((s) => !sameVip(s, { ifname, ...vip }));
      if (left.length !== state.length) {
        try {
          await this.writeState(left);
        } catch {
          /* the address is gone; a stale record only costs a no-op removal later */
        }
      }
      return { ok: true, value: r.ok };
    });
  }

  /** Is this VIP currently configured on the interface? */
  async present(ifname: string, vip: Pick<VipAddress, "address" | "prefix">): Promise<HostResult<boolean>> {
    const r = await listAddresses(this.o, ifname);
    if (!r.ok) return r;
    return { ok: true, value: r.value.some((a) => a.address === vip.address && a.prefix === vip.prefix) };
  }

  /** Our VIPs that are present now: labelled ones plus those in the state file. */
  async list(ifname?: string): Promise<HostResult<OwnedVip[]>> {
    const r = await listAddresses(this.o, ifname);
    if (!r.ok) return r;
    const state = await this.readState();
    const out: OwnedVip[] = [];
    for (const a of r.value) {
      const fromLabel = a.family === 4 ? vhidFromLabel(a.ifname, a.label) : undefined;
      const rec = state.find((s) => sameVip(s, a));
      const vhid = fromLabel ?? rec?.vhid;
      if (vhid !== undefined) out.push({ ifname: a.ifname, vhid, address: a.address, prefix: a.prefix, family: a.family });
    }
    return { ok: true, value: out };
  }

  /**
   * Startup cleanup: removes VIPs this instance left behind (a crash): those its state file lists, and
   * labelled ones of its `own` vhids. A labelled VIP of any other vhid belongs to another instance on
   * this host (one process per vhid, ucarp-style) and is left alone, as is anything `keep` accepts.
   * Returns what was removed; per-address failures are collected, not fatal.
   */
  async removeStale(scope: StaleScope = {}): Promise<HostResult<{ removed: OwnedVip[]; errors: string[] }>> {
    const l = await this.list();
    if (!l.ok) return l;
    const state = await this.readState();
    const own = new Set((scope.own ?? []).map((o) => `${o.vhid}@${o.ifname}`));
    const candidates = l.value.filter((v) => (state.some((s) => sameVip(s, v)) || own.has(`${v.vhid}@${v.ifname}`)) && !scope.keep?.(v));
    const removed: OwnedVip[] = [];
    const errors: string[] = [];
    for (const v of candidates) {
      const r = await this.remove(v.ifname, v);
      if (r.ok) removed.push(v);
      else errors.push(r.error);
    }
    // Forget records of addresses that are gone anyway.
    await this.serial(async () => {
      const now = await listAddresses(this.o);
      if (!now.ok) return;
      const state = await this.readState();
      const left = state.filter((s) => now.value.some((a) => sameVip(a, s)));
      if (left.length !== state.length) await this.writeState(left).catch(() => undefined);
    });
    return { ok: true, value: { removed, errors } };
  }
}

export interface AddressEvent {
  kind: "added" | "removed";
  ifindex: number;
  ifname: string;
  address: string;
  prefix: number;
  family: 4 | 6;
}

// Wraps a long-running monitor (`ip monitor ...`) so that it dies with the daemon: the shell starts it,
// then reads its stdin (a pipe whose only writer is the daemon) until EOF, and kills it then. EOF comes
// when the daemon exits for any reason, SIGKILL included (Linux has no PDEATHSIG from Node). If the
// monitor dies first, the CHLD trap interrupts the read and the shell exits with the monitor's status.
// One shell per monitor, no extra reader process.
const MONITOR_WRAPPER =
  'trap \'wait $m; exit $?\' CHLD; "$0" "$@" </dev/null & m=$!; while read -r _; do :; done; trap - CHLD; kill $m 2>/dev/null'

/**
 * Spawns `cmd args` as a monitor child that never outlives this process: detached (its own process
 * group, so a Ctrl-C aimed at the daemon's group does not kill it first) and wrapped as above.
 * Stop it with stopMonitor().
 */
export function spawnMonitor(cmd: string, args: string[]): ChildProcess {
  return spawn("sh", ["-c", MONITOR_WRAPPER, cmd, ...args], { stdio: ["pipe", "pipe", "pipe"], detached: true });
}

/** Ends a spawnMonitor() child and its monitor (the whole process group); quiet if already gone. */
export function stopMonitor(child: ChildProcess): void {
  try {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, "SIGTERM");
  } catch {
    /* already exited */
  }
  child.stdin?.destroy();
}

/** Parses one line of `ip -o monitor address`. */
export function parseAddressMonitorLine(line: string): AddressEvent | null {
  const m = /^(Deleted\s+)?(\d+):\s+(\S+)\s+(inet6?)\s+([0-9a-fA-F.:]+)(?:\/(\d+))?/.exec(line.trim());
  if (!m) return null;
  const family = m[4] === "inet" ? 4 : 6;
  return {
    kind: m[1] ? "removed" : "added",
    ifindex: Number(m[2]),
    ifname: m[3].replace(/@.*$/, ""),
    address: m[5],
    prefix: m[6] !== undefined ? Number(m[6]) : family === 4 ? 32 : 128,
    family,
  };
}

/**
 * Address change events from `ip -o monitor address` (a child process reading netlink). Emits
 * "added"/"removed" (AddressEvent) and "error" (string) if the monitor dies unexpectedly.
 */
export class VipWatcher extends EventEmitter {
  private child: ChildProcess | null = null;
  private stopping = false;

  constructor(private readonly o: IpOptions = {}) {
    super();
  }

  /** Starts the monitor; resolves once it has had a moment to subscribe. */
  async start(settleMs = 150): Promise<void> {
    if (this.child) return;
    this.stopping = false;
    const args = [...(this.o.netns ? ["-n", this.o.netns] : []), "-o", "monitor", "address"];
    const child = spawnMonitor(this.o.ipPath ?? "ip", args);
    this.child = child;
    child.stdin!.on("error", () => undefined);
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const ev = parseAddressMonitorLine(line);
      if (ev) this.emit(ev.kind, ev);
    });
    child.on("error", (e) => this.emit("error", `address monitor: ${e.message}`));
    child.on("exit", (code, signal) => {
      this.child = null;
      if (!this.stopping) this.emit("error", `address monitor exited (${signal ?? code}): ${stderr.trim()}`);
    });
    await new Promise((r) => setTimeout(r, settleMs));
  }

  /** The pid of the monitor's wrapper shell (its process group), or null when not running. */
  get monitorPid(): number | null {
    return this.child?.pid ?? null;
  }

  stop(): void {
    this.stopping = true;
    if (this.child) stopMonitor(this.child);
    this.child = null;
  }
}
