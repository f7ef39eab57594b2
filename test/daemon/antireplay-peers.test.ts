// antiReplay beside a peer whose counters do not rise the FreeBSD way (ucarp): the case is detected and
// said once in the log, in `carp status` and in `carp check` (issue 11).
import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";

import { Lab, cleanupPrefix, uniquePrefix } from "../../src/lab/index.js";
import { LabNode, carpCli } from "../../src/lab/nodes.js";
import { until } from "../../src/lab/sys.js";
import { requires } from "../helpers/require.js";

let lab: Lab | null = null;
afterEach(async () => {
  await lab?.close();
  if (lab) cleanupPrefix(lab.prefix);
  lab = null;
});

describe("antiReplay with a ucarp peer", () => {
  requires("netns", "ours", "ucarp");

  it("is reported once (log, status, carp check)", async () => {
    lab = Lab.create({ prefix: uniquePrefix("carpap") });
    const u = lab.addHost("u", { addrs: ["198.51.100.41/24"] });
    const c = lab.addHost("c", { addrs: ["198.51.100.42/24"] });
    const vip = "198.51.100.140";
    const extra = ["--semantics", "freebsd", "--anti-replay"];
    const peer = new LabNode("ucarp", u, { vhid: 4, vip, advskew: 0 });
    const ours = new LabNode("carp", c, { vhid: 4, vip, advskew: 0, extraArgs: extra });
    await peer.start();
    expect(await until(() => peer.state === "MASTER", 8000)).toBe(true);
    await ours.start();
    const re = /antiReplay: 3 adverts in a row from 198\.51\.100\.41/;
    const found = await until(() => ours.proc!.lines.some((l) => re.test(l.text)), 20_000);
    if (!found) console.log(ours.proc!.lines.slice(-15).map((l) => l.text).join("\n"));
    expect(found).toBe(true);
    await new Promise((r) => setTimeout(r, 3000));
    expect(ours.proc!.lines.filter((l) => re.test(l.text))).toHaveLength(1);
    const st = ours.queryStatus() as { vhids: { antiReplay?: { warning: string | null } }[] };
    expect(st.vhids[0].antiReplay?.warning).toMatch(/198\.51\.100\.41/);
    const args = ["check", "-i", c.ifname, "-s", c.addr, "-v", "4", "-p", "carpdemo", "-a", `${vip}/32`, "--control", ours.control, ...extra];
    await ours.stop();
    const chk = spawnSync("ip", ["netns", "exec", c.ns, process.execPath, carpCli(), ...args], { encoding: "utf8" });
    expect(chk.stderr).toMatch(/carp check: warning: antiReplay: vhid 4@eth0: adverts from 198\.51\.100\.41 did not carry rising counters/);
  }, 90_000);
});
