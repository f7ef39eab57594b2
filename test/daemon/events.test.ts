// The event log and its control-socket stream without a network (a configured, not started CarpNode on a
// real unix socket), the metrics rendering, and the new options. The namespace test (events-metrics.test.ts)
// runs all of it against real daemons.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import { formatEvent } from "../../src/cli/events.js";
import { loadConfigFromArgv } from "../../src/daemon/config-ucarp.js";
import { parseYamlConfig } from "../../src/daemon/config-yaml.js";
import { parseMetricsAddress, type Config } from "../../src/daemon/config.js";
import { CONTROL_LIMITS, ControlServer, controlRequest } from "../../src/daemon/control.js";
import { EventLog, type CarpEvent } from "../../src/daemon/events.js";
import { mergeMetrics, renderMetrics, type MetricsInput } from "../../src/daemon/metrics.js";
import { CarpNode } from "../../src/daemon/node.js";
import { faultInvocations } from "../../src/host/hooks.js";
import { REPO } from "../helpers/netns.js";
import { parseExposition } from "./exposition.js";

const dir = mkdtempSync(join(tmpdir(), "carp-events-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(sock: string, extra: string[] = []): Config {
  const r = loadConfigFromArgv(["-i", "eth0", "-s", "198.51.100.1", "-v", "3", "-p", "pw", "-a", "198.51.100.10", "--control", sock, ...extra]);
  if (!r.ok || r.value.help) throw new Error(r.ok ? "help" : r.error);
  const { help: _h, ...cfg } = r.value;
  return cfg;
}

const tr = (to: "BACKUP" | "MASTER", vhid = 3) => ({ type: "transition" as const, interface: "eth0", vhid, from: "INIT" as const, to, reason: "test" });

/** Opens an events stream; collects its lines. */
function stream(path: string, req: Record<string, unknown>): { sock: Socket; lines: unknown[]; closed: Promise<void> } {
  const sock = connect(path, () => sock.write(JSON.stringify({ op: "events", ...req }) + "\n"));
  const lines: unknown[] = [];
  let buf = "";
  sock.on("data", (d) => {
    buf += d;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
    }
  });
  const closed = new Promise<void>((r) => sock.on("close", () => r()));
  return { sock, lines, closed };
}

const until = async (f: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("timeout");
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("EventLog", () => {
  test("sequence numbers, bounded replay buffer, since, transition counts", () => {
    const log = new EventLog(4);
    expect(log.lastSeq).toBe(0);
    expect(log.oldestSeq).toBe(1);
    for (let i = 0; i < 6; i++) log.publish(tr(i % 2 ? "MASTER" : "BACKUP"), 1000 + i);
    expect(log.lastSeq).toBe(6);
    expect(log.oldestSeq).toBe(3);
    expect(log.since(0).map((e) => e.seq)).toEqual([3, 4, 5, 6]);
    expect(log.since(4).map((e) => e.seq)).toEqual([5, 6]);
    expect(log.since(6)).toEqual([]);
    expect(log.since(4)[0]).toMatchObject({ seq: 5, ts: 1004, type: "transition", to: "BACKUP" });
    expect(log.transitionCounts().sort((a, b) => a.to.localeCompare(b.to))).toEqual([
      { interface: "eth0", vhid: 3, to: "BACKUP", count: 3 },
      { interface: "eth0", vhid: 3, to: "MASTER", count: 3 },
    ]);
    const got: number[] = [];
    const sub = log.subscribe(5, (e) => got.push(e.seq));
    log.publish(tr("MASTER"));
    sub.close();
    log.publish(tr("MASTER"));
    expect(got).toEqual([6, 7]);
    expect(log.subscribers).toBe(0);
  });

  test("text format of each event type", () => {
    const ts = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
    const at = "2026-01-02T03:04:05.006Z";
    const ev = (b: object, seq = 9) => ({ seq, ts, ...b }) as CarpEvent;
    expect(formatEvent(ev(tr("MASTER")))).toBe(`9 ${at} transition vhid 3@eth0 INIT -> MASTER (test)`);
    expect(formatEvent(ev({ type: "demotion", source: "check:web", delta: 240, value: 240, reason: "check web failing: 500" }))).toBe(`9 ${at} demotion +240 check:web (check web failing: 500); global 240`);
    expect(formatEvent(ev({ type: "check", check: "web", up: false, detail: "exit 1" }))).toBe(`9 ${at} check web down (exit 1)`);
    expect(formatEvent(ev({ type: "fault", interface: "eth0", vhid: 3, active: true, reason: "eth0: link down" }))).toBe(`9 ${at} fault vhid 3@eth0 FAULT (eth0: link down)`);
    expect(formatEvent(ev({ type: "vip", interface: "eth0", vhid: 3, op: "add", address: "198.51.100.10", prefix: 24 }))).toBe(`9 ${at} vip vhid 3@eth0 add 198.51.100.10/24`);
    expect(formatEvent({ type: "overflow", ts, lastSeq: 8, reason: "slow" })).toBe(`- ${at} overflow after 8: slow`);
  });
});

describe("events over the control socket", () => {
  test("header, replay after since, live events in order, refusals", async () => {
    const path = join(dir, "ev.sock");
    const node = new CarpNode(config(path), { logSink: () => {} });
    const srv = new ControlServer(path, node);
    await srv.start();
    try {
      node.events.publish(tr("BACKUP"));
      node.events.publish(tr("MASTER"));
      const a = stream(path, { since: 1 });
      const b = stream(path, {});
      await until(() => a.lines.length >= 2 && b.lines.length >= 1);
      expect(a.lines[0]).toEqual({ ok: true, seq: 2, oldest: 1 });
      expect(a.lines[1]).toMatchObject({ seq: 2, type: "transition", to: "MASTER" });
      for (let i = 0; i < 50; i++) node.events.publish(tr(i % 2 ? "MASTER" : "BACKUP"));
      await until(() => a.lines.length === 52 && b.lines.length === 51);
      expect(a.lines.slice(1).map((e) => (e as CarpEvent).seq)).toEqual(Array.from({ length: 51 }, (_, i) => i + 2));
      expect(b.lines.slice(1).map((e) => (e as CarpEvent).seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 3));
      // A stream is not cut by the 5 s request timeout, and other requests still work beside it.
      expect((await controlRequest(path, { op: "status" })).ok).toBe(true);
      const m = await controlRequest(path, { op: "metrics" });
      expect(m.ok && (m.metrics as MetricsInput).transitions.length).toBe(2);
      a.sock.destroy();
      b.sock.destroy();
      await Promise.all([a.closed, b.closed]);
      await until(() => node.events.subscribers === 0);
      for (const [req, err] of [
        [{ since: -1 }, "--since: must be a sequence number (integer >= 0), got -1"],
        [{ since: "3" }, '--since: must be a sequence number (integer >= 0), got "3"'],
        [{ follow: true }, 'unknown key "follow" in events request'],
      ] as const) {
        const s = stream(path, req);
        await until(() => s.lines.length >= 1);
        expect(s.lines[0]).toEqual({ ok: false, error: err, kind: "usage" });
        s.sock.destroy();
      }
      expect(await controlRequest(path, { op: "metrics", x: 1 } as never)).toMatchObject({ ok: false, error: 'unknown key "x" in metrics request' });
    } finally {
      srv.close();
    }
  });

  test("a consumer that stops reading is dropped with an overflow line; memory stays bounded", async () => {
    const path = join(dir, "slow.sock");
    const node = new CarpNode(config(path), { logSink: () => {} });
    const srv = new ControlServer(path, node, { ...CONTROL_LIMITS, maxPendingOutputBytes: 64 * 1024 });
    await srv.start();
    try {
      const s = stream(path, {});
      await until(() => s.lines.length >= 1);
      s.sock.pause(); // stops reading: the daemon's side fills up
      const big = "x".repeat(1000);
      for (let i = 0; i < 2000 && node.events.subscribers > 0; i++) node.events.publish({ type: "check", check: "c", up: i % 2 === 0, detail: big });
      expect(node.events.subscribers).toBe(0); // dropped well before 2000 events (2 MB)
      s.sock.resume();
      await s.closed;
      const last = s.lines[s.lines.length - 1] as { type: string; lastSeq: number };
      expect(last.type).toBe("overflow");
      const seqs = s.lines.slice(1, -1).map((e) => (e as CarpEvent).seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect(last.lastSeq).toBe(seqs[seqs.length - 1]);
    } finally {
      srv.close();
    }
  });
});

describe("metrics rendering", () => {
  const status = (over: object = {}) => ({
    pid: 1, startedAt: 1_700_000_000_000, globalDemotion: 240,
    ledger: [{ source: "check:web", value: 240, reason: "failing", since: 0 }],
    carpstats: { ipackets: 5, ipackets6: 0, badlen: 0, badsum: 0, badver: 0, badttl: 0, badvhid: 0, badauth: 1, opackets: 7, opackets6: 0, senderr: 0, ownloops: 0 },
    vhids: [{ interface: 'e"th\\0', vhid: 3, state: "BACKUP", since: 1_700_000_010_000, advskew: 10, effectiveAdvskew: 240, advbase: 1, linkUp: true, demotion: { global: 240, vhid: 5, total: 245 } }],
    ...over,
  });
  test("families, labels escaped, parses strictly", () => {
    const m = { status: status(), transitions: [{ interface: "eth0", vhid: 3, to: "BACKUP", count: 2 }], checks: [{ name: "web", up: false }] } as unknown as MetricsInput;
    const text = renderMetrics(m, 1_700_000_070_000);
    const p = parseExposition(text);
    expect(p.errors).toEqual([]);
    const get = (name: string, l: Record<string, string> = {}) => p.samples.find((s) => s.name === name && Object.entries(l).every(([k, v]) => s.labels[k] === v))?.value;
    expect(text).toContain('carp_vhid_master{interface="e\\"th\\\\0",vhid="3"} 0');
    expect(get("carp_vhid_state", { interface: 'e"th\\0', state: "BACKUP" })).toBe(1);
    expect(get("carp_vhid_state", { state: "MASTER" })).toBe(0);
    expect(get("carp_vhid_transitions_total", { to: "BACKUP" })).toBe(2);
    expect(get("carp_vhid_advskew_effective")).toBe(240);
    expect(get("carp_vhid_seconds_since_transition")).toBe(60);
    expect(get("carp_vhid_last_transition_timestamp_seconds")).toBe(1_700_000_010);
    expect(get("carp_demotion", { source: "check:web" })).toBe(240);
    expect(get("carp_demotion", { source: 'vhid:e"th\\0/3' })).toBe(5);
    expect(get("carp_check_up", { check: "web" })).toBe(0);
    expect(get("carp_stats_badauth_total")).toBe(1);
    expect(p.types.get("carp_stats_opackets_total")).toBe("counter");
    // Without checks configured there is no carp_check_up family.
    expect(renderMetrics({ ...m, checks: undefined })).not.toContain("carp_check_up");
    // Several daemons (ucarp-style, one per vhid) merge into one exposition.
    const merged = renderMetrics(mergeMetrics([m, m]));
    const mp = parseExposition(merged);
    expect(mp.errors).toEqual([]);
    expect(mp.samples.find((s) => s.name === "carp_stats_opackets_total")?.value).toBe(14);
  });

  test("docs/alerts.yml: valid rules over metric families the daemon exports", () => {
    const doc = parseYaml(readFileSync(join(REPO, "docs/alerts.yml"), "utf8")) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const m = { status: status(), transitions: [{ interface: "eth0", vhid: 3, to: "BACKUP", count: 2 }], checks: [{ name: "web", up: false }] } as unknown as MetricsInput;
    const families = parseExposition(renderMetrics(m)).types;
    const rules = doc.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(["CarpSplitBrain", "CarpFlapping", "CarpCheckFailing"]));
    expect(rules.find((r) => r.alert === "CarpSplitBrain")?.expr).toBe("sum by (vhid) (carp_vhid_master) > 1");
    for (const r of rules) {
      const names = r.expr.match(/carp_[a-z0-9_]+/g) ?? [];
      expect(names.length, r.alert).toBeGreaterThan(0);
      for (const n of names) expect(families.has(n), `${r.alert}: ${n}`).toBe(true);
    }
  });

  test("--metrics / metrics: addresses", () => {
    expect(parseMetricsAddress("127.0.0.1:9742")).toEqual({ host: "127.0.0.1", port: 9742 });
    expect(parseMetricsAddress("[::1]:9742")).toEqual({ host: "::1", port: 9742 });
    expect(parseMetricsAddress(":9742")).toMatch(/expected ADDR:PORT/);
    expect(parseMetricsAddress("9742")).toMatch(/expected ADDR:PORT/);
    expect(parseMetricsAddress("localhost:9742")).toMatch(/with an IP address/);
    expect(parseMetricsAddress("127.0.0.1:0")).toBe("port must be 1-65535, got 0");
    expect(parseMetricsAddress("127.0.0.1:70000")).toBe("port must be 1-65535, got 70000");
    expect(config("/x.sock", ["--metrics", "127.0.0.1:9742", "--faultscript", "/bin/f"])).toMatchObject({ metrics: { host: "127.0.0.1", port: 9742 }, vhids: [{ faultscript: "/bin/f" }] });
    const bad = loadConfigFromArgv(["-i", "eth0", "-v", "3", "-p", "pw", "-a", "198.51.100.10", "--metrics", "9742"]);
    expect(bad.ok ? "" : bad.error).toMatch(/^--metrics: expected ADDR:PORT/);
    const empty = loadConfigFromArgv(["-i", "eth0", "-v", "3", "-p", "pw", "-a", "198.51.100.10", "--faultscript", ""]);
    expect(empty.ok ? "" : empty.error).toBe("--faultscript: empty path");
    const y = parseYamlConfig('metrics: "[::1]:9100"\nvhids:\n  - { interface: eth0, vhid: 1, addresses: ["198.51.100.10"], hooks: { fault: /usr/local/bin/fault } }\n');
    expect(y.ok && y.value).toMatchObject({ metrics: { host: "::1", port: 9100 }, vhids: [{ faultscript: "/usr/local/bin/fault" }] });
    const yb = parseYamlConfig("metrics: 9100\nvhids:\n  - { interface: eth0, vhid: 1, addresses: [\"198.51.100.10\"] }\n");
    expect(yb.ok ? "" : yb.error).toMatch(/^metrics: /);
  });

  test("fault script argv and env follow the up/down conventions", () => {
    const cfg = config("/x.sock", ["-x", "extra"]).vhids[0];
    const hook = { interface: cfg.interface, vhid: cfg.vhid, addresses: cfg.addresses, xparam: cfg.xparam, neutral: false, shutdownScript: false, hookMode: cfg.hookMode, hookTimeoutMs: 1000 };
    const [inv] = faultInvocations(hook, "/bin/f", "MASTER", "eth0: link down");
    expect(inv.args).toEqual(["eth0", "198.51.100.10", "extra"]);
    expect(inv.env).toMatchObject({ CARP_STATE: "FAULT", CARP_PREV_STATE: "MASTER", CARP_REASON: "eth0: link down", CARP_VHID: "3", CARP_INTERFACE: "eth0", CARP_VIP: "198.51.100.10" });
  });
});
