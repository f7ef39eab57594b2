// Gratuitous ARP and unsolicited NA: the bytes we build are what tcpdump expects, and our parsers read them back.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";

import { buildArp, buildGratuitousArp, parseArp, parseGratuitousArp } from "../../src/protocol/arp.js";
import { parseFrame, virtualMac } from "../../src/protocol/link.js";
import { buildNaPacket, buildUnsolicitedNa, parseNeighborAdvert, parseUnsolicitedNa } from "../../src/protocol/ndp.js";
import { encodePcap } from "../../src/protocol/pcap.js";
import { writeFileSync } from "node:fs";

const tmp = mkdtempSync(path.join(tmpdir(), "carp-arpndp-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function tcpdump(frames: Buffer[], args: string[] = ["-n", "-v", "-e"], linktype = 1): string[] {
  const file = path.join(tmp, `t${Math.random().toString(36).slice(2)}.pcap`);
  writeFileSync(file, encodePcap(frames.map((data, i) => ({ time: 1700000000 + i, data })), linktype));
  const out = execFileSync("tcpdump", [...args, "-r", file], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  return out.split(/\n(?=\d\d:\d\d)/).map((s) => s.replace(/\s+/g, " ").trim()).filter(Boolean);
}

describe("gratuitous ARP", () => {
  const vmac = virtualMac(7);

  it("tcpdump prints 'Request who-has X tell X', broadcast, from the given MAC", () => {
    const frames = [
      buildGratuitousArp({ vip: "198.51.100.7", mac: vmac }),
      buildGratuitousArp({ vip: "203.0.113.1", mac: "02:11:22:33:44:55", targetMac: "02:11:22:33:44:55", vlan: [42] }), // ucarp style
    ];
    const out = tcpdump(frames);
    expect(out.length).toBe(2);
    expect(out[0]).toContain(`${vmac} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806)`);
    expect(out[0]).toContain("Request who-has 198.51.100.7 tell 198.51.100.7");
    expect(out[1]).toContain("vlan 42");
    expect(out[1]).toContain("Request who-has 203.0.113.1 (02:11:22:33:44:55) tell 203.0.113.1");
  });

  it("parses back: VIP and MAC; normal ARP requests are not gratuitous", () => {
    const f = buildGratuitousArp({ vip: "198.51.100.7", mac: vmac, vlan: [5] });
    expect(parseGratuitousArp(1, f)).toEqual({ vip: "198.51.100.7", mac: vmac, srcMac: vmac, op: 1, vlan: [5] });
    expect(parseFrame(1, f)).toMatchObject({ error: "notip", ethertype: 0x0806 });
    const ask = buildGratuitousArp({ vip: "198.51.100.7", mac: vmac });
    buildArp(1, vmac, "198.51.100.7", "00:00:00:00:00:00", "198.51.100.8").copy(ask, 14);
    expect(parseGratuitousArp(1, ask)).toBeNull();
    expect(tcpdump([ask])[0]).toContain("Request who-has 198.51.100.8 tell 198.51.100.7");
    expect(parseArp(ask.subarray(14))).toMatchObject({ op: 1, senderIp: "198.51.100.7", targetIp: "198.51.100.8" });
    expect(parseArp(ask.subarray(14, 30))).toMatchObject({ error: "truncated" });
  });

  it("byte layout: request opcode, sender = target IP, zero target MAC by default", () => {
    const f = buildGratuitousArp({ vip: "198.51.100.7", mac: vmac });
    expect(f.toString("hex")).toBe(
      "ffffffffffff" + "00005e000107" + "0806" + "0001" + "0800" + "06" + "04" + "0001" + "00005e000107" + "c6336407" + "000000000000" + "c6336407",
    );
  });
});

describe("unsolicited neighbour advertisement", () => {
  const vmac = virtualMac(9);

  it("tcpdump prints 'neighbor advertisement, tgt is X', Flags [override], hlim 255, correct checksum", () => {
    const frames = [
      buildUnsolicitedNa({ target: "2001:db8::9", mac: vmac }),
      buildUnsolicitedNa({ target: "2001:db8::a", mac: vmac, src: "fe80::1", router: true, vlan: [12] }),
    ];
    const out = tcpdump(frames, ["-n", "-vv", "-e"]);
    expect(out.length).toBe(2);
    expect(out[0]).toContain(`${vmac} > 33:33:00:00:00:01, ethertype IPv6 (0x86dd)`);
    expect(out[0]).toContain("hlim 255");
    expect(out[0]).toContain("2001:db8::9 > ff02::1: [icmp6 sum ok] ICMP6, neighbor advertisement");
    expect(out[0]).toContain("tgt is 2001:db8::9");
    expect(out[0]).toContain("Flags [override]");
    expect(out[0]).toContain(`destination link-address option (2), length 8 (1): ${vmac}`);
    expect(out[1]).toContain("vlan 12");
    expect(out[1]).toContain("fe80::1 > ff02::1: [icmp6 sum ok]");
    expect(out[1]).toContain("Flags [router, override]");
  });

  it("parses back: VIP, MAC, flags; solicited or tampered NAs are not unsolicited", () => {
    const f = buildUnsolicitedNa({ target: "2001:db8::9", mac: vmac, src: "fe80::1" });
    expect(parseUnsolicitedNa(1, f)).toMatchObject({ vip: "2001:db8::9", mac: vmac, srcMac: vmac, override: true, router: false, solicited: false, hopLimit: 255, checksumOk: true, src: "fe80::1", dst: "ff02::1" });
    const bad = Buffer.from(f);
    bad[bad.length - 1] ^= 1; // flip a MAC bit: checksum no longer matches
    expect(parseUnsolicitedNa(1, bad)).toBeNull();
    const solicited = parseFrame(101, buildNaPacket({ target: "2001:db8::9", mac: vmac, solicited: true, dst: "2001:db8::1" }));
    if ("error" in solicited || solicited.ip.family !== 6) throw new Error("parse");
    expect(parseNeighborAdvert(solicited.ip)).toMatchObject({ solicited: true, checksumOk: true });
    expect(tcpdump([buildNaPacket({ target: "2001:db8::9", mac: vmac, solicited: true, dst: "2001:db8::1" })], ["-n", "-vv"], 101)[0]).toContain("Flags [solicited, override]");
  });

  it("truncated NAs never throw and never parse as unsolicited NAs", () => {
    const f = buildUnsolicitedNa({ target: "2001:db8::9", mac: vmac });
    for (let n = 0; n < f.length; n++) expect(parseUnsolicitedNa(1, f.subarray(0, n))).toBeNull();
    fc.assert(
      fc.property(fc.nat(f.length - 1), fc.nat(255), (o, v) => {
        const m = Buffer.from(f);
        m[o] = v;
        parseUnsolicitedNa(1, m);
        parseGratuitousArp(1, m);
      }),
      { numRuns: 2000 },
    );
  });
});
