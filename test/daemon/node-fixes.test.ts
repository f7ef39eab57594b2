// Defects found trying the daemon as a user would, each through a real daemon in a namespace:
// `carp set` is atomic, SIGHUP applies a changed global demotion, and status shows a negative one.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { labScope, waitFor, type Lab, type LabHost } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const { tmp, lab } = labScope("carp-node-fixes-");
const ctl = (l: Lab, h: LabHost) => join(tmp, `${h.ns}.sock`);

function status(l: Lab, h: LabHost): { globalDemotion: number; ledger: Array<Record<string, any>>; vhids: Array<Record<string, any>> } {
  const r = h.carpSync(["status", "--json", "--control", ctl(l, h)]);
  if (r.code !== 0) throw new Error(`carp status: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe("carp run: set, reload and status fixes", () => {
  requires("netns", "ours");

  test("carp set --advbase 2 --advskew 999 changes nothing (validated before anything is applied)", async () => {
    const l = lab(1, "fa");
    const [a] = l.hosts;
    const na = a.carp(["run", "-i", "eth0", "-s", a.ip4, "-v", "9", "-p", "pw", "-a", "198.51.100.109/24", "--log-format", "json", "-f", "none", "--control", ctl(l, a)]);
    await na.waitState("BACKUP", 8000);
    const r = a.carpSync(["set", "--control", ctl(l, a), "--vhid", "9", "--advbase", "2", "--advskew", "999"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^carp: --advskew: /);
    expect(status(l, a).vhids[0]).toMatchObject({ advbase: 1, advskew: 0 });
    expect(a.carpSync(["set", "--control", ctl(l, a), "--vhid", "9", "--advbase", "2", "--advskew", "30"]).code).toBe(0);
    expect(status(l, a).vhids[0]).toMatchObject({ advbase: 2, advskew: 30 });
  });

  test("SIGHUP applies a changed global demotion; status shows a negative one and its ledger entry", async () => {
    const l = lab(1, "fb");
    const [a] = l.hosts;
    const file = join(tmp, `${l.tag}.yaml`);
    const yaml = (demotion: number) =>
      `log: { format: json }\ncontrol: ${ctl(l, a)}\ndemotion: ${demotion}\nvhids:\n  - { interface: eth0, vhid: 4, advskew: 100, password: pw, addresses: ["198.51.100.104/24"] }\n`;
    writeFileSync(file, yaml(-20));
    const na = a.carp(["run", "--config", file]);
    await na.waitState("BACKUP", 8000);
    let s = status(l, a);
    expect(s.globalDemotion).toBe(-20); // was shown as 0 (max with 0)
    expect(s.ledger).toEqual([expect.objectContaining({ source: "config", value: -20 })]);
    expect(s.vhids[0]).toMatchObject({ effectiveAdvskew: 80, demotion: { global: -20, total: -20 } });
    expect(a.carpSync(["status", "--control", ctl(l, a)]).stdout).toMatch(/global demotion -20/);
    writeFileSync(file, yaml(50));
    na.kill("SIGHUP");
    await na.waitJson((e) => e.event === "reload" && String(e.msg).includes("global demotion 50"), 3000, "reload");
    expect(await waitFor(() => status(l, a).globalDemotion === 50, 2000)).toBe(true);
    s = status(l, a);
    expect(s.vhids[0]).toMatchObject({ effectiveAdvskew: 150 });
    expect(s.ledger).toEqual([expect.objectContaining({ source: "config", value: 50 })]);
  });
});
