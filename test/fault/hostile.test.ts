// Hostile adverts of every carpstats class at a MASTER and a BACKUP at once (multicast reaches both):
// badlen and badver as raw IP payloads, badsum/badauth/badttl/badvhid crafted by `carp send`. Each would
// win if accepted (advbase 0, advskew 0); the counters rise by exactly what was sent, nothing changes.
// A last, valid advert proves the same packet does win.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { labScope, sleep } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";
import { allAlive, CARP_JS, flaps, PASS, status, VIP4, VipWatch, type LabHost, masterAndBackup } from "./fault-lab.js";

const { tmp, lab } = labScope("carp-fault-hostile-");
const N = 5;

// A CARP-looking payload on a raw IPv4 socket (the kernel writes the IP header, TTL 255 to 224.0.0.18).
const RAW = `
import socket, sys, os
def csum(b):
    if len(b) % 2: b += b"\\0"
    s = sum(int.from_bytes(b[i:i+2], "big") for i in range(0, len(b), 2))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
kind, n, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if kind == "badver":   # version 1, valid checksum, 36 bytes
    p = bytearray([0x11, 1, 0, 7, 0, 0, 0, 0]) + os.urandom(28)
    p[6:8] = csum(bytes(p)).to_bytes(2, "big")
else:                  # badlen: 20 bytes of version 2, checksum wrong (not a VRRPv2 advert either)
    p = bytearray([0x21, 1, 0, 7, 0, 0, 0, 0]) + bytes(12)
    p[6:8] = (csum(bytes(p)) ^ 0x5a5a).to_bytes(2, "big")
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(src))
for _ in range(n): s.sendto(bytes(p), ("224.0.0.18", 0))
`;

function send(h: LabHost, extra: string[]): void {
  const r = h.tryExec(process.execPath, [CARP_JS, "send", "-i", "eth0", "--vhid", "1", "--advbase", "0", "--advskew", "0", "--semantics", "ucarp", "--vip", VIP4, "--pass", PASS, "-c", String(N), "--interval", "0.05", "-q", ...extra]);
  if (r.code !== 0) throw new Error(`carp send ${extra.join(" ")}: ${r.stderr.trim()}`);
}

describe("hostile adverts", () => {
  requires("netns", "ours", "python3");

  test("every carpstats class at a MASTER and a BACKUP: counters rise, state unchanged, VIP on one host", async () => {
    const l = lab(3, "fx");
    const [a, b, evil] = l.hosts;
    const raw = join(tmp, "raw.py");
    writeFileSync(raw, RAW);
    const { na, nodes } = await masterAndBackup(tmp, a, b);
    const w = await VipWatch.start([a, b], VIP4);
    const t0 = Date.now();
    const before = await Promise.all(nodes.map(status));
    const attacks: Array<[string, () => void]> = [
      ["badlen", () => evil.exec("python3", [raw, "badlen", String(N), evil.ip4])],
      ["badver", () => evil.exec("python3", [raw, "badver", String(N), evil.ip4])],
      ["badsum", () => send(evil, ["--bad-sum"])],
      ["badauth", () => send(evil, ["--bad-auth"])],
      ["badttl", () => send(evil, ["--ttl", "64"])],
      ["badvhid", () => send(evil, ["--vhid", "99"])],
    ];
    const seen: string[] = [];
    for (const [cls, attack] of attacks) {
      attack();
      await sleep(500);
      const now = await Promise.all(nodes.map(status));
      for (const [i, s] of now.entries()) {
        const delta = s.carpstats[cls] - before[i].carpstats[cls];
        seen.push(`${i === 0 ? "master" : "backup"} ${cls} +${delta}`);
        expect(delta, `${cls} on ${i === 0 ? "the master" : "the backup"}`).toBe(N);
        before[i].carpstats[cls] = s.carpstats[cls];
      }
      expect(now.map((s) => s.vhids[0].state)).toEqual(["MASTER", "BACKUP"]);
    }
    // Per-vhid counters for the classes a vhid can own.
    const sa = await status(na);
    for (const c of ["badsum", "badauth", "badttl", "badver"]) expect(sa.vhids[0].counters[c], c).toBeGreaterThanOrEqual(N);
    await sleep(1500);
    expect(flaps(nodes, t0)).toEqual([]);
    expect(w.overlapMs(t0)).toBe(0);
    expect(w.holders()).toEqual([0]);
    expect(await allAlive(nodes)).toBe(true);
    // Control: the same advert, valid, does win at once (advbase 0 beats advbase 1).
    const tc = Date.now();
    send(evil, ["-c", "1"]);
    await na.p.waitState("BACKUP", 3000, tc);
    console.log(`hostile: ${seen.join(", ")}; no transition; the valid control advert made the master step down`);
  });
});
