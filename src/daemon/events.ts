// The daemon's event stream (`carp events`): every transition, demotion change, check result, fault and
// VIP add/remove gets the next sequence number and goes into a bounded replay buffer (the last
// EVENT_BUFFER events) and to every subscriber. A consumer that reconnects with `since` gets what it
// missed if it is still buffered, and can tell from the numbers whether it missed anything. A new kind of
// event is one more member of CarpEventBody and one publish() call where it happens.
import type { CarpState } from "../core/index.js";

export const EVENT_BUFFER = 1000;

export type CarpEventBody =
  | { type: "transition"; interface: string; vhid: number; from: CarpState; to: CarpState; reason: string }
  // The ledger changed: `source` by `delta`; `value` is the global demotion after it.
  | { type: "demotion"; source: string; delta: number; value: number; reason: string; group?: string }
  // A health check's result changed (published by the checks when they run).
  | { type: "check"; check: string; up: boolean; detail?: string }
  // A vhid can (not) be MASTER: its link is down or it is demoted to the maximum skew.
  | { type: "fault"; interface: string; vhid: number; active: boolean; reason: string }
  // One of a vhid's VIPs appeared on / vanished from its interface (as netlink reports it).
  | { type: "vip"; interface: string; vhid: number; op: "add" | "remove"; address: string; prefix: number };

/** One event as it goes out: its sequence number (1, 2, ... per daemon) and epoch ms. */
export type CarpEvent = { seq: number; ts: number } & CarpEventBody;

export interface Subscription {
  close(): void;
}

const transitionKey = (e: { interface: string; vhid: number; to: string }) => `${e.interface}\t${e.vhid}\t${e.to}`;

export class EventLog {
  private readonly ring: (CarpEvent | undefined)[];
  private count = 0; // events ever published = the last seq
  private readonly subs = new Set<(e: CarpEvent) => void>();
  private readonly transitions = new Map<string, number>();

  constructor(readonly size = EVENT_BUFFER) {
    this.ring = new Array(size);
  }

  /** The last sequence number given out (0 before the first event). */
  get lastSeq(): number {
    return this.count;
  }

  /** The oldest sequence number still buffered (lastSeq + 1 when empty). */
  get oldestSeq(): number {
    return Math.max(1, this.count - this.size + 1);
  }

  publish(body: CarpEventBody, ts = Date.now()): CarpEvent {
    const e = { seq: ++this.count, ts, ...body } as CarpEvent;
    this.ring[(e.seq - 1) % this.size] = e;
    if (e.type === "transition") this.transitions.set(transitionKey(e), (this.transitions.get(transitionKey(e)) ?? 0) + 1);
    for (const s of [...this.subs]) s(e);
    return e;
  }

  /** Buffered events with seq > since, oldest first. */
  since(since: number): CarpEvent[] {
    const out: CarpEvent[] = [];
    for (let s = Math.max(since + 1, this.oldestSeq); s <= this.count; s++) out.push(this.ring[(s - 1) % this.size]!);
    return out;
  }

  /** Replays what is buffered after `since` (if given), then calls `sink` for every new event until closed. */
  subscribe(since: number | undefined, sink: (e: CarpEvent) => void): Subscription {
    let open = true;
    const fn = (e: CarpEvent) => {
      if (open) sink(e);
    };
    if (since !== undefined) for (const e of this.since(since)) if (open) sink(e);
    if (open) this.subs.add(fn);
    return {
      close: () => {
        open = false;
        this.subs.delete(fn);
      },
    };
  }

  get subscribers(): number {
    return this.subs.size;
  }

  /** Transitions since start by interface, vhid and target state (for carp_vhid_transitions_total). */
  transitionCounts(): { interface: string; vhid: number; to: string; count: number }[] {
    return [...this.transitions].map(([k, count]) => {
      const [ifname, vhid, to] = k.split("\t");
      return { interface: ifname, vhid: Number(vhid), to, count };
    });
  }
}
