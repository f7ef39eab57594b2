// VRRPv3 mode against FRR's vrrpd (Debian frr 8.4) in namespaces (issue 13), IPv4 at 100 ms: the higher
// priority is MASTER either way round, a crash hands over within master-down (+ a loose bound; printed),
// preempt hands back, a graceful stop of ours (priority 0) hands over at once. FRR 8.4 has no
// `checksum-with-ipv4-pseudoheader` switch yet (later FRR has): it refuses our vrrpChecksum v2 adverts.
import { existsSync } from "node:fs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AdvertCapture, Lab, cleanupPrefix, measureTakeover, uniquePrefix } from "../../src/lab/index.js";
import { enteredAt, startFrrVrrp3, startOursVrrp3, waitState } from "../../src/lab/vrrp3.js";
import { vrrpMasterDownUs } from "../../src/core/vrrp.js";
import { requires } from "../helpers/require.js";

let lab: Lab | null = null;
const cleanups: (() => void)[] = [];
afterEach(async () => {
  await lab?.close();
  if (lab) cleanupPrefix(lab.prefix);
  lab = null;
  for (const c of cleanups.splice(0)) c();
});

const CS = 10;
const SLACK_MS = 250;
const VIP = "198.51.100.100";

function hosts() {
  lab = Lab.create({ prefix: uniquePrefix("vrrpfrr") });
  return { a: lab.addHost("a", { addrs: ["198.51.100.11/24"] }), b: lab.addHost("b", { addrs: ["198.51.100.12/24"] }) };
}

describe("VRRPv3 against FRR vrrpd", () => {
  requires("netns", "ours", "tcpdump");
  beforeAll(() => {
    // Not on PATH: FRR's daemons live in /usr/lib/frr (Debian package frr, installed by scripts/test-deps.sh).
    if (!existsSync("/usr/lib/frr/vrrpd") || !existsSync("/usr/lib/frr/zebra")) throw new Error("missing FRR (/usr/lib/frr/vrrpd, zebra): apt-get install frr");
  });

  it("ours MASTER (200) / FRR BACKUP (100): crash, preempt back, graceful stop", async () => {
    const { a, b } = hosts();
    const cap = await AdvertCapture.start(a, { decode: "vrrp" }); // FRR sends on its macvlan: watch from a
    const f = await startFrrVrrp3(b, { vrid: 7, vip: VIP, priority: 100, intervalCs: CS });
    cleanups.push(f.cleanup);
    expect(await waitState(f, "BACKUP", 8000)).toBe(true);
    let ours = startOursVrrp3(a, { vrid: 7, vip: VIP, priority: 200, intervalCs: CS, preempt: true });
    expect(await waitState(ours, "MASTER", 8000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect([ours.state, f.state]).toEqual(["MASTER", "BACKUP"]);

    const md = vrrpMasterDownUs(100, CS) / 1000;
    const t0 = Date.now();
    ours.proc.signal("SIGKILL");
    expect(await waitState(f, "MASTER", md + 3000)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    const firstFrr = cap.adverts.find((x) => x.vhid === 7 && x.src !== a.addr && x.t >= t0);
    const m = firstFrr ? measureTakeover(cap.adverts, 7, firstFrr.src, t0) : null;
    console.log(`[vrrp3 frr] ours crashed -> FRR's first advert ${m?.gapMs.toFixed(1)} ms after our last (master-down ${md.toFixed(1)} ms)`);
    expect(m).not.toBeNull();
    expect(m!.gapMs).toBeGreaterThan(md - 5);
    expect(m!.gapMs).toBeLessThanOrEqual(md + SLACK_MS);
    a.ip("addr", "del", `${VIP}/32`, "dev", "eth0");

    ours = startOursVrrp3(a, { vrid: 7, vip: VIP, priority: 200, intervalCs: CS, preempt: true });
    expect(await waitState(ours, "MASTER", 8000)).toBe(true);
    expect(await waitState(f, "BACKUP", 3000)).toBe(true);

    const t1 = Date.now();
    ours.proc.signal("SIGTERM");
    expect(await waitState(f, "MASTER", 3000)).toBe(true);
    const bow = enteredAt(f, "MASTER", t1)! - t1;
    console.log(`[vrrp3 frr] ours stopped (priority 0) -> FRR MASTER after ${bow} ms (master-down ${md.toFixed(1)} ms)`);
    expect(bow).toBeLessThan(md);
    expect(f.proc.lines.filter((l) => /checksum|invalid|malformed|discard/i.test(l.text)).map((l) => l.text)).toEqual([]);
  }, 60_000);

  it("FRR MASTER (200) / ours BACKUP (100): crash, preempt back; ours reports FRR's checksum variant", async () => {
    const { a, b } = hosts();
    const cap = await AdvertCapture.start(a, { decode: "vrrp" });
    const f = await startFrrVrrp3(b, { vrid: 8, vip: VIP, priority: 200, intervalCs: CS });
    cleanups.push(f.cleanup);
    expect(await waitState(f, "MASTER", 8000)).toBe(true);
    const ours = startOursVrrp3(a, { vrid: 8, vip: VIP, priority: 100, intervalCs: CS, preempt: true });
    expect(await waitState(ours, "BACKUP", 8000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect([ours.state, f.state]).toEqual(["BACKUP", "MASTER"]);
    expect(ours.proc.lines.some((l) => l.text.includes("uses the RFC 5798 checksum (with pseudo-header)"))).toBe(true);

    const md = vrrpMasterDownUs(100, CS) / 1000;
    const t0 = Date.now();
    f.proc.signal("SIGKILL");
    expect(await waitState(ours, "MASTER", md + 3000)).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    const m = measureTakeover(cap.adverts, 8, a.addr, t0);
    console.log(`[vrrp3 frr] FRR crashed -> our first advert ${m?.gapMs.toFixed(1)} ms after its last (master-down ${md.toFixed(1)} ms)`);
    expect(m).not.toBeNull();
    expect(m!.gapMs).toBeGreaterThan(md - 5);
    expect(m!.gapMs).toBeLessThanOrEqual(md + SLACK_MS);

    f.restart();
    expect(await waitState(ours, "BACKUP", 8000)).toBe(true);
    expect(await waitState(f, "MASTER", 3000)).toBe(true);
  }, 60_000);

  it("FRR 8.4 (no checksum-with-ipv4-pseudoheader command yet) refuses our vrrpChecksum v2 adverts", async () => {
    const { a, b } = hosts();
    const f = await startFrrVrrp3(b, { vrid: 9, vip: VIP, priority: 100, intervalCs: CS });
    cleanups.push(f.cleanup);
    expect(await waitState(f, "MASTER", 8000)).toBe(true);
    const ours = startOursVrrp3(a, { vrid: 9, vip: VIP, priority: 200, intervalCs: CS, preempt: true, checksum: "v2" });
    expect(await waitState(ours, "MASTER", 8000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect([ours.state, f.state]).toEqual(["MASTER", "MASTER"]); // FRR discards ours: two masters
    // We accept FRR's (pseudo-header) adverts all the same, and say so.
    expect(ours.proc.lines.some((l) => l.text.includes("uses the RFC 5798 checksum (with pseudo-header)"))).toBe(true);
  }, 60_000);
});
