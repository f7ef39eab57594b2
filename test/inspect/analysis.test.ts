// Generated captures through the built CLI: the HMAC mismatch explainer (wrong password vs a
// different VIP set, ucarp's single-VIP form, OpenBSD's no-link-local form, inference from GARP/NA)
// and the per-vhid summary (master, transitions, interval, problems, election).
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildGratuitousArp } from "../../src/protocol/arp.js";
import { encodeVrrpV2 } from "../../src/protocol/vrrp.js";
import { buildIpv4 } from "../../src/protocol/ip.js";
import { buildEthernet, ETHERTYPE_IPV4 } from "../../src/protocol/link.js";
import { buildUnsolicitedNa } from "../../src/protocol/ndp.js";
import type { WritablePacket } from "../../src/protocol/pcap.js";
import { advertFrame, carpCli, ensureBuilt, jsonLines, tmpDir, writePcap, type AdvertSpec } from "./helpers.js";

const dir = tmpDir();
const T0 = 1_700_000_000;
beforeAll(() => ensureBuilt(), 120_000);
afterAll(() => { if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true }); });

/** n adverts from one sender, one per `every` seconds from t. */
function series(spec: Omit<AdvertSpec, "counter">, t: number, n: number, every = 1, ctr = 100n): WritablePacket[] {
  return Array.from({ length: n }, (_, i) => ({ time: t + i * every, data: advertFrame({ ...spec, counter: ctr + BigInt(i) }) }));
}
const garp = (t: number, vip: string, mac: string): WritablePacket => ({ time: t, data: buildGratuitousArp({ vip, mac }) });
const byTime = (p: WritablePacket[]) => p.sort((a, b) => a.time - b.time);

describe("HMAC mismatch explainer", () => {
  const two = ["198.51.100.70", "198.51.100.71"];
  // The master hashes both VIPs and announces both with GARPs from its virtual MAC.
  const file = writePcap(dir, "twovips.pcap", [
    garp(T0, two[0], "00:00:5e:00:01:07"),
    garp(T0, two[1], "00:00:5e:00:01:07"),
    ...series({ vhid: 7, src: "198.51.100.1", pass: "s3cret", v4: two }, T0 + 0.1, 3),
  ]);

  it("our VIP set lacks an address: password right, VIP set differs, says which", () => {
    const rows = jsonLines(carpCli(["inspect", "--read", file, "--json", "--pass", "7=s3cret", "--vip", "7=198.51.100.70"]).stdout);
    const carp = rows.filter((r) => r.kind === "carp");
    expect(carp).toHaveLength(3);
    for (const r of carp) {
      expect(r).toMatchObject({ auth: "bad", error: "badauth" });
      expect(r.diagnosis).toMatch(/password is right but the VIP set differs/);
      expect(r.diagnosis).toMatch(/not in yours: 198\.51\.100\.71/);
    }
    // GARPs for a known VIP, or from the vhid's virtual MAC, are shown as rows too.
    expect(rows.filter((r) => r.kind === "garp").map((r) => [r.vip, r.vhid])).toEqual([[two[0], 7], [two[1], 7]]);
  });

  it("a wrong password is called a wrong password, also with the right VIPs", () => {
    const rows = jsonLines(carpCli(["inspect", "--read", file, "--json", "--pass", "wrong", "--vip", `7=${two[0]}`, "--vip", `7=${two[1]}`]).stdout);
    for (const r of rows.filter((x) => x.kind === "carp")) {
      expect(r.auth).toBe("bad");
      expect(r.diagnosis).toMatch(/^wrong password/);
    }
  });

  it("a peer hashing only one address (ucarp's --addr) against our two", () => {
    const f = writePcap(dir, "ucarp-form.pcap", series({ vhid: 7, src: "198.51.100.1", pass: "s3cret", v4: [two[1]], semantics: "ucarp", srcMac: "00:00:5e:00:00:07" }, T0, 2));
    const rows = jsonLines(carpCli(["inspect", "--read", f, "--json", "--pass", "s3cret", "--vip", `7=${two[0]}`, "--vip", `7=${two[1]}`]).stdout);
    expect(rows[0].auth).toBe("bad");
    expect(rows[0].diagnosis).toMatch(/sender hashes 198\.51\.100\.71/);
    expect(rows[0].diagnosis).toMatch(/ucarp's single-VIP form/);
  });

  it("OpenBSD's sending form (link-local VIP left out) verifies and is named", () => {
    const v6 = ["2001:db8::9", "fe80::9"];
    const f = writePcap(dir, "obsd.pcap", series({ vhid: 9, src: "fe80::1", pass: "pw9", v6, semantics: "openbsd" }, T0, 2));
    const args = ["inspect", "--read", f, "--json", "--pass", "9=pw9", "--vip", "9=2001:db8::9", "--vip", "9=fe80::9"];
    const rows = jsonLines(carpCli(args).stdout);
    expect(rows[0]).toMatchObject({ auth: "ok", error: null, family: 6 });
    expect(rows[0].diagnosis).toMatch(/OpenBSD's sending form/);
  });

  it("password only: the VIP set is inferred from GARP and NA, and the output says so", () => {
    const f = writePcap(
      dir,
      "infer.pcap",
      byTime([
        ...series({ vhid: 7, src: "198.51.100.1", pass: "s3cret", v4: ["198.51.100.70"], v6: ["2001:db8::70"] }, T0, 3),
        garp(T0 + 0.5, "198.51.100.70", "00:00:5e:00:01:07"),
        { time: T0 + 0.6, data: buildUnsolicitedNa({ target: "2001:db8::70", mac: "00:00:5e:00:01:07" }) },
        garp(T0 + 0.7, "198.51.100.99", "02:00:00:00:00:99"), // someone else's address
      ]),
    );
    const rows = jsonLines(carpCli(["inspect", "--read", f, "--json", "--pass", "s3cret"]).stdout);
    const carp = rows.filter((r) => r.kind === "carp");
    expect(carp.map((r) => r.auth)).toEqual(["ok", "ok", "ok"]); // the pre-scan makes even the first advert verify
    expect(carp[0].diagnosis).toBe("VIP set inferred from GARP/NA: 198.51.100.70, 2001:db8::70");
    const s = JSON.parse(carpCli(["inspect", "--read", f, "--summary", "--json", "--pass", "s3cret"]).stdout);
    expect(s.vhids[0].auth).toMatchObject({ status: "ok", vips_source: "inferred", vips: ["198.51.100.70", "2001:db8::70"] });
  });
});

describe("keys from --config and --passfile", () => {
  const file = writePcap(dir, "keys.pcap", [
    ...series({ vhid: 3, src: "198.51.100.1", pass: "cfg-pw", v4: ["198.51.100.30"], v6: ["2001:db8::30"] }, T0, 2),
    ...series({ vhid: 4, src: "198.51.100.1", pass: "other", v4: ["198.51.100.40"] }, T0 + 0.5, 2),
  ]);

  it("the daemon's YAML config gives passwords, addresses and semantics", () => {
    const cfg = `${dir}/carp.yaml`;
    writeFileSync(
      cfg,
      [
        "vhids:",
        '  - { interface: eth0, vhid: 3, password: "cfg-pw", addresses: ["198.51.100.30/24", "2001:db8::30/64"] }',
        '  - { interface: eth0, vhid: 4, password: "nope", addresses: ["198.51.100.40/24"] }',
      ].join("\n"),
    );
    const rows = jsonLines(carpCli(["inspect", "--read", file, "--json", "--config", cfg]).stdout);
    expect(rows.map((r) => [r.vhid, r.auth])).toEqual([[3, "ok"], [3, "ok"], [4, "bad"], [4, "bad"]]);
    const s = JSON.parse(carpCli(["inspect", "--read", file, "--summary", "--json", "--config", cfg]).stdout);
    expect(s.vhids[0].auth).toMatchObject({ vips_source: "config", vips: ["198.51.100.30", "2001:db8::30"] });
    const bad = carpCli(["inspect", "--read", file, "--config", `${dir}/missing.yaml`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^carp: --config: cannot read/);
  });

  it("--passfile holds one --pass value per line; --vip overrides the config's addresses", () => {
    const pf = `${dir}/pass.txt`;
    writeFileSync(pf, "3=cfg-pw\n4=other\n");
    const rows = jsonLines(
      carpCli(["inspect", "--read", file, "--json", "--passfile", pf, "--vip", "3=198.51.100.30", "--vip", "3=2001:db8::30", "--vip", "4=198.51.100.40"]).stdout,
    );
    expect(rows.map((r) => r.auth)).toEqual(["ok", "ok", "ok", "ok"]);
  });
});

describe("summary", () => {
  const A = "198.51.100.1", B = "198.51.100.2";
  // A (advskew 100) is master for 6 adverts; B (advskew 0) takes over and A goes quiet.
  const failover = writePcap(
    dir,
    "failover.pcap",
    byTime([
      ...series({ vhid: 7, src: A, advskew: 100, pass: "pw", v4: ["198.51.100.70"] }, T0, 6, 1 + 100 / 256),
      ...series({ vhid: 7, src: B, advskew: 0, pass: "pw", v4: ["198.51.100.70"] }, T0 + 8, 6, 1, 500n),
    ]),
  );

  it("a clean failover: master B, backup A, one transition, measured interval, B wins and why; exit 0", () => {
    const r = carpCli(["inspect", "--read", failover, "--summary", "--json", "--fail-on-problem", "--pass", "pw", "--vip", "7=198.51.100.70"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout).vhids[0];
    expect(v).toMatchObject({ vhid: 7, protocol: "carp", master: { ip: B, mac: "00:00:5e:00:01:07", since: T0 + 8 }, backups: [A] });
    expect(v).toMatchObject({ advbase: 1, advskew: 0, demote: 0, transitions: 1, problems: [] });
    expect(v.transition_log).toEqual([{ time: T0 + 8, from: A, to: B }]);
    expect(v.interval.mean_s).toBeCloseTo(1, 6);
    expect(v.interval.jitter_s).toBeCloseTo(0, 6);
    expect(v.auth).toMatchObject({ status: "ok", ok: 12, bad: 0, vips_source: "given" });
    expect(v.election.winner).toBe(B);
    expect(v.election.explanation).toMatch(/more frequent advertisements than 198\.51\.100\.1 \(advbase 1 advskew 100\)/);
  });

  it("a dual-stack master (IPv4 and IPv6 adverts) is not two masters: one row per family", () => {
    const f = writePcap(dir, "dual.pcap", byTime([
      ...series({ vhid: 5, src: A, v4: ["198.51.100.50"], v6: ["2001:db8::50"], pass: "d" }, T0, 6),
      ...series({ vhid: 5, src: "fe80::1", v4: ["198.51.100.50"], v6: ["2001:db8::50"], pass: "d" }, T0 + 0.01, 6),
    ]));
    const r = carpCli(["inspect", "--read", f, "--summary", "--json", "--fail-on-problem", "--pass", "d", "--vip", "5=198.51.100.50", "--vip", "5=2001:db8::50"]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.vhids.map((v: any) => [v.vhid, v.family, v.master.ip, v.auth.status, v.problems.length])).toEqual([
      [5, 4, A, "ok", 0],
      [5, 6, "fe80::1", "ok", 0],
    ]);
  });

  it("the table names master, backups and the election", () => {
    const r = carpCli(["inspect", "--read", failover, "--summary"]);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^VHID\s+PROTO\s+MASTER\s+MASTER MAC\s+BACKUPS SEEN/);
    expect(lines[1]).toMatch(/^7\s+carp\s+198\.51\.100\.2\s+00:00:5e:00:01:07\s+198\.51\.100\.1\s+1\/0\/0\s+1\.000s ±0\.0ms\s+1\s+unverified\s+0$/);
    expect(r.stdout).toMatch(/election: 198\.51\.100\.2 - freebsd rules/);
  });

  // Everything wrong at once on vhid 7, plus a VRRP router on vrid 7.
  const messy = byTime([
    ...series({ vhid: 7, src: A, advskew: 0 }, T0, 6, 1, 1n),
    ...series({ vhid: 7, src: B, advskew: 0, ttl: 64, srcMac: "00:00:5e:00:00:07" }, T0 + 0.5, 6, 1, 1000n),
    { time: T0 + 2.2, data: advertFrame({ vhid: 7, src: A, counter: 2n }) }, // an echo of A's second advert
    {
      time: T0 + 3.3,
      data: buildEthernet("01:00:5e:00:00:12", "00:00:5e:00:01:07", ETHERTYPE_IPV4,
        buildIpv4({ src: "198.51.100.9", dst: "224.0.0.18", proto: 112, ttl: 255,
          payload: encodeVrrpV2({ vrid: 7, priority: 100, addresses: ["198.51.100.70"], advertInt: 1 }) })),
    },
  ]);
  const messyFile = writePcap(dir, "messy.pcap", messy);

  it("flags two masters, TTL, replay, source MAC, advskew tie and the VRRP clash; --fail-on-problem exits 1", () => {
    const r = carpCli(["inspect", "--read", messyFile, "--summary", "--json", "--fail-on-problem"]);
    expect(r.code).toBe(1);
    const s = JSON.parse(r.stdout);
    const v = s.vhids.find((x: any) => x.protocol === "carp");
    const codes = v.problems.map((p: any) => p.code).sort();
    expect(codes).toEqual(["advskew-tie", "replay", "source-mac", "ttl", "two-masters", "vrrp-clash"]);
    const msg = (c: string) => v.problems.find((p: any) => p.code === c).message;
    expect(msg("two-masters")).toContain("198.51.100.1 and 198.51.100.2");
    expect(msg("source-mac")).toMatch(/00:00:5e:00:00:07 \(ucarp's/);
    expect(msg("ttl")).toContain("198.51.100.2 ttl 64");
    expect(msg("replay")).toContain("198.51.100.1");
    expect(v.election.winner).toBeNull();
    expect(v.election.tied.sort()).toEqual([A, B]);
    expect(s.vhids.find((x: any) => x.protocol === "vrrp").master.ip).toBe("198.51.100.9");
    expect(s.packets).toMatchObject({ total: 14, carp: 13, vrrp: 1 });
  });

  it("the bulk path (pcap file) and the per-packet path (stdin) give the same summary, rows and lines", () => {
    const twovips = `${dir}/twovips.pcap`;
    const cases: [string, string[]][] = [
      [messyFile, []],
      [failover, ["--pass", "pw", "--vip", "7=198.51.100.70"]],
      [failover, ["--pass", "bad", "--vip", "7=198.51.100.70"]],
      [twovips, ["--pass", "7=s3cret", "--vip", "7=198.51.100.70"]],
      [twovips, ["--pass", "s3cret"]],
    ];
    for (const [f, keys] of cases) {
      for (const mode of [["--summary", "--json"], ["--json"], []]) {
        const bulk = carpCli(["inspect", "--read", f, ...mode, ...keys]);
        const piped = carpCli(["inspect", "--read", "-", ...mode, ...keys], { input: readFileSync(f) });
        expect(bulk.code).toBe(piped.code);
        expect(bulk.stdout.length).toBeGreaterThan(0);
        expect(bulk.stdout, `${f} ${mode.join(" ")} ${keys.join(" ")}`).toBe(piped.stdout);
      }
    }
  });

  it("--count and --duration stop early", () => {
    expect(jsonLines(carpCli(["inspect", "--read", failover, "--json", "--count", "4"]).stdout)).toHaveLength(4);
    const s = JSON.parse(carpCli(["inspect", "--read", failover, "--summary", "--json", "--count", "4"]).stdout);
    expect(s.packets.total).toBe(4);
    const d = jsonLines(carpCli(["inspect", "--read", failover, "--json", "--duration", "3"]).stdout);
    expect(d.length).toBe(4); // t0, t0+1.39, t0+2.78, then t0+4.17 is the first past 3 s
  });

  it("--write saves what was read, and the copy decodes the same", () => {
    const out = `${dir}/copy.pcap`;
    const a = carpCli(["inspect", "--read", messyFile, "--json", "--write", out]);
    const b = carpCli(["inspect", "--read", out, "--json"]);
    expect(b.stdout).toBe(a.stdout);
  });
});

describe("summary: handovers and source MACs (the demo's capture)", () => {
  const H1 = "198.51.100.11", H2 = "198.51.100.12";
  const mac = (src: string) => (src === H1 ? "02:00:00:00:00:01" : "02:00:00:00:00:02");
  // `carp demo`: h1 (advskew 0) and h2 (advskew 50), our daemon sending from the interfaces' own MACs;
  // h1 is killed, comes back and preempts, then sets advskew 200 and h2 takes over.
  const timeline: [string, number, number][] = [
    [H1, 0, 0], [H1, 1.000152, 0], [H1, 2.001022, 0], [H2, 5.198628, 50], [H2, 6.394252, 50],
    [H1, 6.395994, 0], [H2, 6.396586, 50], [H1, 7.395487, 0], [H1, 8.39637, 0],
    [H1, 9.167507, 200], [H2, 9.16809, 50], [H1, 9.171378, 200], [H2, 10.363777, 50], [H2, 11.561028, 50],
  ];
  const demo = writePcap(dir, "demo.pcap", timeline.map(([src, t, advskew], i) => ({
    time: T0 + t,
    data: advertFrame({ vhid: 1, src, advskew, srcMac: mac(src), pass: "demo", v4: ["198.51.100.100"], counter: 1000n + BigInt(i) }),
  })));
  const args = ["--summary", "--json", "--fail-on-problem", "--pass", "demo", "--vip", "1=198.51.100.100"];

  it("final master h2, three transitions, overlaps as notes, own MACs as info: exit 0", () => {
    const r = carpCli(["inspect", "--read", demo, ...args]);
    expect(r.stderr).toBe("");
    const s = JSON.parse(r.stdout);
    const v = s.vhids[0];
    expect(v.master.ip).toBe(H2);
    expect(v.transition_log.map((x: any) => `${x.from}>${x.to}`)).toEqual([`${H1}>${H2}`, `${H2}>${H1}`, `${H1}>${H2}`]);
    expect(v.problems.map((p: any) => [p.code, p.severity])).toEqual([["source-mac", "info"], ["source-mac", "info"]]);
    for (const p of v.problems) expect(p.message).toContain("the interface's own MAC (ucarp/userland style)");
    expect(v.notes).toHaveLength(2);
    expect(v.notes[1]).toMatch(/^handover overlap 3\.3 ms/);
    expect(s.problems).toBe(0);
    expect(s.info).toBe(2);
    expect(r.code).toBe(0);
    // The per-packet path (stdin) agrees with the bulk path.
    expect(carpCli(["inspect", "--read", "-", ...args], { input: readFileSync(demo) }).stdout).toBe(r.stdout);
  });

  it("the table shows info and notes apart from problems", () => {
    const out = carpCli(["inspect", "--read", demo, "--summary"]).stdout;
    expect(out).toMatch(/^1\s+carp\s+198\.51\.100\.12\s+02:00:00:00:00:02\s+198\.51\.100\.11\s+1\/50\/0\s+\S+ ±\S+\s+3\s+unverified\s+0$/m);
    expect(out).toMatch(/ {2}info \[source-mac\]: adverts from 198\.51\.100\.11 use source MAC 02:00:00:00:00:01, the interface's own MAC/);
    expect(out).toMatch(/ {2}note: handover overlap 3\.3 ms/);
    expect(out).toMatch(/0 problem\(s\), 2 info$/m);
  });

  it("unicast adverts with TTL 254 (a peer across a router) are a note, not a problem; multicast ones are an error", () => {
    // FreeBSD `peer` across one hop: the router decrements the TTL; receivers with FreeBSD rules accept it.
    const A = "198.51.100.1", B = "198.51.100.2";
    const uni = writePcap(dir, "ttl-unicast.pcap", series({ vhid: 4, src: A, dst: B, ttl: 254 }, T0, 4));
    for (const read of [["--read", uni], ["--read", "-"]]) {
      const r = carpCli(["inspect", ...read, "--summary", "--json", "--fail-on-problem"], { input: readFileSync(uni) });
      expect(r.code).toBe(0);
      const s = JSON.parse(r.stdout);
      expect(s.problems).toBe(0);
      expect(s.vhids[0].problems).toEqual([]);
      expect(s.vhids[0].notes).toEqual([expect.stringMatching(/^4 unicast advert\(s\) with TTL\/hop limit ≠ 255 \(198\.51\.100\.1 ttl 254\): FreeBSD/)]);
    }
    const table = carpCli(["inspect", "--read", uni, "--summary"]).stdout;
    expect(table).toMatch(/ {2}note: 4 unicast advert\(s\) with TTL/);
    expect(table).not.toMatch(/problem \[ttl\]/);
    const multi = writePcap(dir, "ttl-multicast.pcap", series({ vhid: 4, src: A, ttl: 254 }, T0, 4));
    const m = carpCli(["inspect", "--read", multi, "--summary", "--json", "--fail-on-problem"]);
    expect(m.code).toBe(1);
    expect(JSON.parse(m.stdout).vhids[0].problems).toEqual([
      { code: "ttl", severity: "error", message: expect.stringContaining("198.51.100.1 ttl 254") },
    ]);
  });

  it("ucarp's advert MAC is named; another vhid's virtual MAC is a warning and fails --fail-on-problem", () => {
    const f = (m: string) =>
      writePcap(dir, `mac-${m.replace(/:/g, "")}.pcap`, series({ vhid: 1, src: H1, srcMac: m }, T0, 3));
    const u = carpCli(["inspect", "--read", f("00:00:5e:00:00:01"), "--summary", "--json", "--fail-on-problem"]);
    expect(u.code).toBe(0);
    expect(JSON.parse(u.stdout).vhids[0].problems[0].message).toContain("source MAC 00:00:5e:00:00:01 (ucarp's advert MAC)");
    const w = carpCli(["inspect", "--read", f("00:00:5e:00:01:02"), "--summary", "--json", "--fail-on-problem"]);
    expect(w.code).toBe(1);
    expect(JSON.parse(w.stdout).vhids[0].problems[0]).toMatchObject({ code: "source-mac", severity: "warning" });
  });
});
