// garpRepeat / garpRefresh on the wire: a third namespace counts the gratuitous ARPs for the VIP. The
// MASTER (garpRepeat 2, garpRefresh 1) sends its takeover round, one repeat 1 s later and one refresh a
// second while MASTER; the BACKUP (same options) sends none.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { labScope, waitFor } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const { tmp, lab } = labScope("carp-garp-rounds-");
const VIP = "198.51.100.120";

describe("garpRepeat and garpRefresh", () => {
  requires("netns", "ours");

  test("MASTER with garpRefresh 1, garpRepeat 2: takeover + repeat + a refresh a second; none from the BACKUP", async () => {
    const l = lab(3, "gr");
    const [a, b, obs] = l.hosts;
    const mac = (h: typeof a) => h.exec("cat", [`/sys/class/net/${h.ifname}/address`]).trim();
    const [macA, macB] = [mac(a), mac(b)];
    const cap = obs.spawn("tcpdump", ["-i", "eth0", "-nn", "-l", "-e", "-tt", "arp"]);
    expect(await waitFor(() => cap.errLines.some((x) => /listening on/.test(x)), 5000)).toBe(true);
    const run = (h: typeof a, skew: number) => {
      const file = join(tmp, `${h.ns}.yaml`);
      writeFileSync(file, `log: { format: json, debug: true }\ncontrol: ${join(tmp, `${h.ns}.sock`)}\nvhids:\n  - { interface: eth0, vhid: 20, advskew: ${skew}, preempt: true, password: pw, srcip: ${h.ip4}, addresses: ["${VIP}/24"], garpRefresh: 1, garpRepeat: 2 }\n`);
      return h.carp(["run", "--config", file]);
    };
    const na = run(a, 0);
    const nb = run(b, 100);
    const m = await na.waitState("MASTER", 10_000);
    await nb.waitState("BACKUP", 10_000);
    const t0 = Number(m.ts);
    await new Promise((r) => setTimeout(r, 4500));
    // "1700000000.123456 <src mac> > ff:ff:ff:ff:ff:ff, ethertype ARP ..., Request who-has VIP tell VIP"
    const garps = cap.lines.filter((x) => x.includes(`who-has ${VIP} tell ${VIP}`) || x.includes(`Reply ${VIP} is-at`));
    const from = (m: string) => garps.filter((x) => x.split(" ")[1] === m).map((x) => Number(x.split(" ")[0]) * 1000);
    const fa = from(macA).filter((t) => t >= t0 - 500);
    expect(from(macB)).toEqual([]);
    // Takeover (t0), repeat (~t0+1 s), refreshes at ~t0+1, +2, +3, +4 s: at least 5 in 4.5 s (1 without the options).
    expect(fa.length, garps.join("\n")).toBeGreaterThanOrEqual(5);
    expect(fa.filter((t) => t < t0 + 1500).length).toBeGreaterThanOrEqual(2); // takeover + repeat within 1.5 s
    expect(na.json().filter((e) => /announced \(repeat 2\)/.test(String(e.msg)))).toHaveLength(1);
    expect(na.json().filter((e) => /announced \(refresh\)/.test(String(e.msg))).length).toBeGreaterThanOrEqual(3);
    expect(nb.json().filter((e) => /announced/.test(String(e.msg)))).toHaveLength(0);
  });
});
