// The inspector on VRRPv3 over IPv4 with either checksum variant (issue 13): RFC 5798's (pseudo-header) and
// the v3_checksum_as_v2 one (over the message only) both decode as valid and the second is named; a checksum
// right for neither is bad.
import { describe, expect, it } from "vitest";
import { decodeFrame } from "../../src/inspect/decode.js";
import { inetChecksum } from "../../src/protocol/checksum.js";
import { IPPROTO_CARP, buildIpv4 } from "../../src/protocol/ip.js";
import { CARP_MAC_V4, DLT_EN10MB, buildEthernet } from "../../src/protocol/link.js";
import { encodeVrrpV3 } from "../../src/protocol/vrrp.js";

const frame = (payload: Buffer) =>
  buildEthernet(CARP_MAC_V4, "00:00:5e:00:01:05", 0x0800, buildIpv4({ src: "198.51.100.11", dst: "224.0.0.18", proto: IPPROTO_CARP, payload }));
const row = (payload: Buffer) => {
  const d = decodeFrame(1_700_000_000, DLT_EN10MB, frame(payload));
  if (!("row" in d) || !d.row) throw new Error("no row");
  return d.row;
};
const pseudo = () => encodeVrrpV3({ vrid: 5, priority: 200, maxAdvertInt: 1, addresses: ["198.51.100.100"], src: "198.51.100.11" });
const v2 = () => {
  const b = pseudo();
  b.writeUInt16BE(0, 6);
  b.writeUInt16BE(inetChecksum(b), 6);
  return b;
};

describe("inspector: VRRPv3 IPv4 checksum variants", () => {
  it("pseudo-header: ok, no note", () => {
    const r = row(pseudo());
    expect([r.kind, r.checksum, r.error ?? null]).toEqual(["vrrp", "ok", null]);
    expect(r.notes.join(" ")).not.toContain("pseudo-header");
  });

  it("without the pseudo-header: ok, and named", () => {
    const r = row(v2());
    expect([r.kind, r.checksum, r.error ?? null]).toEqual(["vrrp", "ok", null]);
    expect(r.notes).toContain("checksum without the IPv4 pseudo-header (v3_checksum_as_v2 variant)");
    expect(r.notes.join(" ")).not.toContain("bad VRRP checksum");
  });

  it("right for neither: bad", () => {
    const b = v2();
    b[7] ^= 0x11;
    const r = row(b);
    expect([r.checksum, r.error]).toEqual(["bad", "badsum"]);
  });
});
