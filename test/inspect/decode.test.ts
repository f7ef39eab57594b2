// In-process properties of the pure inspector pieces: decodeFrame and the analyzer never throw on
// arbitrary or mutated bytes, and a decoded valid advert round-trips its fields.
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Analyzer } from "../../src/inspect/analyzer.js";
import { decodeFrame } from "../../src/inspect/decode.js";
import { Keyring } from "../../src/inspect/keys.js";
import { rowJson, rowLine } from "../../src/inspect/render.js";
import { readCaptureSync } from "../../src/protocol/pcap.js";
import { advertFrame, vectors } from "./helpers.js";

const seeds = ["carp-vectors.pcap", "carp-negative.pcap", "tcpdump-vrrp.pcap", "ndpi-vrrp3.pcapng"].flatMap((f) =>
  readCaptureSync(readFileSync(join(vectors, f))).packets.map((p) => ({ linktype: p.linktype, data: Buffer.from(p.data) })),
);

function feed(linktype: number, data: Buffer, keyring: Keyring, an: Analyzer): void {
  const d = decodeFrame(1_700_000_000, linktype, data);
  if ("row" in d) {
    keyring.verifyRow(d.row, d.payload);
    an.row(d.row, d.payload);
    expect(() => JSON.parse(rowJson(d.row))).not.toThrow();
    expect(rowLine(d.row)).not.toContain("\n");
  } else if ("announcement" in d) {
    keyring.addAnnouncement(d.announcement);
    an.announcement(d.announcement);
  }
}

describe("decodeFrame / analyzer robustness", () => {
  it("mutated and truncated real frames never throw, and the summary still renders", () => {
    const keyring = new Keyring({ vhids: new Map(), defaultPassword: Buffer.from("foobar") });
    const an = new Analyzer();
    fc.assert(
      fc.property(
        fc.nat(seeds.length - 1),
        fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(200),
        fc.constantFrom(1, 113, 276, 101, 0, 228, 229, 107),
        (i, flips, cut, lt) => {
          const s = seeds[i];
          const b = Buffer.from(s.data);
          for (const [pos, val] of flips) if (pos < b.length) b[pos] = val;
          feed(Math.random() < 0.7 ? s.linktype : lt, b.subarray(0, Math.max(0, b.length - cut)), keyring, an);
        },
      ),
      { numRuns: 3000 },
    );
    expect(() => JSON.stringify(an.view())).not.toThrow();
  });

  it("random bytes on every link type never throw", () => {
    const keyring = new Keyring({ vhids: new Map() });
    const an = new Analyzer();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(1, 113, 276, 101, 0, 108, 228, 229), (bytes, lt) => {
        feed(lt, Buffer.from(bytes), keyring, an);
      }),
      { numRuns: 3000 },
    );
  });

  it("a valid advert decodes to the fields it was built from", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 255 }), fc.nat(255), fc.nat(255), fc.nat(255), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: 1, max: 255 }),
        (vhid, advbase, advskew, demote, counter, ttl) => {
          const d = decodeFrame(1, 1, advertFrame({ vhid, advbase, advskew, demote, counter, ttl, src: "198.51.100.1", pass: "x", v4: ["198.51.100.9"] }));
          if (!("row" in d)) throw new Error("not a row");
          expect(d.row).toMatchObject({ kind: "carp", vhid, advbase, advskew, demote, ttl, checksum: "ok", counter: counter.toString(16).padStart(16, "0") });
          expect(d.row.error).toBe(ttl === 255 ? null : "badttl");
        },
      ),
      { numRuns: 500 },
    );
  });
});
