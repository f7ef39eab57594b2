// Link state of a vhid's parent interface. Source: `ip -o monitor link` (netlink events through a child
// process, so it also works for interfaces inside another network namespace, where /sys/class/net is not
// ours to read), plus one `ip -j link show` at start. "Up" means what ucarp's IFF_RUNNING test and the
// kernels' carp_linkstate mean: administratively UP and carrier present (LOWER_UP), operstate not DOWN.
// With ignoreIfState (ucarp -S) the link is always reported up and no events are emitted.
// If the monitor dies, the watcher falls back to polling once a second and says so through "error".
import type { ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { createInterface } from "node:readline";
import { type IpOptions, runIp, spawnMonitor, stopMonitor } from "./vips.js";

export interface LinkStatus {
  up: boolean;
  /** Why it is down: "interface down", "no carrier", "no such interface", or "up". */
  reason: string;
  flags: string[];
  operstate?: string;
}

/** Decides up/down from the kernel's flags and operstate. */
export function linkStatusFrom(flags: string[], operstate: string | undefined): LinkStatus {
  const st: LinkStatus = { up: false, reason: "up", flags };
  if (operstate !== undefined) st.operstate = operstate;
  if (!flags.includes("UP")) st.reason = "interface down";
  else if (!flags.includes("LOWER_UP") || flags.includes("NO-CARRIER")) st.reason = "no carrier";
  else if (operstate === "DOWN" || operstate === "LOWERLAYERDOWN" || operstate === "NOTPRESENT") st.reason = `operstate ${operstate}`;
  else st.up = true;
  return st;
}

/** Parses one `ip -o monitor link` line for `ifname`; null if it is about another interface. */
export function parseLinkMonitorLine(line: string, ifname: string): LinkStatus | null {
  const m = /^(Deleted\s+)?\d+:\s+([^:\s]+):\s+<([^>]*)>(.*)$/.exec(line.trim());
  if (!m) return null;
  if (m[2].replace(/@.*$/, "") !== ifname) return null;
  if (m[1]) return { up: false, reason: "no such interface", flags: [] };
  const state = /\bstate\s+(\S+)/.exec(m[4])?.[1];
  return linkStatusFrom(m[3].split(",").filter(Boolean), state);
}

export async function queryLink(ifname: string, o: IpOptions = {}): Promise<LinkStatus> {
  const r = await runIp(["-j", "link", "show", "dev", ifname], o, `link ${ifname}`);
  if (!r.ok) return { up: false, reason: r.code === "ENODEV" ? "no such interface" : r.error, flags: [] };
  try {
    const [l] = JSON.parse(r.value) as Array<{ flags: string[]; operstate?: string }>;
    return linkStatusFrom(l.flags, l.operstate);
  } catch {
    return { up: false, reason: "unparsable ip -j output", flags: [] };
  }
}

export interface LinkWatchOptions extends IpOptions {
  ignoreIfState?: boolean;
  /** Fallback polling interval when the monitor is unavailable. Default 1000 ms. */
  pollMs?: number;
}

/**
 * Emits "change" (LinkStatus) whenever the parent goes up or down, and "error" (string) on monitor
 * trouble. `status` always holds the latest known state.
 */
export class LinkWatcher extends EventEmitter {
  status: LinkStatus = { up: false, reason: "not started", flags: [] };
  private child: ChildProcess | null = null;
  private poll: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Events before the initial query are folded into it (no "change" for the initial state). */
  private ready = false;

  constructor(
    readonly ifname: string,
    private readonly o: LinkWatchOptions = {},
  ) {
    super();
  }

  private update(s: LinkStatus): void {
    if (this.o.ignoreIfState || !this.ready) return;
    const changed = s.up !== this.status.up;
    this.status = s;
    if (changed) this.emit("change", s);
  }

  /** Starts watching; resolves with the initial state (no "change" event for it). */
  async start(settleMs = 150): Promise<LinkStatus> {
    this.stopped = false;
    this.ready = false;
    if (this.o.ignoreIfState) {
      this.status = { up: true, reason: "ignoreifstate", flags: [] };
      return this.status;
    }
    // Monitor first, then query, so no change between the two is lost.
    this.startMonitor();
    await new Promise((r) => setTimeout(r, settleMs));
    this.status = await queryLink(this.ifname, this.o);
    this.ready = true;
    return this.status;
  }

  private startMonitor(): void {
    const args = [...(this.o.netns ? ["-n", this.o.netns] : []), "-o", "monitor", "link"];
    const child = spawnMonitor(this.o.ipPath ?? "ip", args);
    this.child = child;
    child.stdin!.on("error", () => undefined); // EPIPE if it died first: the exit handler reports it
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const s = parseLinkMonitorLine(line, this.ifname);
      if (s) this.update(s);
    });
    child.on("error", (e) => this.emit("error", `link monitor: ${e.message}`));
    child.on("exit", (code, signal) => {
      this.child = null;
      if (this.stopped) return;
      this.emit("error", `link monitor exited (${signal ?? code}): ${stderr.trim()}; polling instead`);
      this.startPolling();
    });
  }

  private startPolling(): void {
    if (this.poll || this.stopped) return;
    this.poll = setInterval(() => {
      void queryLink(this.ifname, this.o).then((s) => {
        if (!this.stopped) this.update(s);
      });
    }, this.o.pollMs ?? 1000);
  }

  /** The pid of the monitor's wrapper shell (its process group), or null when not running. */
  get monitorPid(): number | null {
    return this.child?.pid ?? null;
  }

  stop(): void {
    this.stopped = true;
    if (this.child) stopMonitor(this.child);
    this.child = null;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
  }
}
