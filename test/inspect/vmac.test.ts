// The inspector and virtual MAC mode: adverts from 00:00:5e:00:01:vhid raise no source-mac line; two real
// MACs answering ARP for one address close together are a warning (a frozen master still answering).
import { describe, expect, it } from "vitest";
import { Analyzer, newFacts } from "../../src/inspect/analyzer.js";
import { decodeFrame } from "../../src/inspect/decode.js";
import { ARP_REPLY, buildArp } from "../../src/protocol/arp.js";
import { buildEthernet } from "../../src/protocol/link.js";

const advert = (an: Analyzer, src: string, mac: string, time: number) => {
  const f = newFacts();
  Object.assign(f, { protocol: "carp", vhid: 9, src, time, advbase: 1, advskew: 0, mac, ctrLo: Math.round(time * 1000) });
  an.advert(f);
};

describe("inspector and virtual MAC mode", () => {
  it("no source-mac line for adverts from the virtual MAC; an info line for a real MAC", () => {
    const vm = new Analyzer();
    for (let i = 0; i < 4; i++) advert(vm, "198.51.100.11", "00:00:5e:00:01:09", 10 + i);
    expect(vm.view().vhids[0].problems.map((p) => p.code)).not.toContain("source-mac");
    const real = new Analyzer();
    for (let i = 0; i < 4; i++) advert(real, "198.51.100.11", "02:00:00:00:00:01", 10 + i);
    expect(real.view().vhids[0].problems).toContainEqual(expect.objectContaining({ code: "source-mac", severity: "info" }));
  });

  it("warns once when two real MACs answer one ARP request (replies within 0.2 s)", () => {
    const an = new Analyzer();
    an.arpReply(100, "198.51.100.109", "02:00:00:00:00:01");
    an.arpReply(101, "198.51.100.109", "02:00:00:00:00:01");
    expect(an.view().other_problems).toEqual([]);
    an.arpReply(102, "198.51.100.109", "02:00:00:00:00:02");
    an.arpReply(102.003, "198.51.100.109", "02:00:00:00:00:01");
    an.arpReply(103, "198.51.100.109", "02:00:00:00:00:02");
    an.arpReply(103.002, "198.51.100.109", "02:00:00:00:00:01");
    const p = an.view().other_problems;
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ code: "arp-conflict", severity: "warning" });
    expect(p[0].message).toContain("ARP replies for 198.51.100.109 from two real MACs (02:00:00:00:00:02, 02:00:00:00:00:01) 3.0 ms apart");
  });

  it("no warning for the virtual MAC next to a real one, nor for answers far apart (a normal failover)", () => {
    const an = new Analyzer();
    an.arpReply(100, "198.51.100.109", "00:00:5e:00:01:09");
    an.arpReply(100.5, "198.51.100.109", "02:00:00:00:00:01");
    an.arpReply(130, "198.51.100.109", "02:00:00:00:00:02");
    expect(an.view().other_problems).toEqual([]);
  });

  it("no warning for failovers back and forth seconds apart (A, then B, then A again)", () => {
    const an = new Analyzer();
    for (const t of [100, 101, 102]) an.arpReply(t, "198.51.100.109", "02:00:00:00:00:01");
    for (const t of [105.2, 106, 107]) an.arpReply(t, "198.51.100.109", "02:00:00:00:00:02");
    for (const t of [109, 110]) an.arpReply(t, "198.51.100.109", "02:00:00:00:00:01");
    expect(an.view().other_problems).toEqual([]);
  });


  it("decodes an ARP reply frame into the analyzer's input (not a shown row)", () => {
    const arp = buildArp(ARP_REPLY, "02:00:00:00:00:01", "198.51.100.109", "02:00:00:00:00:03", "198.51.100.13");
    const d = decodeFrame(5, 1, buildEthernet("02:00:00:00:00:03", "02:00:00:00:00:01", 0x0806, arp));
    expect(d).toEqual({ skip: "arp reply", arpReply: { time: 5, ip: "198.51.100.109", mac: "02:00:00:00:00:01" } });
  });
});
