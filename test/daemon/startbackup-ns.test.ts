// startBackup in namespaces: a node with startBackup, preempt and the lower advskew that starts after the
// other is MASTER stays BACKUP; once it has been MASTER (the other stopped), preemption works as usual.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { labScope, waitFor, type LabHost } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const { tmp, lab } = labScope("carp-startbackup-");
const ctl = (h: LabHost) => join(tmp, `${h.ns}.sock`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("startBackup", () => {
  requires("netns", "ours");

  test("no preemption of a live master before the first time as MASTER; preemption afterwards", async () => {
    const l = lab(2, "sb");
    const [a, b] = l.hosts;
    const run = (h: LabHost, skew: number, extra: string) => {
      const file = join(tmp, `${h.ns}.yaml`);
      writeFileSync(file, `log: { format: json }\ncontrol: ${ctl(h)}\nvhids:\n  - { interface: eth0, vhid: 30, advskew: ${skew}, preempt: true, password: pw, srcip: ${h.ip4}, addresses: ["198.51.100.130/24"]${extra} }\n`);
      return h.carp(["run", "--config", file]);
    };
    const state = (h: LabHost) => JSON.parse(h.carpSync(["status", "--json", "--control", ctl(h)]).stdout).vhids[0];
    let na = run(a, 100, "");
    await na.waitState("MASTER", 10_000);
    const nb = run(b, 0, ", startBackup: true");
    await nb.waitState("BACKUP", 10_000);
    await sleep(4000); // several of A's adverts: without startBackup B (advskew 0, preempt) would take over in ~1 s
    expect(nb.transitions("MASTER")).toHaveLength(0);
    expect(state(b)).toMatchObject({ state: "BACKUP", why: expect.stringMatching(/startBackup/) });
    expect(b.carpSync(["status", "--control", ctl(b)]).stdout).toMatch(/startBackup/);
    // A stops (bow-out): B becomes MASTER, which ends its boot hold.
    na.kill("SIGTERM");
    await na.exited;
    await nb.waitState("MASTER", 5000);
    expect(state(b).why).not.toMatch(/startBackup/);
    // A comes back (advskew 100): B stays MASTER. B demoted: A preempts; B's demotion undone: B preempts back.
    na = run(a, 100, "");
    await na.waitState("BACKUP", 10_000);
    expect(b.carpSync(["set", "--control", ctl(b), "--vhid", "30", "--demote", "200"]).code).toBe(0);
    await na.waitState("MASTER", 5000);
    expect(await waitFor(() => state(b).state === "BACKUP", 3000)).toBe(true);
    const n = nb.transitions("MASTER").length;
    expect(b.carpSync(["set", "--control", ctl(b), "--vhid", "30", "--demote", "-200"]).code).toBe(0);
    expect(await waitFor(() => nb.transitions("MASTER").length === n + 1, 5000)).toBe(true);
    expect(await waitFor(() => state(a).state === "BACKUP", 3000)).toBe(true);
  });
});
