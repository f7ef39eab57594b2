// VRRPv3 mode configuration (issue 13): YAML version/vrrpprio/vrrpinterval/vrrpChecksum, FreeBSD rc.conf
// `carpver 3 vrrpprio N vrrpinterval CS`, and --vrrp3 --vrrpprio --vrrpinterval --vrrp-checksum.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { carpCli } from "../../src/lab/index.js";
import { parseRcConf } from "../../src/daemon/config-rcconf.js";
import { parseYamlConfig } from "../../src/daemon/config-yaml.js";
import { loadConfigFromArgv } from "../../src/daemon/config-ucarp.js";

const yaml = (vhid: string) => parseYamlConfig(`vhids:\n  - interface: eth0\n    vhid: 7\n    addresses: [198.51.100.50/24]\n${vhid}`);

describe("VRRPv3 configuration", () => {
  it("YAML: version 3 with FreeBSD's names, defaults 100/100 cs and the pseudo-header checksum", () => {
    const r = yaml("    version: 3\n    vrrpprio: 200\n    vrrpinterval: 1\n");
    expect(r.ok && r.value.vhids[0].vrrp).toEqual({ priority: 200, intervalCs: 1, checksum: "pseudo" });
    const d = yaml("    version: 3\n    vrrpChecksum: v2\n");
    expect(d.ok && d.value.vhids[0].vrrp).toEqual({ priority: 100, intervalCs: 100, checksum: "v2" });
    const c = yaml("");
    expect(c.ok && c.value.vhids[0].vrrp).toBeUndefined();
  });

  it.each([
    ["    version: 3\n    vrrpprio: 0\n", "vhids[0].vrrpprio: must be 1-255 (255 = address owner), got 0"],
    ["    version: 3\n    vrrpinterval: 4096\n", "vhids[0].vrrpinterval: must be 1-4095 centiseconds, got 4096"],
    ["    version: 3\n    password: secret\n", "vhids[0].password: VRRPv3 has no authentication: remove the password for a vhids[0].version 3 vhid"],
    ["    version: 3\n    advskew: 10\n", "vhids[0].advskew: CARP only; a vhids[0].version 3 vhid uses vhids[0].vrrpinterval and vhids[0].vrrpprio"],
    ["    version: 3\n    semantics: ucarp\n", "vhids[0].semantics: a vhids[0].version 3 vhid speaks VRRPv3, not ucarp CARP"],
    ["    version: 3\n    vrrpChecksum: none\n", 'vhids[0].vrrpChecksum: must be pseudo or v2, got "none"'],
    ["    vrrpprio: 10\n", "vhids[0].vrrpprio: needs VRRPv3 mode (vhids[0].version 3)"],
    ["    version: 4\n", "vhids[0].version: must be 2-3 (2 = CARP, 3 = VRRPv3), got 4"],
  ])("YAML refuses %j", (extra, error) => {
    const r = yaml(extra);
    expect(r.ok ? "accepted" : r.error).toBe(error);
  });

  it("rc.conf: the FreeBSD line `inet vhid 1 carpver 3 vrrpprio 150 vrrpinterval 10`", () => {
    const r = parseRcConf(`ifconfig_em0_alias0="inet vhid 1 carpver 3 vrrpprio 150 vrrpinterval 10 alias 198.51.100.50/32"\n`);
    expect(r.ok && r.value.vhids[0]).toMatchObject({ interface: "em0", vhid: 1, vrrp: { priority: 150, intervalCs: 10, checksum: "pseudo" } });
    const bad = parseRcConf(`ifconfig_em0_alias0="inet vhid 1 carpver 3 pass x 198.51.100.50/32"\n`);
    expect(bad.ok ? "accepted" : bad.error).toBe("ifconfig_em0_alias0 pass: VRRPv3 has no authentication: remove the password for a ifconfig_em0_alias0 carpver 3 vhid");
  });

  it("command line: --vrrp3 --vrrpprio --vrrpinterval --vrrp-checksum", () => {
    const r = loadConfigFromArgv(["--interface", "eth0", "--vhid", "3", "--addr", "198.51.100.50", "--vrrp3", "--vrrpprio", "254", "--vrrpinterval", "5", "--vrrp-checksum", "v2"]);
    expect(r.ok && !r.value.help && r.value.vhids[0].vrrp).toEqual({ priority: 254, intervalCs: 5, checksum: "v2" });
    const bad = loadConfigFromArgv(["--interface", "eth0", "--vhid", "3", "--addr", "198.51.100.50", "--vrrpprio", "254"]);
    expect(bad.ok ? "accepted" : bad.error).toBe("--vrrpprio: needs VRRPv3 mode (--vrrp3)");
  });
});

describe("carp check on a VRRPv3 vhid", () => {
  const check = (...args: string[]) => spawnSync(process.execPath, [carpCli(), "check", "-i", "lo", "-s", "127.0.0.1", "-v", "1", "-a", "198.51.100.1", "--control", "/tmp/carp-vrrp3-check-test.sock", ...args], { encoding: "utf8" });

  it("prints priority, interval, checksum and that there is no authentication", () => {
    const r = check("--vrrp3", "--vrrpprio", "150", "--vrrpinterval", "5");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("VRRPv3 priority 150 interval 5 cs preempt off IPv4 checksum RFC 5798 (pseudo-header); no authentication: VRRPv3 has none");
    expect(r.stdout).not.toContain("advskew");
  });

  it("refuses a password with exit 2 and one line", () => {
    const r = check("--vrrp3", "-p", "secret");
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe("carp check: --pass: VRRPv3 has no authentication: remove the password for a --vrrp3 vhid");
  });
});
