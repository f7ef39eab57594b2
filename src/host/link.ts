// Link state of a vhid's parent interface, from rtnetlink: one query at start, then the process's one
// netlink subscription (NetlinkEvents, shared with the address watchers; no `ip monitor` child). Works
// for interfaces in another network namespace too (tests), where /sys/class/net is not ours to read.
// "Up" means what ucarp's IFF_RUNNING test and the kernels' carp_linkstate mean: administratively UP and
// carrier present (LOWER_UP), operstate not DOWN. With ignoreIfState (ucarp -S) the link is always
// reported up and no events are emitted. If the kernel drops events (ENOBUFS) the link is queried again;
// if no subscription can be opened the watcher polls once a second and says so through "error".
import { EventEmitter } from "node:events";

import { type LinkInfo, Netlink, NetlinkEvents, type NetlinkEvent } from "./netlink.js";
import type { IpOptions } from "./vips.js";

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

/** LinkStatus of a netlink link. */
export function linkStatusOf(l: LinkInfo): LinkStatus {
  const flags = [...(l.up ? ["UP"] : []), ...(l.running ? ["RUNNING"] : []), ...(l.lowerUp ? ["LOWER_UP"] : ["NO-CARRIER"])];
  return linkStatusFrom(flags, l.operstate);
}

export async function queryLink(ifname: string, o: IpOptions = {}): Promise<LinkStatus> {
  const r = Netlink.for(o.netns).link(ifname);
  if (!r.ok) return { up: false, reason: r.code === "ENODEV" ? "no such interface" : r.error, flags: [] };
  return linkStatusOf(r.value);
}

export interface LinkWatchOptions extends IpOptions {
  ignoreIfState?: boolean;
  /** Fallback polling interval when no subscription is available. Default 1000 ms. */
  pollMs?: number;
}

/**
 * Emits "change" (LinkStatus) whenever the parent goes up or down, and "error" (string) on subscription
 * trouble. `status` always holds the latest known state.
 */
export class LinkWatcher extends EventEmitter {
  status: LinkStatus = { up: false, reason: "not started", flags: [] };
  private sub: NetlinkEvents | null = null;
  private poll: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly onEvent = (e: NetlinkEvent) => this.handle(e);

  constructor(
    readonly ifname: string,
    private readonly o: LinkWatchOptions = {},
  ) {
    super();
  }

  private update(s: LinkStatus): void {
    if (this.o.ignoreIfState || this.stopped) return;
    const changed = s.up !== this.status.up;
    this.status = s;
    if (changed) this.emit("change", s);
  }

  /**
   * Starts watching; resolves with the initial state (no "change" event for it). `_settleMs` is accepted
   * for compatibility and unused: the subscription exists before the query, so no change is lost.
   */
  async start(_settleMs?: number): Promise<LinkStatus> {
    this.stopped = false;
    if (this.o.ignoreIfState) {
      this.status = { up: true, reason: "ignoreifstate", flags: [] };
      return this.status;
    }
    const s = NetlinkEvents.acquire(this.o.netns);
    if (s.ok) {
      this.sub = s.value;
      this.sub.on("event", this.onEvent);
    }
    this.status = await queryLink(this.ifname, this.o);
    if (!s.ok) {
      // Reported after start() returns, once the caller has had the chance to attach a listener.
      setImmediate(() => this.emit("error", `link events: ${s.error}; polling instead`));
      this.startPolling();
    }
    return this.status;
  }

  private handle(e: NetlinkEvent): void {
    if (e.type === "overrun") {
      void queryLink(this.ifname, this.o).then((s) => this.update(s));
    } else if (e.type === "link" && e.link.name === this.ifname) {
      this.update(e.kind === "del" ? { up: false, reason: "no such interface", flags: [] } : linkStatusOf(e.link));
    }
  }

  private startPolling(): void {
    if (this.poll || this.stopped) return;
    this.poll = setInterval(() => {
      void queryLink(this.ifname, this.o).then((s) => this.update(s));
    }, this.o.pollMs ?? 1000);
  }

  /** Whether this watcher holds the shared netlink subscription (false when polling or stopped). */
  get subscribed(): boolean {
    return this.sub !== null;
  }

  stop(): void {
    this.stopped = true;
    if (this.sub) {
      this.sub.off("event", this.onEvent);
      this.sub.release();
    }
    this.sub = null;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
  }
}
