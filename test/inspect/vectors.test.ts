// The fixture vectors and VRRP captures (test/fixtures) through the BUILT `carp inspect --read … --json`, as a child
// process: every field and verdict, and the fuzzed tcpdump captures decode without crashing.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readCaptureSync } from "../../src/protocol/pcap.js";
import { carpCli, ensureBuilt, jsonLines, tmpDir, vectors, writePcap } from "./helpers.js";
import { carpVectors, type CarpVector } from "../helpers/vectors.js";

const V: CarpVector[] = carpVectors;
const vec = (f: string) => join(vectors, f);

beforeAll(() => ensureBuilt(), 120_000);

describe("carp-vectors.pcap", () => {
  it("decodes every field of D1-D6 (no keys: auth unverified)", () => {
    const r = carpCli(["inspect", "--read", vec("carp-vectors.pcap"), "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const rows = jsonLines(r.stdout);
    expect(rows).toHaveLength(6);
    rows.forEach((row, i) => {
      const v = V[i];
      expect(row).toMatchObject({
        src: v.src,
        dst: v.v6.length ? "ff02::12" : "224.0.0.18",
        ttl: 255,
        kind: "carp",
        version: 2,
        type: 1,
        vhid: v.vhid,
        advbase: v.advbase,
        advskew: v.advskew,
        demote: v.demote,
        counter: v.carp_header.slice(16, 32),
        hmac: v.hmac,
        checksum: "ok",
        auth: "unverified",
        error: null,
        diagnosis: null,
      });
      expect(row.counter).toMatch(/^[0-9a-f]{16}$/);
      expect(typeof row.time).toBe("number");
      expect(row.time).toBeGreaterThan(1e9);
    });
  });

  it.each(V.map((v, i) => [v.name, i] as const))("%s verifies with its password and VIPs, fails with another password", (_n, i) => {
    const v = V[i];
    const keys = [`--pass`, `${v.vhid}=${v.pw}`, ...[...v.v4, ...v.v6].map((a) => `--vip=${v.vhid}=${a}`)];
    const ok = jsonLines(carpCli(["inspect", "--read", vec("carp-vectors.pcap"), "--json", ...keys]).stdout)[i];
    expect(ok).toMatchObject({ auth: "ok", error: null });
    const bad = jsonLines(carpCli(["inspect", "--read", vec("carp-vectors.pcap"), "--json", "--pass", `${v.vhid}=${v.pw}x`, ...keys.slice(2)]).stdout)[i];
    expect(bad).toMatchObject({ auth: "bad", error: "badauth" });
    // D2 and D5 use no password: the explainer recognises the all-zero key.
    expect(bad.diagnosis).toMatch(v.pw === "" ? /the sender uses no password/ : /wrong password/);
  });

  it("line output is one tcpdump-style line per packet", () => {
    const r = carpCli(["inspect", "--read", vec("carp-vectors.pcap"), "--pass", "1=foobar", "--vip", "1=192.0.2.254"]);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{6} CARPv2 vhid 1 advbase 1 advskew 0 demote 0 counter 0000000000000001 cksum ok auth ok 192\.0\.2\.1 > 224\.0\.0\.18 ttl 255$/,
    );
    expect(lines[5]).toContain("vhid 42 advbase 1 advskew 50 demote 5");
  });
});

describe("link layers", () => {
  // The six vectors re-wrapped as raw IP (DLT 101), Linux cooked v1 (113), v2 (276) and 802.1Q Ethernet.
  const frames = readCaptureSync(readFileSync(vec("carp-vectors.pcap"))).packets;
  const dir = tmpDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const sll = (f: Buffer) => {
    const h = Buffer.alloc(16);
    h.writeUInt16BE(2, 0); // multicast
    h.writeUInt16BE(1, 2); // ARPHRD_ETHER
    h.writeUInt16BE(6, 4);
    f.copy(h, 6, 6, 12);
    h.writeUInt16BE(f.readUInt16BE(12), 14);
    return Buffer.concat([h, f.subarray(14)]);
  };
  const sll2 = (f: Buffer) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(f.readUInt16BE(12), 0);
    h.writeUInt32BE(2, 4); // ifindex
    h.writeUInt16BE(1, 8);
    h[10] = 2;
    h[11] = 6;
    f.copy(h, 12, 6, 12);
    return Buffer.concat([h, f.subarray(14)]);
  };
  const vlan = (f: Buffer) => Buffer.concat([f.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 0x2a]), f.subarray(12)]);
  it.each([
    ["raw IP", 101, (f: Buffer) => f.subarray(14), null, null],
    ["Linux cooked", 113, sll, "00:00:5e:00:01:01", null],
    ["Linux cooked v2", 276, sll2, "00:00:5e:00:01:01", null],
    ["802.1Q", 1, vlan, "00:00:5e:00:01:01", [42]],
  ] as const)("%s: the same rows as Ethernet", (_n, linktype, wrap, mac, tags) => {
    const file = writePcap(dir, `lt${linktype}-${_n.length}.pcap`, frames.map((p) => ({ time: p.time, data: wrap(Buffer.from(p.data)) })), linktype);
    const rows = jsonLines(carpCli(["inspect", "--read", file, "--json", "--pass", "1=foobar", "--vip", "1=192.0.2.254"]).stdout);
    const ref = jsonLines(carpCli(["inspect", "--read", vec("carp-vectors.pcap"), "--json", "--pass", "1=foobar", "--vip", "1=192.0.2.254"]).stdout);
    expect(rows).toHaveLength(6);
    rows.forEach((r, i) => {
      const { src_mac: _a, dst_mac: _b, vlan: _c, ...rest } = ref[i];
      expect(r).toMatchObject(rest);
      expect(r.src_mac).toBe(mac === null ? null : ref[i].src_mac);
      expect(r.vlan).toEqual(tags);
    });
    expect(rows[0].auth).toBe("ok");
  });
});

describe("carp-negative.pcap (configured like D1)", () => {
  it("gives each mutation its carpstats reason", () => {
    const r = carpCli(["inspect", "--read", vec("carp-negative.pcap"), "--json", "--pass", "foobar", "--vip", "1=192.0.2.254"]);
    expect(r.code).toBe(0);
    const rows = jsonLines(r.stdout);
    expect(rows.map((x) => [x.kind, x.error, x.auth, x.checksum])).toEqual([
      ["carp", "badsum", "unverified", "bad"], // N1
      ["carp", "badttl", "ok", "ok"], // N2: the digest is fine, the TTL is not
      ["carp", "badver", "unverified", "ok"], // N3: a CARP header (checksum holds) with version 3
      ["carp", null, "ok", "ok"], // N4: type 2, accepted like the kernels do (noted)
      ["invalid", "badlen", "unverified", null], // N5: 20 bytes
      ["carp", null, "ok", "ok"], // N6: authlen 5, accepted (noted)
      ["carp", "badauth", "bad", "ok"], // N7: password barfoo
      ["vrrp", null, "unverified", "ok"], // N8: a genuine VRRPv2 advert
    ]);
    expect(rows[1].ttl).toBe(64);
    expect(rows[2].version).toBe(3);
    expect(rows[3].type).toBe(2);
    expect(rows[3].notes.join()).toMatch(/type 2/);
    expect(rows[5].notes.join()).toMatch(/authlen 5/);
    expect(rows[7]).toMatchObject({ version: 2, vhid: 1, priority: 100, interval_cs: 100, addresses: ["192.0.2.254"] });
  });

  it("--summary --fail-on-problem exits 1 and names the problems", () => {
    const r = carpCli(["inspect", "--read", vec("carp-negative.pcap"), "--summary", "--json", "--fail-on-problem", "--pass", "foobar", "--vip", "1=192.0.2.254"]);
    expect(r.code).toBe(1);
    const s = JSON.parse(r.stdout);
    const carp1 = s.vhids.find((v: any) => v.vhid === 1 && v.protocol === "carp");
    const codes = carp1.problems.map((p: any) => p.code);
    expect(codes).toEqual(expect.arrayContaining(["vrrp-clash", "ttl", "checksum", "auth"]));
    expect(s.vhids.find((v: any) => v.protocol === "vrrp").problems.map((p: any) => p.code)).toContain("vrrp-clash");
  });
});

describe("VRRP captures", () => {
  it("tcpdump-vrrp.pcap: 165 VRRP rows matching tcpdump's vrid, prio and interval, none CARP", () => {
    const r = carpCli(["inspect", "--read", vec("tcpdump-vrrp.pcap"), "--json"]);
    expect(r.code).toBe(0);
    const rows = jsonLines(r.stdout);
    const golden = readFileSync(vec("tcpdump-vrrp.out"), "utf8").trim().split("\n");
    expect(rows).toHaveLength(165);
    expect(golden).toHaveLength(165);
    rows.forEach((row, i) => {
      const g = golden[i];
      const m = /VRRPv(\d), Advertisement, vrid (\d+), prio (\d+),.* intvl (\d+)(s|cs)/.exec(g)!;
      expect(m, g).not.toBeNull();
      expect(row).toMatchObject({ kind: "vrrp", version: Number(m[1]), vhid: Number(m[2]), priority: Number(m[3]), checksum: "ok", error: null });
      expect(row.interval_cs).toBe(m[5] === "s" ? Number(m[4]) * 100 : Number(m[4]));
      expect(g).toContain(`${row.src} > ${row.dst}`);
    });
  });

  it("ndpi-vrrp3.pcapng (802.1Q, IPv6): 10 VRRPv3 adverts, fe80::1 (prio 105) ends as master of vrid 36", () => {
    const rows = jsonLines(carpCli(["inspect", "--read", vec("ndpi-vrrp3.pcapng"), "--json"]).stdout);
    expect(rows).toHaveLength(10);
    for (const r of rows) expect(r).toMatchObject({ kind: "vrrp", version: 3, vhid: 36, interval_cs: 1000, checksum: "ok", vlan: [36], addresses: ["fe80::3636"] });
    const s = JSON.parse(carpCli(["inspect", "--read", vec("ndpi-vrrp3.pcapng"), "--summary", "--json"]).stdout);
    expect(s.vhids).toHaveLength(1);
    expect(s.vhids[0]).toMatchObject({ vhid: 36, protocol: "vrrp", master: { ip: "fe80::1" } });
    expect(s.vhids[0].election.winner).toBe("fe80::1");
  });

  it.each([
    ["pcapplusplus-vrrp-v2.pcap", 2, ["192.168.0.1", "192.168.0.2", "192.168.0.3"], 100],
    ["pcapplusplus-vrrp-v3-ipv4.pcap", 3, ["192.168.0.1", "192.168.0.2"], 1],
    ["pcapplusplus-vrrp-v3-ipv6.pcap", 3, ["fe80::254", "2001:db8::1", "2001:db8::2"], 1],
  ] as const)("%s decodes as VRRPv%d", (file, version, addresses, cs) => {
    const rows = jsonLines(carpCli(["inspect", "--read", vec(file), "--json"]).stdout);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: "vrrp", version, vhid: 1, priority: 100, addresses, interval_cs: cs, checksum: "ok" });
  });

  it.each(["tcpdump-vrrp-oobr.pcap", "tcpdump-vrrp-oobr-2.pcap"])("fuzzed %s: no crash, nothing taken for a valid advert", (file) => {
    const r = carpCli(["inspect", "--read", vec(file), "--json"]);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    expect(r.code).toBe(0);
    for (const row of jsonLines(r.stdout)) {
      expect(row.kind === "carp" && row.error === null).toBe(false);
      expect(row.kind === "vrrp" && row.error === null).toBe(false);
    }
    const s = carpCli(["inspect", "--read", vec(file), "--summary"]);
    expect(s.code).toBe(0);
  });
});

describe("usage and input errors", () => {
  it("exit 2 with one line for a missing file, a bad flag, both or no source", () => {
    for (const args of [["--read", "/nonexistent.pcap"], ["--bogus"], [], ["--read", "x", "--interface", "y"], ["--read", vec("carp-vectors.pcap"), "--vip", "300=1.2.3.4"]]) {
      const r = carpCli(["inspect", ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^carp: /);
    }
  });

  it("a truncated file: packets before the cut are printed, exit 2 says how many were read", () => {
    const whole = readFileSync(vec("carp-vectors.pcap"));
    for (const [input, mode] of [[whole.subarray(0, whole.length - 10), "--json"], [whole.subarray(0, whole.length - 10), "--summary"]] as const) {
      const r = carpCli(["inspect", "--read", "-", mode], { input: Buffer.from(input) });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/standard input: truncated: .*5 packet\(s\) read/);
      if (mode === "--json") expect(jsonLines(r.stdout)).toHaveLength(5);
    }
    const notPcap = carpCli(["inspect", "--read", "-"], { input: Buffer.from("hello world, not a capture at all") });
    expect(notPcap.code).toBe(2);
    expect(notPcap.stderr).toMatch(/not a pcap or pcapng file/);
  });
});
