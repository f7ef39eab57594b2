// Virtual MAC mode seen from the control socket: `carp events` shows the VIP add/remove although the VIPs
// live on the macvlan (carp7, not eth0), and `carp status` names the macvlan, its MAC and link state.
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { labScope, waitFor, type LabHost } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const { tmp, lab } = labScope("carp-vmac-events-");
const VIP = "198.51.100.140";
const ctl = (h: LabHost) => join(tmp, `${h.ns}.sock`);

describe("--vmac: events and status", () => {
  requires("netns", "ours");

  test("vip add/remove events fire for VIPs on carp7; status shows carp7, 00:00:5e:00:01:07 and UP/DOWN", async () => {
    const l = lab(2, "ve");
    const [a, b] = l.hosts;
    const run = (h: LabHost, skew: number) =>
      h.carp(["run", "-i", "eth0", "-v", "7", "-p", "pw", "-a", `${VIP}/24`, "-k", String(skew), "-P", "--vmac", "--fix-sysctls", "--log-format", "json", "-f", "none", "--control", ctl(h)]);
    const status = (h: LabHost) => {
      const r = h.carpSync(["status", "--json", "--control", ctl(h)]);
      if (r.code !== 0) throw new Error(r.stderr);
      return JSON.parse(r.stdout).vhids[0];
    };
    const na = run(a, 10);
    await na.waitState("BACKUP", 8000);
    const ev = a.carp(["events", "--json", "--control", ctl(a)]);
    await na.waitState("MASTER", 8000);
    const nb = run(b, 20);
    await nb.waitState("BACKUP", 8000);
    const vips = () => ev.lines.flatMap((x) => { try { return [JSON.parse(x)]; } catch { return []; } }).filter((e) => e.type === "vip");
    expect(await waitFor(() => vips().some((e) => e.op === "add" && e.address === VIP), 3000)).toBe(true);
    expect(vips()[0]).toMatchObject({ interface: "eth0", vhid: 7, op: "add", address: VIP, prefix: 24 });

    expect(status(a).vmac).toMatchObject({ name: "carp7", mac: "00:00:5e:00:01:07", up: true });
    expect(status(b).vmac).toMatchObject({ name: "carp7", mac: "00:00:5e:00:01:07", up: false });
    const text = a.carpSync(["status", "--control", ctl(a)]).stdout;
    expect(text).toMatch(/addresses 198\.51\.100\.140\/24 on carp7/);
    expect(text).toMatch(/vmac carp7 00:00:5e:00:01:07 link UP/);
    expect(b.carpSync(["status", "--control", ctl(b)]).stdout).toMatch(/vmac carp7 00:00:5e:00:01:07 link DOWN/);

    // A demoted: B preempts, A's VIP goes away from carp7 and the stream says so.
    expect(a.carpSync(["set", "--control", ctl(a), "--vhid", "7", "--demote", "100"]).code).toBe(0);
    await nb.waitState("MASTER", 5000);
    expect(await waitFor(() => vips().some((e) => e.op === "remove" && e.address === VIP), 3000)).toBe(true);
    expect(await waitFor(() => status(a).vmac.up === false && status(b).vmac.up === true, 3000)).toBe(true);
    ev.kill("SIGINT");
  });
});
