// No VIPs left behind (issue 11): a MASTER that dies of an uncaught exception or an unhandled rejection
// (injected from a test-only preload, test/fixtures/fault-preload.mjs) bows out and deletes its VIP before
// it exits 1 with one line, so the backup takes over at once and the VIP is never on two hosts. SIGKILL
// cannot be caught: the next start removes the VIP it left (stale-VIP cleanup).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

import { Lab, cleanupPrefix, uniquePrefix } from "../../src/lab/index.js";
import { LabNode, carpCli, repoRoot } from "../../src/lab/nodes.js";
import { until } from "../../src/lab/sys.js";
import { requires } from "../helpers/require.js";

const PRELOAD = join(repoRoot, "test/fixtures/fault-preload.mjs");
const VIP = "198.51.100.100";

let lab: Lab | null = null;
afterEach(async () => {
  await lab?.close();
  if (lab) cleanupPrefix(lab.prefix);
  lab = null;
});

describe("a MASTER that dies", () => {
  requires("netns", "ours");

  for (const kind of ["throw", "reject"] as const) {
    it(`of an ${kind === "throw" ? "uncaught exception" : "unhandled rejection"} removes its VIP, bows out and exits 1 with one line`, async () => {
      lab = Lab.create({ prefix: uniquePrefix("carpfx") });
      const a = lab.addHost("a", { addrs: ["198.51.100.11/24"] });
      const b = lab.addHost("b", { addrs: ["198.51.100.12/24"] });
      const fault = join(lab.dir, "fault-now");
      const p = a.spawn(process.execPath, ["--import", PRELOAD, carpCli(), "run", "-i", a.ifname, "-s", a.addr, "-v", "5", "-p", "pw", "-a", `${VIP}/32`, "-k", "0", "--control", join(lab.dir, "a.ctl"), "--log-format", "json"], {
        env: { ...process.env, CARP_FAULT_FILE: fault, CARP_FAULT_KIND: kind },
      });
      lab.track(p);
      const backup = new LabNode("carp", b, { vhid: 5, vip: VIP, password: "pw", advskew: 100 });
      await backup.start();
      expect(await until(() => a.has(VIP) && backup.refresh() === "BACKUP", 10_000)).toBe(true);
      const t0 = Date.now();
      writeFileSync(fault, "");
      expect(await until(() => !p.running, 5000)).toBe(true);
      expect(p.exitCode).toBe(1);
      expect(a.has(VIP)).toBe(false);
      const stderr = p.lines.filter((l) => l.stream === "stderr").map((l) => l.text);
      expect(stderr).toHaveLength(1);
      expect(stderr[0]).toMatch(new RegExp(`^carp: fatal: ${kind === "throw" ? "uncaught exception: injected fault" : "unhandled rejection: injected fault \\(rejection\\)"}; 1 bow-out advert\\(s\\) sent, VIPs removed: ${VIP.replace(/\./g, "\\.")}/32$`));
      // The bow-out makes the backup take over at once, not after master-down (~3.4 s).
      expect(await until(() => backup.refresh() === "MASTER" && b.has(VIP), 3000)).toBe(true);
      const ms = Date.now() - t0;
      expect(ms).toBeLessThan(3000);
    }, 60_000);
  }
});
