// The control socket without a network: a CarpNode that is configured but not started answers status and
// refuses `set` for unknown vhids; the socket is 0600, a live one is never stolen, a stale file is replaced.
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { loadConfigFromArgv } from "../../src/daemon/config-ucarp.js";
import type { Config } from "../../src/daemon/config.js";
import { ControlServer, controlRequest, listControlSockets } from "../../src/daemon/control.js";
import { CarpNode, CarpNodeError } from "../../src/daemon/node.js";
import { formatStatus, parseFlags } from "../../src/cli/status.js";

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
      pid: 42, startedAt: 0, globalDemotion: 0,
      carpstats: { ipackets: 1, ipackets6: 0, badlen: 0, badsum: 0, badver: 0, badttl: 2, badvhid: 0, badauth: 3, opackets: 4, opackets6: 0, senderr: 0, ownloops: 0 },
      vhids: [{
        interface: "eth0", vhid: 3, state: "BACKUP", reason: "master timed out", since: Date.UTC(2026, 0, 1), advbase: 1, advskew: 20,
        effectiveAdvskew: 20, demotion: { global: 0, vhid: 0, total: 0 }, preempt: true, semantics: "ucarp", addresses: ["198.51.100.10/32"],
        manageVip: true, linkUp: true,
        lastMaster: { address: "198.51.100.2", family: 4, at: 0, agoMs: 812, advbase: 1, advskew: 10, bowOut: false },
        counters: { ipackets: 1, ipackets6: 0, opackets: 0, opackets6: 0, preempt: 0, transitions: 1, badvhid: 0, ownLoops: 0, bowOutsReceived: 0, sendErrors: 0, badttl: 2, badauth: 3, badver: 0, badsum: 0 },
      }],
    });
    expect(text).toContain("vhid 3 on eth0: BACKUP (master timed out) since 2026-01-01T00:00:00.000Z");
    expect(text).toContain("advbase 1 advskew 20 effective skew 20 demotion 0 (global 0, vhid 0) preempt on ucarp");
    expect(text).toContain("last master 198.51.100.2 advbase 1 advskew 10, 812 ms ago");
    expect(text).toMatch(/carpstats \(pid 42, global demotion 0\): ipackets 1, .*badttl 2, .*badauth 3/);
  });
});
