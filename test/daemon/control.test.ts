// The control socket without a network: a CarpNode that is configured but not started answers status and
// refuses `set` for unknown vhids; the socket is 0600, a live one is never stolen, a stale file is replaced.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { loadConfigFromArgv } from "../../src/daemon/config-ucarp.js";
import type { Config } from "../../src/daemon/config.js";
import { CONTROL_LIMITS, ControlServer, controlRequest, listControlSockets } from "../../src/daemon/control.js";
import { CarpNode, CarpNodeError } from "../../src/daemon/node.js";
import { formatStatus, parseFlags } from "../../src/cli/status.js";
import { parseTcpdumpLine } from "../../src/lab/capture.js";
import { labScope, sleep } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const dir = mkdtempSync(join(tmpdir(), "carp-control-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(sock: string): Config {
  const r = loadConfigFromArgv(["-i", "eth0", "-s", "198.51.100.1", "-v", "3", "-p", "pw", "-a", "198.51.100.10", "--control", sock]);
  if (!r.ok || r.value.help) throw new Error("config");
  const { help: _h, ...cfg } = r.value;
  return cfg;
}

/** Sends raw text, returns the first answer line. */
function raw(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => s.write(text));
    let buf = "";
    s.on("data", (d) => {
      buf += d;
      const i = buf.indexOf("\n");
      if (i >= 0) {
        s.destroy();
        resolve(buf.slice(0, i));
      }
    });
    s.on("error", reject);
  });
}

describe("control socket", () => {
  test("status, set errors, bad requests, mode 0600", async () => {
    const path = join(dir, "a.sock");
    const node = new CarpNode(config(path), { logSink: () => {} });
    const srv = new ControlServer(path, node);
    await srv.start();
    try {
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const st = await controlRequest(path, { op: "status" });
      expect(st.ok).toBe(true);
      expect(st.ok && st.status).toMatchObject({ pid: process.pid, vhids: [] });
      const bad = await controlRequest(path, { op: "set", vhid: 3, advskew: 5 });
      expect(bad).toEqual({ ok: false, error: "--vhid: no vhid 3 configured", kind: "usage" });
      expect(JSON.parse(await raw(path, "not json\n"))).toMatchObject({ ok: false, error: "request is not JSON" });
      expect(JSON.parse(await raw(path, '{"op":"reboot"}\n'))).toMatchObject({ ok: false, error: 'unknown op "reboot"' });
      // A client that hangs up mid-request does not hurt the server.
      await new Promise<void>((r) => {
        const s = connect(path, () => {
          s.write('{"op":"sta');
          s.destroy();
          r();
        });
      });
      expect((await controlRequest(path, { op: "status" })).ok).toBe(true);
      expect(listControlSockets(dir)).toEqual([path]);

      // A second daemon on the same path is refused; the first keeps working.
      const other = new ControlServer(path, node);
      await expect(other.start()).rejects.toThrow(/in use by another carp daemon/);
      expect((await controlRequest(path, { op: "status" })).ok).toBe(true);
    } finally {
      srv.close();
    }
    await expect(controlRequest(path, { op: "status" })).rejects.toThrow(/no carp daemon listening/);
  });

  test("unknown keys and wrong JSON types are refused; nothing is applied or logged", async () => {
    const path = join(dir, "keys.sock");
    const logs: string[] = [];
    const node = new CarpNode(config(path), { logSink: (line) => logs.push(line) });
    const srv = new ControlServer(path, node);
    await srv.start();
    try {
      expect(JSON.parse(await raw(path, '{"op":"set","vhid":1,"bogus":5}\n'))).toEqual({ ok: false, error: 'unknown key "bogus" in set request', kind: "usage" });
      expect(JSON.parse(await raw(path, '{"op":"set","vhid":3,"advskew":"30"}\n'))).toEqual({ ok: false, error: '--advskew: must be a number, got "30"', kind: "usage" });
      expect(JSON.parse(await raw(path, '{"op":"set","vhid":3,"state":"primary"}\n'))).toMatchObject({ ok: false, error: '--state: must be master or backup, got "primary"' });
      expect(JSON.parse(await raw(path, '{"op":"set","advskew":3}\n'))).toMatchObject({ ok: false, error: "--vhid: required" });
      expect(JSON.parse(await raw(path, '{"op":"status","verbose":1}\n'))).toMatchObject({ ok: false, error: 'unknown key "verbose" in status request' });
      expect(JSON.parse(await raw(path, "[1,2]\n"))).toMatchObject({ ok: false, error: "request is not a JSON object" });
      expect(logs.filter((m) => / set /.test(m))).toEqual([]);
    } finally {
      srv.close();
    }
  });

  test("limits: a line past 64 KiB, an idle client, one connection too many, pipelined requests", async () => {
    const path = join(dir, "limits.sock");
    const node = new CarpNode(config(path), { logSink: () => {} });
    const srv = new ControlServer(path, node, { ...CONTROL_LIMITS, idleMs: 400, maxConnections: 3 });
    await srv.start();
    try {
      // Exactly 64 KiB of request is still read (and refused as JSON); one byte more closes the connection.
      expect(JSON.parse(await raw(path, " ".repeat(CONTROL_LIMITS.maxRequestBytes - 2) + "{}\n"))).toMatchObject({ error: 'unknown op undefined' });
      const long = await raw(path, "x".repeat(CONTROL_LIMITS.maxRequestBytes + 1));
      expect(JSON.parse(long)).toEqual({ ok: false, error: "request longer than 65536 bytes", kind: "usage" });

      // An idle client (or one that trickles a request that never ends) is answered once and closed.
      const t0 = Date.now();
      const idle = await new Promise<{ line: string; ms: number }>((resolve) => {
        let buf = "";
        const s = connect(path, () => s.write('{"op":'));
        const drip = setInterval(() => s.write(" "), 100);
        s.on("data", (d) => (buf += d));
        s.on("close", () => {
          clearInterval(drip);
          resolve({ line: buf.trim(), ms: Date.now() - t0 });
        });
        s.on("error", () => undefined);
      });
      expect(JSON.parse(idle.line)).toMatchObject({ ok: false, error: "no complete request within 400 ms" });
      expect(idle.ms).toBeGreaterThanOrEqual(350);
      expect(idle.ms).toBeLessThan(3000);

      // Three held connections fill the cap: the fourth gets one error line and is closed.
      const held = await Promise.all([0, 1, 2].map(() => new Promise<ReturnType<typeof connect>>((r) => {
        const s = connect(path, () => r(s));
        s.on("error", () => undefined);
      })));
      expect(JSON.parse(await raw(path, '{"op":"status"}\n'))).toEqual({ ok: false, error: "too many control connections (limit 3)", kind: "usage" });
      for (const s of held) s.destroy();
      await new Promise((r) => setTimeout(r, 50));

      // Many requests in one write are answered in order, one per event-loop turn.
      const answers = await new Promise<string[]>((resolve) => {
        let buf = "";
        const s = connect(path, () => s.write('{"op":"status"}\n'.repeat(200)));
        s.on("data", (d) => {
          buf += d;
          const got = buf.split("\n").filter(Boolean);
          if (got.length === 200) {
            s.destroy();
            resolve(got);
          }
        });
      });
      expect(answers.every((a) => JSON.parse(a).ok === true)).toBe(true);
      expect((await controlRequest(path, { op: "status" })).ok).toBe(true);
    } finally {
      srv.close();
    }
  });

  test("a stale socket file (no listener) is replaced", async () => {
    const path = join(dir, "stale.sock");
    writeFileSync(path, "");
    const srv = new ControlServer(path, new CarpNode(config(path), { logSink: () => {} }));
    await srv.start();
    try {
      expect(statSync(path).isSocket()).toBe(true);
    } finally {
      srv.close();
    }
  });

  test("CarpNode.set refuses unknown vhids with a usage error naming --vhid", () => {
    const node = new CarpNode(config(join(dir, "x.sock")), { logSink: () => {} });
    expect(() => node.set({ vhid: 9, advskew: 1 })).toThrow(CarpNodeError);
    try {
      node.set({ vhid: 9 });
    } catch (e) {
      expect((e as CarpNodeError).kind).toBe("usage");
      expect((e as Error).message).toMatch(/^--vhid:/);
    }
  });

  test("CLI flag parsing and the text status", () => {
    expect(parseFlags(["--json", "--control=/x"], { json: false, control: true })).toEqual(new Map<string, string | true>([["json", true], ["control", "/x"]]));
    expect(() => parseFlags(["--control"], { control: true })).toThrow(/--control: requires a value/);
    expect(() => parseFlags(["--json=1"], { json: false })).toThrow(/takes no value/);
    expect(() => parseFlags(["status"], {})).toThrow(/unexpected argument/);
    const text = formatStatus({
      pid: 42, startedAt: 0, globalDemotion: 0, ledger: [],
      carpstats: { ipackets: 1, ipackets6: 0, badlen: 0, badsum: 0, badver: 0, badttl: 2, badvhid: 0, badauth: 3, opackets: 4, opackets6: 0, senderr: 0, ownloops: 0, badreplay: 0, vrrp: 0 },
      vhids: [{
        interface: "eth0", vhid: 3, state: "BACKUP", reason: "master timed out", since: Date.UTC(2026, 0, 1), advbase: 1, advskew: 20,
        effectiveAdvskew: 20, demotion: { global: 0, vhid: 0, total: 0 }, preempt: true, semantics: "ucarp", addresses: ["198.51.100.10/32"],
        manageVip: true, linkUp: true, vipError: null,
        lastMaster: { address: "198.51.100.2", family: 4, at: 0, agoMs: 812, advbase: 1, advskew: 10, bowOut: false },
        counters: { ipackets: 1, ipackets6: 0, opackets: 0, opackets6: 0, preempt: 0, transitions: 1, badvhid: 0, ownLoops: 0, badreplay: 0, bowOutsReceived: 0, sendErrors: 0, badttl: 2, badauth: 3, badver: 0, badsum: 0 },
      }],
    });
    expect(text).toContain("vhid 3 on eth0: BACKUP (master timed out) since 2026-01-01T00:00:00.000Z");
    expect(text).toContain("advbase 1 advskew 20 effective skew 20 demotion 0 (global 0, vhid 0) preempt on ucarp");
    expect(text).toContain("last master 198.51.100.2 advbase 1 advskew 10, 812 ms ago");
    expect(text).toMatch(/carpstats \(pid 42, global demotion 0\): ipackets 1, .*badttl 2, .*badauth 3/);
  });
});

describe("control socket under abuse, with a real MASTER and BACKUP in namespaces", () => {
  requires("netns", "ours", "tcpdump");
  const { tmp, lab } = labScope("carp-control-abuse-");
  const VIP = "198.51.100.100";

  const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);

  /** Streams up to `total` bytes without a newline from one reused buffer; resolves with what came back. */
  function hugeLine(path: string, total: number, stopOnAnswer = true): Promise<{ sent: number; answer: string }> {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    return new Promise((resolve) => {
      let sent = 0;
      let answer = "";
      let done = false;
      const s = connect(path);
      const finish = () => {
        if (done) return;
        done = true;
        s.destroy();
        resolve({ sent, answer: answer.trim() });
      };
      const pump = () => {
        while (!done && sent < total && !s.destroyed && (answer === "" || !stopOnAnswer)) {
          sent += chunk.length;
          if (!s.write(chunk)) return void s.once("drain", pump);
        }
      };
      s.on("connect", pump);
      s.on("data", (d) => (answer += d)); // a well-behaved client stops sending once answered
      s.on("close", finish);
      s.on("error", finish);
    });
  }

  test("300 MB line, a slow client, 2000 connections: daemon alive, RSS bounded, MASTER keeps its role", async () => {
    const l = lab(2, "ca");
    const [a, b] = l.hosts;
    const sockA = join(tmp, `${l.tag}-a.sock`);
    const sockB = join(tmp, `${l.tag}-b.sock`);
    const run = (h: typeof a, sock: string, skew: number) =>
      h.carp(["run", "-i", "eth0", "-s", h.ip4, "-v", "7", "-p", "s3cret", "-a", `${VIP}/24`, "-k", String(skew), "--log-format", "json", "-f", "none", "--control", sock]);
    const na = run(a, sockA, 0);
    await na.waitState("MASTER", 8000);
    const nb = run(b, sockB, 50);
    await nb.waitState("BACKUP", 5000);
    const cap = b.spawn("tcpdump", ["-i", "eth0", "-n", "-tt", "-l", "-U", "proto", "112"]);
    await sleep(2500);
    const st0 = await controlRequest(sockA, { op: "status" });
    if (!st0.ok) throw new Error(st0.error);
    const pid = (st0.status as { pid: number }).pid;
    const rssBefore = rssKb(pid);
    const abuseStart = Date.now();

    // 1. One unterminated 300 MB line: answered once and dropped after 64 KiB, never buffered.
    const huge = await hugeLine(sockA, 300 * 1024 * 1024);
    expect(JSON.parse(huge.answer)).toMatchObject({ ok: false, error: "request longer than 65536 bytes" });
    expect(huge.sent).toBeLessThan(300 * 1024 * 1024);
    // The same from a client that goes on sending after the answer: reset after at most 1 MiB more.
    const rude = await hugeLine(sockA, 300 * 1024 * 1024, false);
    expect(rude.sent).toBeLessThan(16 * 1024 * 1024);
    const rssAfterHuge = rssKb(pid);

    // 2. A slow client that never finishes its request: closed after the 5 s idle limit.
    const slowStart = Date.now();
    const slow = await new Promise<{ answer: string; ms: number }>((resolve) => {
      let answer = "";
      const s = connect(sockA, () => s.write('{"op":"st'));
      const drip = setInterval(() => s.writable && s.write("a"), 200);
      s.on("data", (d) => (answer += d));
      s.on("close", () => {
        clearInterval(drip);
        resolve({ answer: answer.trim(), ms: Date.now() - slowStart });
      });
      s.on("error", () => undefined);
    });
    expect(JSON.parse(slow.answer)).toMatchObject({ ok: false, error: "no complete request within 5000 ms" });
    expect(slow.ms).toBeGreaterThan(4500);
    expect(slow.ms).toBeLessThan(8000);

    // 3. 2000 connections at once, held open: at most 32 are kept, the rest get one error line each.
    const conns = await Promise.all(Array.from({ length: 2000 }, () => new Promise<{ s: ReturnType<typeof connect>; refused: boolean; failed: boolean }>((resolve) => {
      const s = connect(sockA);
      let buf = "";
      const t = setTimeout(() => resolve({ s, refused: false, failed: false }), 3000);
      s.on("data", (d) => {
        buf += d;
        if (buf.includes("too many control connections")) {
          clearTimeout(t);
          resolve({ s, refused: true, failed: false });
        }
      });
      s.on("error", () => {
        clearTimeout(t);
        resolve({ s, refused: false, failed: true });
      });
    })));
    const refused = conns.filter((c) => c.refused).length;
    const failed = conns.filter((c) => c.failed).length;
    const held = conns.length - refused - failed;
    expect(held).toBeLessThanOrEqual(32);
    // The rest were refused by the daemon with a line, or by the kernel (listen backlog full).
    expect(refused).toBeGreaterThan(100);
    expect(refused + failed + held).toBe(2000);
    const rssAfterConns = rssKb(pid);
    for (const c of conns) c.s.destroy();
    const abuseEnd = Date.now();
    await sleep(1500);

    // After: alive, bounded memory, roles unchanged, a normal status answers.
    const rssAfter = rssKb(pid);
    expect(na.exit).toBeNull();
    expect(rssAfter - rssBefore).toBeLessThan(50 * 1024);
    const stA = a.carpSync(["status", "--json", "--control", sockA]);
    expect(stA.code).toBe(0);
    expect(JSON.parse(stA.stdout).vhids[0].state).toBe("MASTER");
    const stB = JSON.parse(b.carpSync(["status", "--json", "--control", sockB]).stdout);
    expect(stB.vhids[0].state).toBe("BACKUP");
    expect(nb.transitions("MASTER")).toHaveLength(0);
    expect(na.transitions().filter((t) => t.from === "MASTER")).toHaveLength(0);

    // An unknown key in a set to the live daemon: refused, nothing applied, nothing logged as set.
    expect(await controlRequest(sockA, { op: "set", vhid: 7, advskew: 200, bogus: 5 } as never)).toEqual({ ok: false, error: 'unknown key "bogus" in set request', kind: "usage" });
    await sleep(200);
    expect(na.json().filter((e) => e.event === "set")).toEqual([]);
    expect(JSON.parse(a.carpSync(["status", "--json", "--control", sockA]).stdout).vhids[0].advskew).toBe(0);

    // The master's adverts kept their 1 s pace during the abuse.
    const adverts = cap.lines.map(parseTcpdumpLine).filter((x) => x !== null && x.src === a.ip4 && x.vhid === 7).map((x) => x!.t);
    const during = adverts.filter((t) => t >= abuseStart - 1100 && t <= abuseEnd + 1100);
    const gaps = during.slice(1).map((t, i) => t - during[i]);
    const maxGap = Math.max(...gaps);
    expect(gaps.length).toBeGreaterThan(5);
    expect(maxGap).toBeLessThan(1500);
    console.log(
      `control abuse: huge line ${huge.sent} bytes sent before the drop (${rude.sent} by a client ignoring the answer); slow client closed after ${slow.ms} ms; ` +
        `2000 connections: ${refused} refused with a line, ${held} held, ${failed} failed to connect; ` +
        `RSS kB before ${rssBefore}, after huge ${rssAfterHuge}, with connections ${rssAfterConns}, after ${rssAfter}; ` +
        `${gaps.length} advert intervals during abuse, max ${maxGap.toFixed(1)} ms; backup lastMaster.agoMs ${stB.vhids[0].lastMaster?.agoMs}`,
    );
  }, 60_000);
});
