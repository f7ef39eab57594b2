// `carp check` (what a start would refuse, one line each; what would run), the capability rule, carp set's
// short flags and the journal detection. The check runs as a real process in a lab namespace.
import { chmodSync, closeSync, fstatSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { CAP_NET_ADMIN, CAP_NET_RAW, capabilityProblems, effectiveCaps } from "../../src/cli/check.js";
import { expandShortFlags } from "../../src/cli/set.js";
import { stdoutIsJournal } from "../../src/daemon/log.js";
import { labScope } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const { tmp, lab } = labScope("carp-check-test-");

describe("capabilities", () => {
  const vhid = (manageVip: boolean) => ({ vhids: [{ vhid: 7, manageVip }] }) as unknown as Parameters<typeof capabilityProblems>[0];
  const bits = (...b: number[]) => b.reduce((a, x) => a | (1n << BigInt(x)), 0n);

  test("CAP_NET_RAW always, CAP_NET_ADMIN only when carp manages the VIPs", () => {
    expect(capabilityProblems(vhid(true), bits(CAP_NET_RAW, CAP_NET_ADMIN))).toEqual([]);
    expect(capabilityProblems(vhid(true), bits(CAP_NET_RAW))).toEqual([expect.stringMatching(/^missing capability CAP_NET_ADMIN .*vhid 7/)]);
    expect(capabilityProblems(vhid(false), bits(CAP_NET_RAW))).toEqual([]);
    expect(capabilityProblems(vhid(false), 0n)).toEqual([expect.stringMatching(/^missing capability CAP_NET_RAW/)]);
    expect(capabilityProblems(vhid(true), 0n)).toHaveLength(2);
    expect(capabilityProblems(vhid(true), null)).toEqual([expect.stringMatching(/CapEff/)]);
  });

  test("reads CapEff from /proc/self/status", () => {
    expect(effectiveCaps("Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000000003000\n")).toBe(0x3000n);
    expect(effectiveCaps("Name:\tx\n")).toBeNull();
    expect(typeof effectiveCaps()).toBe("bigint");
  });
});

describe("carp set short flags", () => {
  test("-v/-i/-k/-b/-P map to the long options, values attached or separate", () => {
    expect(expandShortFlags(["-v7", "-i", "eth0", "-k", "30", "-b2", "-P", "--control", "x"])).toEqual([
      "--vhid=7", "--interface=eth0", "--advskew=30", "--advbase=2", "--preempt=on", "--control", "x",
    ]);
    expect(expandShortFlags(["-Pk", "5"])).toEqual(["--preempt=on", "--advskew=5"]);
    expect(() => expandShortFlags(["-z"])).toThrow(/-z: unknown option/);
    expect(() => expandShortFlags(["-v"])).toThrow(/-v \(--vhid\): requires a value/);
  });
});

describe("journal detection", () => {
  test("JOURNAL_STREAM must match the fd's device and inode", () => {
    const f = join(tmp, "journal");
    const fd = openSync(f, "w");
    try {
      const st = fstatSync(fd);
      expect(stdoutIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd)).toBe(true);
      expect(stdoutIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }, fd)).toBe(false);
      expect(stdoutIsJournal({}, fd)).toBe(false);
      expect(stdoutIsJournal({ JOURNAL_STREAM: "junk" }, fd)).toBe(false);
    } finally {
      closeSync(fd);
    }
  });
});

describe("carp check", () => {
  requires("netns", "ours");
  test("valid: prints what would run, exit 0; invalid: one line per problem, exit 2", () => {
    const l = lab(1, "ck");
    const [a] = l.hosts;
    const up = join(tmp, "up.sh");
    writeFileSync(up, "#!/bin/sh\n");
    chmodSync(up, 0o755);
    const pass = join(tmp, "pass");
    writeFileSync(pass, "s3cret\n");
    const ok = a.carpSync(["check", "-i", "eth0", "-v", "9", "-o", pass, "-a", "198.51.100.160/24", "-k", "20", "-u", up, "--control", join(tmp, "ck.sock")]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("vhid 9 on eth0: addresses 198.51.100.160/24");
    expect(ok.stdout).toContain("advbase 1 advskew 20 preempt off semantics ucarp");
    expect(ok.stdout).toContain(`hooks up ${up}`);
    expect(ok.stdout).toContain(`control socket ${join(tmp, "ck.sock")}`);
    expect(ok.stdout).toMatch(/configuration OK\n$/);

    const noexec = join(tmp, "down.sh");
    writeFileSync(noexec, "#!/bin/sh\n");
    chmodSync(noexec, 0o644);
    const devd = join(tmp, "devd.conf");
    writeFileSync(devd, 'notify 0 {\n  match "system" "CARP";\n  action "/nonexistent/notify-admin $subsystem";\n};\n');
    const bad = a.carpSync(["check", "-i", "nosuch0", "-v", "9", "-p", "pw", "-a", "198.51.100.160", "-d", noexec, "-u", join(tmp, "missing.sh"), "--devd-conf", devd, "--control", join(tmp, "ck.sock")]);
    expect(bad.code).toBe(2);
    const lines = bad.stderr.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/^carp check: warning: --pass: the password is visible/),
      'carp check: --interface: no such interface "nosuch0"',
      `carp check: --upscript (vhid 9): ${join(tmp, "missing.sh")}: does not exist`,
      `carp check: --downscript (vhid 9): ${noexec}: not executable`,
      `carp check: --devd-conf ${devd} line 1: action "/nonexistent/notify-admin $subsystem": /nonexistent/notify-admin: does not exist`,
    ]);
    expect(bad.stdout).toBe("");
    const usage = a.carpSync(["check", "-v", "300", "-i", "eth0"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim().split("\n")).toHaveLength(1);
  });
});
