// antiReplay against live nodes in namespaces (issue 11): an attacker without the password captures an
// advert of the MASTER and rewrites it to advbase 0 / advskew 0 (the HMAC does not cover them), or replays
// captured adverts at a BACKUP while the real master is stopped. test/fixtures/carp-attacker.py does both.
import { join } from "node:path";
import { existsSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";

import { Lab, cleanupPrefix, uniquePrefix } from "../../src/lab/index.js";
import { LabNode, repoRoot } from "../../src/lab/nodes.js";
import { sleep, until } from "../../src/lab/sys.js";
import { requires } from "../helpers/require.js";

const ATTACKER = join(repoRoot, "test/fixtures/carp-attacker.py");
const AR = ["--semantics", "freebsd", "--anti-replay"];
const FB = ["--semantics", "freebsd"];

let lab: Lab | null = null;
afterEach(async () => {
  await lab?.close();
  if (lab) cleanupPrefix(lab.prefix);
  lab = null;
});

interface Pair {
  h1: LabNode;
  h2: LabNode;
  atk: ReturnType<Lab["addHost"]>;
}

async function pair(extra: string[]): Promise<Pair> {
  lab = Lab.create({ prefix: uniquePrefix("carpar") });
  const a = lab.addHost("m", { addrs: ["198.51.100.11/24"] });
  const b = lab.addHost("b", { addrs: ["198.51.100.12/24"] });
  const atk = lab.addHost("x", { addrs: ["198.51.100.66/24"] });
  const vip = "198.51.100.100";
  const h1 = new LabNode("carp", a, { vhid: 7, vip, advskew: 0, extraArgs: extra });
  const h2 = new LabNode("carp", b, { vhid: 7, vip, advskew: 100, extraArgs: extra });
  await h1.start();
  await h2.start();
  expect(await until(() => h1.refresh() === "MASTER" && h2.refresh() === "BACKUP", 10_000)).toBe(true);
  return { h1, h2, atk };
}

type Stats = { carpstats: Record<string, number>; vhids: { state: string; counters: Record<string, number>; antiReplay?: { highest: string; warning: string | null } }[] };
const stats = (n: LabNode) => n.queryStatus() as Stats;

describe("antiReplay against a live node", () => {
  requires("netns", "ours", "python3");

  it("a rewritten advert (advbase 0 / advskew 0, checksum fixed) does not make the MASTER step down; badreplay counts it", async () => {
    const { h1, h2, atk } = await pair(AR);
    const file = join(lab!.dir, "captured.hex");
    atk.exec("python3", [ATTACKER, "capture", h1.host.addr, "1", file]);
    const before = stats(h1).carpstats.badreplay;
    const attackAt = Date.now();
    atk.exec("python3", [ATTACKER, "rewrite", file, "3", "0.3"]);
    await sleep(500);
    const s1 = stats(h1);
    expect(s1.vhids[0].state).toBe("MASTER");
    expect(s1.carpstats.badreplay - before).toBe(3);
    expect(s1.vhids[0].counters.badreplay).toBeGreaterThanOrEqual(3);
    expect(BigInt(s1.vhids[0].antiReplay!.highest)).toBeGreaterThan(0n);
    expect(h1.refresh()).toBe("MASTER");
    expect(h2.refresh()).toBe("BACKUP");
    expect(h1.transitions.some((t) => t.to === "BACKUP" && t.t >= attackAt)).toBe(false);
    // The counters survive a restart: the state file holds a reserved ceiling above the last counter.
    const kept = JSON.parse(readFileSync(`${h1.control}.replay.json`, "utf8")) as { vhids: Record<string, { ceiling: string }> };
    expect(BigInt(kept.vhids["eth0/7"].ceiling)).toBeGreaterThan(BigInt(s1.vhids[0].antiReplay!.highest));
  }, 60_000);

  it("without antiReplay the same rewritten advert makes the MASTER step down (the threat)", async () => {
    const { h1, atk } = await pair(FB);
    const file = join(lab!.dir, "captured.hex");
    atk.exec("python3", [ATTACKER, "capture", h1.host.addr, "1", file]);
    atk.exec("python3", [ATTACKER, "rewrite", file, "1", "0"]);
    expect(await until(() => h1.refresh() === "BACKUP", 3000)).toBe(true);
    expect(stats(h1).carpstats.badreplay).toBe(0);
  }, 60_000);

  it("replayed adverts do not keep a BACKUP silent while the real master is stopped (without antiReplay they do)", async () => {
    for (const [extra, protectedNode] of [[AR, true], [FB, false]] as const) {
      const { h1, h2, atk } = await pair(extra);
      const file = join(lab!.dir, "captured.hex");
      atk.exec("python3", [ATTACKER, "capture", h1.host.addr, "8", file]);
      h1.proc!.signal("SIGSTOP"); // the real master stops advertising (no bow-out)
      const t0 = Date.now();
      const replay = atk.spawn("python3", [ATTACKER, "replay", file, "1"]);
      const tookOver = await until(() => h2.refresh() === "MASTER", 6000);
      const ms = Date.now() - t0;
      h1.proc!.signal("SIGCONT");
      await replay.stop(500).catch(() => undefined);
      if (protectedNode) {
        expect(tookOver).toBe(true);
        expect(ms).toBeLessThan(6000); // master-down is ~3.4 s here
        expect(stats(h2).vhids[0].counters.badreplay).toBeGreaterThanOrEqual(1);
      } else {
        expect(tookOver).toBe(false); // 8 replayed adverts, 1 s apart: silent for 6 s and more
      }
      await lab!.close();
      cleanupPrefix(lab!.prefix);
      lab = null;
    }
  }, 120_000);

  it("a restarted node refuses adverts up to the counters it kept", async () => {
    const { h1, h2, atk } = await pair(AR);
    const file = join(lab!.dir, "captured.hex");
    atk.exec("python3", [ATTACKER, "capture", h1.host.addr, "1", file]);
    await h2.stop();
    expect(existsSync(`${h2.control}.replay.json`)).toBe(true);
    await h2.start();
    expect(await until(() => h2.refresh() === "BACKUP", 8000)).toBe(true);
    atk.exec("python3", [ATTACKER, "replay", file, "0.2"]);
    // The replayed advert is counted once it has been received (a loaded host may take a while).
    await until(() => stats(h2).vhids[0].counters.badreplay >= 1, 5000);
    expect(stats(h2).vhids[0].counters.badreplay).toBe(1);
    expect(h1.refresh()).toBe("MASTER");
  }, 60_000);
});
