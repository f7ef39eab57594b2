// Packet loss and partitions by nftables on the lab's bridge (this kernel has no netem): 30 % random loss
// for 60 s (FAULT_LOSS_S) counting false takeovers and the time with the VIP on two hosts; a partition
// (both become master) then a heal: one master again within about one advert interval.
import { execFileSync } from "node:child_process";
import { describe, expect, test } from "vitest";
import { labScope, sleep } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";
import { allAlive, flaps, masters, lastSeen, oneMaster, status, VIP4, VipWatch, masterAndBackup } from "./fault-lab.js";

const { tmp, lab } = labScope("carp-fault-loss-");
const LOSS_S = Number(process.env.FAULT_LOSS_S ?? 60);

/** Replaces the bridge's nftables table `fault` with these forward-chain rules (none: no table). */
function nft(bridgeNs: string, rules: string[]): void {
  const script = ["table bridge fault {}", "delete table bridge fault", ...(rules.length ? ["table bridge fault {", "  chain forward {", "    type filter hook forward priority 0;", ...rules.map((r) => `    ${r}`), "  }", "}"] : []), ""].join("\n");
  execFileSync("ip", ["netns", "exec", bridgeNs, "nft", "-f", "-"], { input: script });
}

describe.concurrent("loss and partitions", () => {
  requires("netns", "ours", "nft");

  test(`30 % loss for ${LOSS_S} s: false takeovers resolve, one master at the end`, async () => {
    const l = lab(2, "fl");
    const [a, b] = l.hosts;
    const { na, nb, nodes } = await masterAndBackup(tmp, a, b);
    const w = await VipWatch.start([a, b], VIP4);
    const [sa0, sb0] = await Promise.all(nodes.map(status));
    const t0 = Date.now();
    nft(l.bridgeNs, ["numgen random mod 100 < 30 drop"]);
    let sampledTwo = 0;
    while (Date.now() - t0 < LOSS_S * 1000) {
      await sleep(1000);
      if ((await masters(nodes)).length === 2) sampledTwo++;
    }
    const [sa1, sb1] = await Promise.all(nodes.map(status));
    nft(l.bridgeNs, []);
    const tEnd = Date.now();
    // The loss was real: the backup received about 70 % of what the master sent.
    const sent = sa1.carpstats.opackets - sa0.carpstats.opackets;
    const got = sb1.carpstats.ipackets - sb0.carpstats.ipackets;
    expect(got / sent).toBeGreaterThan(0.5);
    expect(got / sent).toBeLessThan(0.85);
    expect(await oneMaster(nodes, 5000), lastSeen(nodes)).toBe(0);
    await sleep(3000);
    expect(await oneMaster(nodes, 0), lastSeen(nodes)).toBe(0);
    expect(await allAlive(nodes)).toBe(true);
    const falseTakeovers = nb.p.transitions("MASTER").filter((t) => (t.ts as number) > t0).length;
    const stepDowns = nb.p.transitions("BACKUP").filter((t) => (t.ts as number) > t0).length;
    // Every false takeover ended with a step-down, and the real master never left.
    expect(stepDowns).toBe(falseTakeovers);
    expect(na.p.transitions().filter((t) => (t.ts as number) > t0)).toEqual([]);
    const overlap = w.overlapMs(t0);
    // Each episode lasts until one of the master's adverts gets through (30 % loss: ~1.4 adverts on average).
    expect(overlap).toBeLessThanOrEqual(falseTakeovers * 5000 + 500);
    expect(w.overlapMs(tEnd + 1500)).toBe(0);
    expect(w.holders()).toEqual([0]);
    console.log(`loss 30 % ${LOSS_S} s: ${falseTakeovers} false takeovers, VIP on two hosts ${overlap} ms (${(overlap / 10 / LOSS_S).toFixed(2)} % of the time), two masters in ${sampledTwo} of ${LOSS_S} 1-s samples; backup received ${got} of ${sent} adverts; flaps ${flaps(nodes, t0).length}`);
  }, LOSS_S * 1000 + 60_000);

  test("partition then heal: both master during the partition, one master within one advert interval after the heal", async () => {
    const l = lab(2, "fp");
    const [a, b] = l.hosts;
    const { nb, nodes } = await masterAndBackup(tmp, a, b);
    const w = await VipWatch.start([a, b], VIP4);
    const t0 = Date.now();
    nft(l.bridgeNs, ['iifname "ph0" oifname "ph1" drop', 'iifname "ph1" oifname "ph0" drop']);
    const took = await nb.p.waitState("MASTER", 8000, t0);
    await sleep(3000);
    expect((await masters(nodes)).sort()).toEqual([0, 1]);
    const tHeal = Date.now();
    nft(l.bridgeNs, []);
    const down = await nb.p.waitState("BACKUP", 5000, tHeal);
    const healMs = (down.ts as number) - tHeal;
    expect(healMs).toBeLessThan(2500); // one advert interval (1 s) plus a busy runner's slack
    await sleep(3000);
    expect(await oneMaster(nodes, 0), lastSeen(nodes)).toBe(0);
    expect(flaps(nodes, t0)).toEqual(["1:BACKUP->MASTER", "1:MASTER->BACKUP"]);
    expect(await allAlive(nodes)).toBe(true);
    const afterHeal = w.overlapMs(tHeal);
    expect(afterHeal).toBeLessThan(2500);
    expect(w.holders()).toEqual([0]);
    console.log(`partition: b MASTER ${(took.ts as number) - t0} ms after the partition; one master ${healMs} ms after the heal; VIP on two hosts ${w.overlapMs(t0)} ms (partition), ${afterHeal} ms after the heal`);
  });
});
