// Our encoder against an independent dissector: tshark decodes adverts we built (Ethernet + IPv4/IPv6,
// passwords, several VIPs, OpenBSD demote byte) and must agree on every field and on the checksum.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CARP_GROUP_V4, CARP_GROUP_V6, IPPROTO_CARP, encodeCarp } from "../../src/protocol/carp.js";
import { CarpAuth } from "../../src/protocol/hmac.js";
import { buildIpv4, buildIpv6 } from "../../src/protocol/ip.js";
import { CARP_MAC_V4, CARP_MAC_V6, DLT_EN10MB, buildEthernet } from "../../src/protocol/link.js";
import { encodePcap } from "../../src/protocol/pcap.js";
import { requires, unmet } from "../helpers/require.js";

const TSHARK = "/usr/bin/tshark";

interface Case {
  family: 4 | 6;
  vhid: number;
  advskew: number;
  advbase: number;
  demote: number;
  counter: bigint;
  password: string;
  v4: string[];
  v6: string[];
  semantics?: "freebsd" | "openbsd";
  corruptChecksum?: boolean;
}

const cases: Case[] = [
  { family: 4, vhid: 1, advskew: 0, advbase: 1, demote: 0, counter: 1n, password: "", v4: ["198.51.100.10"], v6: [] },
  { family: 4, vhid: 42, advskew: 100, advbase: 2, demote: 0, counter: 0xfedcba9876543210n, password: "s3cret", v4: ["203.0.113.9", "198.51.100.10", "203.0.113.1"], v6: [] },
  { family: 4, vhid: 200, advskew: 240, advbase: 5, demote: 7, counter: 0xffffffffffffffffn, password: "a very long passphrase indeed", v4: ["198.51.100.20"], v6: ["2001:db8::20"], semantics: "openbsd" },
  { family: 6, vhid: 7, advskew: 10, advbase: 1, demote: 0, counter: 0x1122334455667788n, password: "v6pass", v4: [], v6: ["2001:db8::7", "fe80::7"] },
  { family: 6, vhid: 255, advskew: 255, advbase: 255, demote: 3, counter: 2n ** 53n + 1n, password: "bow-out", v4: ["198.51.100.30"], v6: ["2001:db8:1::30", "2001:db8::30"], semantics: "openbsd" },
  // A control: a wrong checksum that tshark must flag, so the "good" assertions above can fail.
  { family: 4, vhid: 3, advskew: 0, advbase: 1, demote: 0, counter: 5n, password: "x", v4: ["198.51.100.3"], v6: [], corruptChecksum: true },
];

function frameOf(c: Case): { frame: Buffer; hmac: Buffer } {
  const auth = CarpAuth.create({ vhid: c.vhid, v4: c.v4, v6: c.v6, password: c.password, semantics: c.semantics });
  if (!(auth instanceof CarpAuth)) throw new Error(auth.error);
  const hmac = auth.sign(c.counter);
  const carp = encodeCarp({ vhid: c.vhid, advskew: c.advskew, advbase: c.advbase, demote: c.demote, counter: c.counter, hmac });
  if (c.corruptChecksum) carp.writeUInt16BE(carp.readUInt16BE(6) ^ 0x0101, 6);
  const src = `00:00:5e:00:01:${c.vhid.toString(16).padStart(2, "0")}`;
  const frame =
    c.family === 4
      ? buildEthernet(CARP_MAC_V4, src, 0x0800, buildIpv4({ src: "198.51.100.2", dst: CARP_GROUP_V4, proto: IPPROTO_CARP, payload: carp, tos: 0x10 }))
      : buildEthernet(CARP_MAC_V6, src, 0x86dd, buildIpv6({ src: "2001:db8::2", dst: CARP_GROUP_V6, nextHeader: IPPROTO_CARP, payload: carp }));
  return { frame, hmac };
}

const fields = [
  "carp.version", "carp.type", "carp.vhid", "carp.advskew", "carp.authlen", "carp.demotion", "carp.adver_int",
  "carp.counter", "carp.checksum.status", "carp.hmac", "ip.checksum.status",
];

describe("tshark decodes our adverts", () => {
  requires("tshark");
  const dir = mkdtempSync(join(tmpdir(), "carp-tshark-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("every field matches and the checksums are good (bad only for the control)", () => {
    const built = cases.map(frameOf);
    const file = join(dir, "ours.pcap");
    writeFileSync(file, encodePcap(built.map((b, i) => ({ time: 1_700_000_000 + i, data: b.frame })), DLT_EN10MB));
    const r = spawnSync(
      TSHARK,
      ["-n", "-r", file, "-d", "ip.proto==112,carp", "-o", "ip.check_checksum:TRUE", "-T", "fields", "-E", "separator=|",
        ...fields.flatMap((f) => ["-e", f])],
      { encoding: "utf8", env: { ...process.env, HOME: dir } },
    );
    expect(r.status, r.stderr).toBe(0);
    if (process.env.SHOW_TSHARK) console.log(r.stdout);
    const rows = r.stdout.trim().split("\n").map((l) => l.split("|"));
    expect(rows.length).toBe(cases.length);
    rows.forEach((row, i) => {
      const c = cases[i];
      const got = Object.fromEntries(fields.map((f, j) => [f, row[j]]));
      expect(got).toMatchObject({
        "carp.version": "2",
        "carp.type": "1",
        "carp.vhid": String(c.vhid),
        "carp.advskew": String(c.advskew),
        "carp.authlen": "7",
        "carp.demotion": String(c.demote),
        "carp.adver_int": String(c.advbase),
        "carp.counter": c.counter.toString(),
        "carp.hmac": built[i].hmac.toString("hex"),
        // Wireshark's checksum status: 1 = good, 0 = bad.
        "carp.checksum.status": c.corruptChecksum ? "0" : "1",
      });
      if (c.family === 4) expect(got["ip.checksum.status"]).toBe("1");
    });
  });

  it(
    "tcpdump -v -T carp agrees on vhid/advbase/advskew/counter and flags only the control's checksum",
    () => {
      expect(unmet("tcpdump")).toBeNull();
      const built = cases.map(frameOf);
      const file = join(dir, "ours-tcpdump.pcap");
      writeFileSync(file, encodePcap(built.map((b, i) => ({ time: 1_700_000_000 + i, data: b.frame })), DLT_EN10MB));
      const r = spawnSync("tcpdump", ["-n", "-v", "-T", "carp", "-r", file], { encoding: "utf8", env: { ...process.env, TZ: "UTC" } });
      expect(r.status, r.stderr).toBe(0);
      // tcpdump's quirk: a bad checksum note sits between authlen and counter with no space after it.
      const text = r.stdout;
      const adverts = [...text.matchAll(/CARPv2-advertise 36: vhid=(\d+) advbase=(\d+) advskew=(\d+) authlen=7 (?: \(bad carp cksum [0-9a-f]+!\))?counter=(\d+)/g)];
      expect(adverts.length).toBe(cases.length);
      adverts.forEach((m, i) => {
        const c = cases[i];
        expect([Number(m[1]), Number(m[2]), Number(m[3]), m[4]]).toEqual([c.vhid, c.advbase, c.advskew, c.counter.toString()]);
      });
      const bad = text.split("\n").filter((l) => l.includes("bad carp cksum"));
      expect(bad.length).toBe(1);
      expect(bad[0]).toContain("vhid=3 ");
    },
  );
});
