// --nomcast (ucarp -M): adverts go to Ethernet broadcast with the IP destination still the group.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { createLab, sleep, waitFor, type Lab, type LabHost } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const tmp = mkdtempSync(join(tmpdir(), "carp-nomcast-"));
const labs: Lab[] = [];
afterAll(async () => {
  await Promise.all(labs.map((l) => l.destroy()));
  rmSync(tmp, { recursive: true, force: true });
});

const run = (h: LabHost, skew: number, extra: string[]) =>
  h.carp([
    "run", "-i", "eth0", "-s", h.ip4, "-v", "9", "-p", "nomc", "-a", "198.51.100.109/24", "-b", "1", "-k", String(skew),
    "--log-format", "json", "-f", "none", "--control", join(tmp, `${h.ns}.sock`), ...extra,
  ]);

const mac = (h: LabHost) => (JSON.parse(h.exec("ip", ["-j", "link", "show", "dev", "eth0"])) as Array<{ address: string }>)[0].address;

describe("--nomcast", () => {
  requires("netns");
  test("adverts leave as Ethernet broadcast to IP 224.0.0.18; a -M backup hears them and stays BACKUP", async () => {
    const l = createLab({ hosts: 3, prefix: "nm" });
    labs.push(l);
    const [a, b, obs] = l.hosts;
    const cap = obs.spawn("tcpdump", ["-i", "eth0", "-e", "-n", "-l", "-c", "6", "ip proto 112"]);
    await sleep(500);
    const na = run(a, 10, ["-M"]);
    await na.waitState("MASTER", 6000);
    const nb = run(b, 20, ["-M"]);
    await nb.waitState("BACKUP", 3000);
    expect(await waitFor(() => cap.exit !== null, 8000)).toBe(true);
    const frames = cap.lines.filter((x) => / > .*224\.0\.0\.18/.test(x));
    expect(frames.length).toBeGreaterThanOrEqual(3);
    for (const f of frames) {
      expect(f).toContain(`${mac(a)} > ff:ff:ff:ff:ff:ff`);
      expect(f).toMatch(new RegExp(`${a.ip4.replace(/\./g, "\\.")} > 224\\.0\\.0\\.18: (CARPv2|VRRPv2|ip-proto-112)`));
    }
    // b (advskew 20) keeps hearing a's broadcast adverts: no master-down takeover in 4 s (3.08 s timeout).
    await sleep(4000);
    expect(nb.transitions("MASTER")).toEqual([]);
    na.kill();
    nb.kill();
    await Promise.all([na.exited, nb.exited]);
  });
});
