// VRRPv3 IPv4 checksum variants (issue 13): RFC 5798 with the pseudo-header (default) and the VRRPv2-style
// one over the message only (`vrrpChecksum: v2`, keepalived's v3_checksum_as_v2, FRR without
// checksum-with-ipv4-pseudoheader). Two of our nodes, one per variant, accept each other and each says which
// variant its peer uses; keepalived 2.2.7 (Debian 12) has no such option and refuses the v2 variant.
import { afterEach, describe, expect, it } from "vitest";
import { Lab, carpCli, cleanupPrefix, uniquePrefix } from "../../src/lab/index.js";
import { startKeepalivedVrrp3, startOursVrrp3, waitState } from "../../src/lab/vrrp3.js";
import { vrrpChecksumVariant } from "../../src/daemon/vrrp-io.js";
import { encodeVrrpV3 } from "../../src/protocol/vrrp.js";
import { inetChecksum } from "../../src/protocol/checksum.js";
import { requires } from "../helpers/require.js";

let lab: Lab | null = null;
afterEach(async () => {
  await lab?.close();
  if (lab) cleanupPrefix(lab.prefix);
  lab = null;
});

describe("checksum variant detection", () => {
  it("tells pseudo from v2, and neither from a broken one", () => {
    const m = encodeVrrpV3({ vrid: 1, priority: 100, addresses: ["198.51.100.50"], src: "198.51.100.7" });
    expect(vrrpChecksumVariant(m, 4, "198.51.100.7", "224.0.0.18")).toBe("pseudo");
    const v2 = Buffer.from(m);
    v2.writeUInt16BE(0, 6);
    v2.writeUInt16BE(inetChecksum(v2), 6);
    expect(vrrpChecksumVariant(v2, 4, "198.51.100.7", "224.0.0.18")).toBe("v2");
    v2[6] ^= 0x55;
    expect(vrrpChecksumVariant(v2, 4, "198.51.100.7", "224.0.0.18")).toBeNull();
    // IPv6 has only the pseudo-header form.
    const m6 = encodeVrrpV3({ vrid: 1, priority: 100, addresses: ["2001:db8::50"], src: "fe80::7" });
    expect(vrrpChecksumVariant(m6, 6, "fe80::7", "ff02::12")).toBe("pseudo");
  });
});

describe("VRRPv3 checksum variants on the wire", () => {
  requires("netns", "ours", "keepalived");

  it("ours (v2) and ours (pseudo) elect each other and report the peer's variant", async () => {
    lab = Lab.create({ prefix: uniquePrefix("vrrpck") });
    const a = lab.addHost("a", { addrs: ["198.51.100.11/24"] });
    const b = lab.addHost("b", { addrs: ["198.51.100.12/24"] });
    const hi = startOursVrrp3(a, { vrid: 3, vip: "198.51.100.100", priority: 200, intervalCs: 10, checksum: "v2" });
    const lo = startOursVrrp3(b, { vrid: 3, vip: "198.51.100.100", priority: 100, intervalCs: 10 });
    expect(await waitState(hi, "MASTER", 8000)).toBe(true);
    expect(await waitState(lo, "BACKUP", 8000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect([hi.state, lo.state]).toEqual(["MASTER", "BACKUP"]);
    const said = (r: typeof hi) => r.proc.lines.filter((l) => l.text.includes("VRRPv3 peer")).map((l) => JSON.parse(l.text).checksum as string);
    expect(said(lo)).toEqual(["v2"]);
    // lo never was MASTER, so hi heard nothing from it: its status shows no peer; lo's shows hi as v2.
    const status = JSON.parse(b.exec(process.execPath, [carpCli(), "status", "--json", "--control", lo.control!])) as { vhids: { vrrp: { peers: Record<string, string>; checksum: string } }[] };
    expect(status.vhids[0].vrrp.peers).toEqual({ "198.51.100.11": "v2" });
    expect(status.vhids[0].vrrp.checksum).toBe("pseudo");
  }, 40_000);

  it("keepalived 2.2.7 refuses the v2 variant (Invalid VRRPv3 checksum) and so becomes MASTER too", async () => {
    lab = Lab.create({ prefix: uniquePrefix("vrrpck") });
    const a = lab.addHost("a", { addrs: ["198.51.100.11/24"] });
    const b = lab.addHost("b", { addrs: ["198.51.100.12/24"] });
    const ours = startOursVrrp3(a, { vrid: 4, vip: "198.51.100.100", priority: 200, intervalCs: 10, checksum: "v2" });
    expect(await waitState(ours, "MASTER", 8000)).toBe(true);
    const k = startKeepalivedVrrp3(b, { vrid: 4, vip: "198.51.100.100", priority: 100, intervalCs: 10 });
    expect(await waitState(k, "MASTER", 8000)).toBe(true);
    expect(k.proc.lines.some((l) => /Invalid VRRPv3 checksum/.test(l.text))).toBe(true);
  }, 40_000);
});
