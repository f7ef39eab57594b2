// The health-check runner: starts one probe per configured check (src/host/checks.ts), debounces the
// raw results with fall/rise, and feeds each check as one named cause ("check:NAME") into the core's
// demotion ledger: global when the check is in the top-level `track`, else scoped to the demotion group
// "check:NAME" that every vhid tracking it belongs to (interfaces.ts vhidParams).
import type { CheckConfig, Config } from "./config.js";
import { Probe, type ProbeOptions, type ProbeResult } from "../host/checks.js";

/** What `carp status` shows about a check. */
export interface CheckReport {
  name: string;
  kind: CheckConfig["kind"];
  up: boolean | null; // null: no result yet
  since: number | null; // epoch ms of the last up/down change
  detail: string; // last output line or what was found
  lastRunAt: number | null; // epoch ms
  durationMs: number | null;
  demotion: number; // what it adds to the ledger now
  scope: "global" | string[]; // "global" or the vhids ("eth0/1") that track it
  fall: number;
  rise: number;
  weight: number;
}

export interface CheckFeed {
  /** Sets the ledger source `check:NAME` to `value` (0 clears it). */
  demotion(source: string, value: number, reason: string, group: string | undefined): void;
  log(level: "info" | "warn" | "debug", msg: string, fields: Record<string, unknown>): void;
}

/** fall/rise debounce: the first result counts at once, then `fall` failures or `rise` successes in a row. */
export class Debounce {
  up: boolean | null = null;
  private run = 0;
  constructor(
    readonly fall: number,
    readonly rise: number,
  ) {}
  /** Feeds one result; returns true when the debounced state changed. */
  feed(ok: boolean): boolean {
    if (this.up === null) {
      this.up = ok;
      return true;
    }
    if (ok === this.up) {
      this.run = 0;
      return false;
    }
    if (++this.run < (ok ? this.rise : this.fall)) return false;
    this.up = ok;
    this.run = 0;
    return true;
  }
}

interface Rt {
  cfg: CheckConfig;
  probe: Probe;
  deb: Debounce;
  report: CheckReport;
  group: string | undefined;
}

export const checkSource = (name: string) => `check:${name}`;

export class CheckRunner {
  private readonly rts = new Map<string, Rt>();

  constructor(
    config: Config,
    private readonly feed: CheckFeed,
    probeOptions: ProbeOptions = {},
  ) {
    const global = new Set(config.track ?? []);
    for (const c of config.checks ?? []) {
      const trackers = config.vhids.filter((v) => v.track?.includes(c.name)).map((v) => `${v.interface}/${v.vhid}`);
      const rt: Rt = {
        cfg: c,
        deb: new Debounce(c.fall, c.rise),
        group: global.has(c.name) ? undefined : checkSource(c.name),
        report: {
          name: c.name, kind: c.kind, up: null, since: null, detail: "not run yet", lastRunAt: null, durationMs: null, demotion: 0,
          scope: global.has(c.name) ? "global" : trackers, fall: c.fall, rise: c.rise, weight: c.weight,
        },
        probe: undefined as unknown as Probe,
      };
      rt.probe = new Probe(c, (r) => this.onResult(rt, r), probeOptions);
      this.rts.set(c.name, rt);
    }
  }

  start(): void {
    for (const rt of this.rts.values()) rt.probe.start();
  }

  stop(): void {
    for (const rt of this.rts.values()) rt.probe.stop();
  }

  reports(): CheckReport[] {
    return [...this.rts.values()].map((rt) => ({ ...rt.report, scope: Array.isArray(rt.report.scope) ? [...rt.report.scope] : rt.report.scope }));
  }

  private onResult(rt: Rt, r: ProbeResult): void {
    const rep = rt.report;
    const now = Date.now();
    rep.lastRunAt = now;
    rep.durationMs = r.durationMs;
    const detailChanged = r.detail !== rep.detail;
    rep.detail = r.detail;
    const changed = rt.deb.feed(r.ok);
    const name = rt.cfg.name;
    this.feed.log("debug", `check ${name}: ${r.ok ? "ok" : "failed"}: ${r.detail} (${r.durationMs} ms)`, { event: "check", check: name, ok: r.ok });
    const value = rt.deb.up === false ? (r.demotion ?? rt.cfg.weight) : 0;
    if (changed) {
      rep.up = rt.deb.up;
      rep.since = now;
      this.feed.log(rep.up ? "info" : "warn", `check ${name}: ${rep.up ? "up" : "down"}: ${r.detail}`, { event: "check", check: name, up: rep.up });
    }
    if (changed || (rt.deb.up === false && (detailChanged || value !== rep.demotion))) {
      rep.demotion = value;
      const reason = rep.up ? `check ${name} up: ${r.detail}` : `check ${name} failing: ${r.detail}`;
      this.feed.demotion(checkSource(name), value, reason, rt.group);
    }
  }
}
