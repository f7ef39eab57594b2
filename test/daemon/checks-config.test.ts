// YAML `checks:`, `track:`, `group:`, preemptDelay, startBackup, garpRefresh/garpRepeat.
import { describe, expect, it } from "vitest";
import { parseYamlConfig } from "../../src/daemon/config-yaml.js";

const base = (extra: string, vhid = "") => `${extra}
vhids:
  - { vhid: 1, interface: eth0, addresses: [198.51.100.10/24]${vhid} }
`;

describe("checks in YAML", () => {
  it("parses the four kinds, per-vhid and global track, groups and preemption options", () => {
    const r = parseYamlConfig(
      base(
        `checks:
  web:    { script: "/usr/local/bin/check-web", interval: 2, timeout: 1, fall: 2, rise: 2, weight: 240 }
  uplink: { interface: eth1, weight: 240 }
  maint:  { file: /run/carp/maintenance }
  db:     { process: postgres, weight: 100 }
  argv:   { script: [/bin/check, --x], interval: 0.5 }
track: [maint]`,
        ", track: [web, uplink, db, argv], group: web, preemptDelay: 1.5, startBackup: true, garpRefresh: 10, garpRepeat: 3",
      ),
    );
    if (!r.ok) throw new Error(r.error);
    const c = r.value;
    expect(c.track).toEqual(["maint"]);
    expect(c.checks!.map((x) => [x.name, x.kind, x.intervalMs, x.timeoutMs, x.fall, x.rise, x.weight])).toEqual([
      ["web", "script", 2000, 1000, 2, 2, 240],
      ["uplink", "interface", 1000, 1000, 1, 1, 240],
      ["maint", "file", 1000, 1000, 1, 1, 240],
      ["db", "process", 1000, 1000, 1, 1, 100],
      ["argv", "script", 500, 500, 1, 1, 240],
    ]);
    expect(c.checks![4].script).toEqual(["/bin/check", "--x"]);
    const v = c.vhids[0];
    expect([v.track, v.groups, v.preemptDelayMs, v.startBackup, v.garpRefreshMs, v.garpRepeat]).toEqual([["web", "uplink", "db", "argv"], ["web"], 1500, true, 10_000, 3]);
    expect(r.warnings).toEqual([]);
  });

  it.each([
    [`checks:\n  x: { script: a, file: /b }`, "", /^checks\.x: give exactly one of script, interface, file, process \(got script, file\)$/],
    [`checks:\n  x: { file: rel }`, "", /^checks\.x\.file: an absolute path$/],
    [`checks:\n  x: { process: /usr/bin/pg }`, "", /^checks\.x\.process: a process name/],
    [`checks:\n  x: { script: a, interval: 0 }`, "", /^checks\.x\.interval: must be 0\.1-3600 seconds/],
    [`checks:\n  x: { script: a, colour: red }`, "", /^checks\.x\.colour: unknown key$/],
    [`checks:\n  x: { script: a }\ntrack: [y]`, "", /^track: no check named "y" under checks$/],
    [`checks:\n  x: { script: a }`, ", track: [z]", /^vhids\[0\]\.track: no check named "z" under checks$/],
    ["", ", group: 'a b'", /^vhids\[0\]\.group: not a group name/],
    ["", ", preemptDelay: -1", /^vhids\[0\]\.preemptDelay: must be 0-86400 seconds, got -1$/],
    ["", ", garpRepeat: 0", /^vhids\[0\]\.garpRepeat: must be 1-100, got 0$/],
  ])("rejects %j %j with one line", (top, vhid, re) => {
    const r = parseYamlConfig(base(top, vhid));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(re);
  });

  it("warns about a check no vhid tracks", () => {
    const r = parseYamlConfig(base(`checks:\n  lonely: { file: /tmp/x }`));
    expect(r.ok && r.warnings).toEqual(["checks.lonely: tracked by no vhid (add it to track), it runs without effect"]);
  });
});
