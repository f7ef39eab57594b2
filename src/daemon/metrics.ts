// Prometheus metrics: the text exposition format (version 0.0.4) written by hand from a status snapshot at
// scrape time, and a tiny HTTP endpoint for it. Written by hand rather than with prom-client: every value
// here is derived from the daemon's status when scraped (nothing to register or observe between scrapes),
// and the format is a few lines per family (measured in the README: smaller and faster to load).
// The endpoint listens only on the configured address, answers GET/HEAD /metrics only, bounds headers,
// time and connections, and renders synchronously (well under a millisecond for hundreds of vhids).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { MetricsAddress } from "./config.js";
import type { NodeStatus } from "./types.js";

export interface MetricsInput {
  status: NodeStatus;
  /** carp_vhid_transitions_total, from the event log. */
  transitions: { interface: string; vhid: number; to: string; count: number }[];
  /** Health checks, when any are configured: name and whether it passes now. */
  checks?: { name: string; up: boolean }[];
}

export type { MetricsAddress };

const STATES = ["INIT", "BACKUP", "MASTER"] as const;

/** A label value escaped as the exposition format requires (backslash, quote, newline). */
const SPECIAL = /[\\"\n]/;
const esc = (v: string | number) => (typeof v === "number" || !SPECIAL.test(v) ? String(v) : v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n"));
function labels(l: Record<string, string | number>): string {
  let out = "";
  for (const k in l) out += `${out ? "," : ""}${k}="${esc(l[k])}"`;
  return `{${out}}`;
}

class Families {
  private readonly out: string[] = [];
  family(name: string, type: "gauge" | "counter", help: string, rows: [Record<string, string | number>, number][]): void {
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [l, v] of rows) this.out.push(`${name}${labels(l).replace("{}", "")} ${Number.isFinite(v) ? v : 0}`);
  }
  text(): string {
    return this.out.join("\n") + "\n";
  }
}

/** The exposition text of one snapshot; `nowMs` is the epoch clock (for the time since the last transition). */
export function renderMetrics(m: MetricsInput, nowMs = Date.now()): string {
  const f = new Families();
  const vs = m.status.vhids;
  const id = (v: { interface: string; vhid: number }) => ({ interface: v.interface, vhid: v.vhid });
  f.family("carp_vhid_master", "gauge", "1 when this node is MASTER of the vhid, else 0.", vs.map((v) => [id(v), v.state === "MASTER" ? 1 : 0]));
  f.family("carp_vhid_state", "gauge", "1 for the vhid's current state, 0 for the others.", vs.flatMap((v) => STATES.map((s) => [{ ...id(v), state: s }, v.state === s ? 1 : 0] as [Record<string, string | number>, number])));
  f.family("carp_vhid_transitions_total", "counter", "State changes of the vhid since the daemon started, by target state.", m.transitions.map((t) => [{ interface: t.interface, vhid: t.vhid, to: t.to }, t.count]));
  f.family("carp_vhid_advskew", "gauge", "Configured advskew.", vs.map((v) => [id(v), v.advskew]));
  f.family("carp_vhid_advskew_effective", "gauge", "Advskew as advertised, demotion included.", vs.map((v) => [id(v), v.effectiveAdvskew]));
  f.family("carp_vhid_advbase_seconds", "gauge", "Advertisement interval base.", vs.map((v) => [id(v), v.advbase]));
  // VRRPv3 vhids (version 3): priority and interval instead of advskew/advbase.
  const vr = vs.filter((v) => v.vrrp);
  if (vr.length) {
    f.family("carp_vrrp_priority", "gauge", "VRRPv3 vhid: configured priority.", vr.map((v) => [id(v), v.vrrp!.priority]));
    f.family("carp_vrrp_priority_effective", "gauge", "VRRPv3 vhid: priority as advertised, demotion included.", vr.map((v) => [id(v), v.vrrp!.effectivePriority]));
    f.family("carp_vrrp_interval_seconds", "gauge", "VRRPv3 vhid: advertisement interval.", vr.map((v) => [id(v), v.vrrp!.intervalCs / 100]));
    f.family("carp_vrrp_master_interval_seconds", "gauge", "VRRPv3 vhid: the interval learned from the master.", vr.map((v) => [id(v), v.vrrp!.masterIntervalCs / 100]));
  }
  f.family("carp_vhid_link_up", "gauge", "1 when the vhid's interface is up with carrier.", vs.map((v) => [id(v), v.linkUp ? 1 : 0]));
  const since = vs.filter((v) => v.since !== null);
  f.family("carp_vhid_last_transition_timestamp_seconds", "gauge", "When the vhid last changed state (Unix time).", since.map((v) => [id(v), v.since! / 1000]));
  f.family("carp_vhid_seconds_since_transition", "gauge", "Seconds since the vhid last changed state.", since.map((v) => [id(v), Math.max(0, (nowMs - v.since!) / 1000)]));
  const ledger: [Record<string, string | number>, number][] = (m.status.ledger ?? []).map((e) => [{ source: e.source }, e.value]);
  for (const v of vs) if (v.demotion.vhid !== 0) ledger.push([{ source: `vhid:${v.interface}/${v.vhid}` }, v.demotion.vhid]);
  f.family("carp_demotion", "gauge", "Demotion by named source (the ledger; vhid:IF/N = a vhid's own demotion).", ledger);
  f.family("carp_demotion_global", "gauge", "The global demotion (sum of the ledger).", [[{}, m.status.globalDemotion]]);
  if (m.checks) f.family("carp_check_up", "gauge", "1 when the health check passes.", m.checks.map((c) => [{ check: c.name }, c.up ? 1 : 0]));
  for (const [k, n] of Object.entries(m.status.carpstats)) f.family(`carp_stats_${k}_total`, "counter", `carpstats ${k} (netstat -s -p carp).`, [[{}, n]]);
  f.family("carp_start_time_seconds", "gauge", "When the daemon started (Unix time).", [[{}, m.status.startedAt / 1000]]);
  return f.text();
}

/** Merges the snapshots of several daemons (ucarp-style: one per vhid) into one input. */
export function mergeMetrics(list: MetricsInput[]): MetricsInput {
  const first = list[0].status;
  const carpstats = { ...first.carpstats };
  for (const m of list.slice(1)) for (const [k, v] of Object.entries(m.status.carpstats)) carpstats[k as keyof typeof carpstats] += v;
  const checks = list.flatMap((m) => m.checks ?? []);
  return {
    status: {
      ...first,
      startedAt: Math.min(...list.map((m) => m.status.startedAt)),
      globalDemotion: Math.max(...list.map((m) => m.status.globalDemotion)),
      ledger: list.flatMap((m) => m.status.ledger ?? []),
      carpstats,
      vhids: list.flatMap((m) => m.status.vhids),
    },
    transitions: list.flatMap((m) => m.transitions),
    ...(list.some((m) => m.checks) ? { checks } : {}),
  };
}

/**
 * Connections beyond maxConnections are closed at once; a connection without complete headers after
 * headersTimeoutMs, or a complete request after timeoutMs, is closed (checked every checkMs: node's default
 * of 30 s would let 16 idle connections hold the endpoint that long).
 */
export const METRICS_LIMITS = { maxConnections: 16, timeoutMs: 5000, headersTimeoutMs: 2000, checkMs: 500, maxHeaderBytes: 8192 };

/** The /metrics endpoint. `snapshot` is called once per scrape. */
export class MetricsServer {
  private server: Server | null = null;
  constructor(
    readonly addr: MetricsAddress,
    private readonly snapshot: () => MetricsInput,
  ) {}

  /** Listens; resolves with null, or with why it cannot (address in use, not an address of this host). */
  start(): Promise<string | null> {
    const server = createServer({ maxHeaderSize: METRICS_LIMITS.maxHeaderBytes, requestTimeout: METRICS_LIMITS.timeoutMs, headersTimeout: METRICS_LIMITS.headersTimeoutMs, connectionsCheckingInterval: METRICS_LIMITS.checkMs, keepAliveTimeout: 1000 }, (req, res) => this.serve(req, res));
    server.maxConnections = METRICS_LIMITS.maxConnections;
    server.maxRequestsPerSocket = 100;
    server.on("clientError", (_e, sock) => sock.destroy());
    return new Promise((resolve) => {
      server.once("error", (e: NodeJS.ErrnoException) => resolve(`cannot listen on ${this.addr.host}:${this.addr.port}: ${e.code ?? e.message}`));
      server.listen({ host: this.addr.host, port: this.addr.port, exclusive: true }, () => {
        this.server = server;
        resolve(null);
      });
    });
  }

  /** The port actually bound (for port 0 in tests). */
  get port(): number | null {
    const a = this.server?.address();
    return a && typeof a === "object" ? a.port : null;
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    // Request bodies are never read: the connection closes after the answer.
    const close = req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined;
    if (close) res.setHeader("Connection", "close");
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain" }).end("method not allowed\n");
      return;
    }
    if (path !== "/metrics") {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found: the metrics are at /metrics\n");
      return;
    }
    let body: string;
    try {
      body = renderMetrics(this.snapshot());
    } catch (e) {
      res.writeHead(500, { "Content-Type": "text/plain" }).end(`${(e as Error).message}\n`);
      return;
    }
    res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  close(): void {
    this.server?.closeAllConnections();
    this.server?.close();
    this.server = null;
  }
}
