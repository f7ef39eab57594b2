// SIGHUP on a kept vhid: group/preemptDelay/startBackup/garpRefresh changes apply in place (the MASTER
// stays MASTER, no bow-out), a vmac change rebuilds it and the log names the field. Real daemon, namespace.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { labScope, waitFor, type Lab, type LabHost } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const { tmp, lab } = labScope("carp-reload-inplace-");
const ctl = (h: LabHost) => join(tmp, `${h.ns}.sock`);
function status(h: LabHost): { vhids: Array<Record<string, any>> } {
  const r = h.carpSync(["status", "--json", "--control", ctl(h)]);
  if (r.code !== 0) throw new Error(`carp status: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe("SIGHUP: no vhid field is silently ignored", () => {
  requires("netns", "ours");

  test("group, preemptDelay, startBackup and garpRefresh change in place on a MASTER; vmac rebuilds", async () => {
    const l: Lab = lab(1, "ri");
    const [a] = l.hosts;
    const file = join(tmp, `${l.tag}.yaml`);
    const yaml = (extra: string) =>
      `log: { format: json, debug: true }\ncontrol: ${ctl(a)}\nvhids:\n  - { interface: eth0, vhid: 5, advskew: 100, password: pw, addresses: ["198.51.100.105/24"]${extra} }\n`;
    writeFileSync(file, yaml(""));
    const na = a.carp(["run", "--config", file]);
    await na.waitState("MASTER", 10_000);
    const before = na.transitions().length;
    writeFileSync(file, yaml(", group: web, preemptDelay: 7, startBackup: true, garpRefresh: 0.5"));
    na.kill("SIGHUP");
    const rl = await na.waitJson((e) => e.event === "reload", 3000, "reload");
    expect(String(rl.msg)).toMatch(/vhid 5@eth0: updated \(garpRefreshMs, groups, preemptDelayMs, startBackup\)/);
    expect(na.transitions()).toHaveLength(before); // no bow-out and restart
    expect(status(a).vhids[0]).toMatchObject({ state: "MASTER", groups: ["web"] });
    // The new group is live: a group demotion reaches this vhid.
    expect(a.carpSync(["set", "--control", ctl(a), "--group", "web", "--demote", "50"]).code).toBe(0);
    expect(await waitFor(() => status(a).vhids[0].effectiveAdvskew === 150, 2000)).toBe(true);
    // garpRefresh 0.5 s now runs on the MASTER (the refresh timer restarted in place).
    const t0 = na.json().length;
    expect(await waitFor(() => na.json().slice(t0).filter((e) => /announced \(refresh\)/.test(String(e.msg))).length >= 2, 3000)).toBe(true);
    // vmac cannot change in place: the vhid is rebuilt and the log says why.
    writeFileSync(file, yaml(", group: web, vmac: true"));
    na.kill("SIGHUP");
    const rb = await na.waitJson((e) => e.event === "reload" && /rebuilt/.test(String(e.msg)), 5000, "second reload");
    expect(String(rb.msg)).toMatch(/vhid 5@eth0: rebuilt \(vmac changed\)/);
  });
});
