// ucarp command-line front end: every ucarp option (long, short, prefix, clustered), real command lines
// from ucarp's README and usage text, our extras, and one-line errors naming the flag.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigFromArgv, parseUcarpArgv, type LoadedArgv } from "../../src/daemon/config-ucarp.js";
import type { Config, VhidConfig } from "../../src/daemon/config.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "carp-cfg-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(argv: string[]): Config {
  const r = loadConfigFromArgv(argv);
  if (!r.ok) throw new Error(r.error);
  if (r.value.help) throw new Error("help");
  return r.value as Config;
}
const one = (argv: string[]): VhidConfig => {
  const c = load(argv);
  expect(c.vhids.length).toBe(1);
  return c.vhids[0];
};
const err = (argv: string[]): string => {
  const r = loadConfigFromArgv(argv);
  if (r.ok) throw new Error(`expected an error for ${argv.join(" ")}`);
  expect(r.error).not.toMatch(/\n/);
  return r.error;
};

describe("real ucarp command lines", () => {
  it("README: ucarp -v 42 -p love -a 10.1.1.252 -s 10.1.1.1 (plus -i)", () => {
    const v = one(["-i", "eth0", "-v", "42", "-p", "love", "-a", "10.1.1.252", "-s", "10.1.1.1"]);
    expect(v).toMatchObject({
      interface: "eth0", vhid: 42, srcip: "10.1.1.1", advbase: 1, advskew: 0, deadratio: 3, semantics: "ucarp",
      mcast: "224.0.0.18", preempt: false, neutral: false, nomcast: false, hookMode: "per-vip", manageVip: true,
    });
    expect(v.password.toString()).toBe("love");
    expect(v.addresses).toEqual([{ address: "10.1.1.252", prefix: 32, family: 4, given: "10.1.1.252" }]);
  });

  it("usage sample with long options", () => {
    const v = one([
      "--interface=eth0", "--srcip=10.1.1.1", "--vhid=1", "--pass=mypassword", "--addr=10.1.1.252",
      "--upscript=/etc/vip-up.sh", "--downscript=/etc/vip-down.sh",
    ]);
    expect(v).toMatchObject({ interface: "eth0", vhid: 1, upscript: "/etc/vip-up.sh", downscript: "/etc/vip-down.sh" });
  });

  it("every ucarp option, long form with --key value", () => {
    const pf = join(dir, "pass");
    writeFileSync(pf, "s3cret\nsecond line\n");
    const c = load([
      "--interface", "eth1", "--srcip", "192.0.2.1", "--mcast", "239.1.2.3", "--vhid", "7", "--passfile", pf,
      "--preempt", "--neutral", "--addr", "192.0.2.100", "--advbase", "2", "--advskew", "255", "--upscript", "/u",
      "--downscript", "/d", "--deadratio", "5", "--debug", "--shutdown", "--daemonize", "--ignoreifstate", "--nomcast",
      "--facility", "local3", "--xparam", "extra",
    ]);
    expect(c.vhids[0]).toMatchObject({
      interface: "eth1", srcip: "192.0.2.1", mcast: "239.1.2.3", vhid: 7, preempt: true, neutral: true, advbase: 2,
      advskew: 255, upscript: "/u", downscript: "/d", deadratio: 5, shutdownScript: true, ignoreIfState: true,
      nomcast: true, xparam: "extra",
    });
    expect(c.vhids[0].password.toString()).toBe("s3cret");
    expect(c).toMatchObject({ debug: true, daemonize: true, facility: "local3" });
  });

  it("every ucarp option, short form, clustered and attached", () => {
    const c = load([
      "-ieth1", "-s", "192.0.2.1", "-v7", "-p", "pw", "-PnDzBSM", "-a", "192.0.2.100", "-b", "3", "-k10", "-u", "/u",
      "-d", "/d", "-r", "4", "-f", "none", "-x", "x",
    ]);
    expect(c.vhids[0]).toMatchObject({
      interface: "eth1", vhid: 7, preempt: true, neutral: true, shutdownScript: true, ignoreIfState: true, nomcast: true,
      advbase: 3, advskew: 10, deadratio: 4, xparam: "x",
    });
    expect(c).toMatchObject({ debug: true, daemonize: true, facility: "none" });
    // A value-taking flag ends a cluster and takes the rest: -Pv9 = -P -v 9.
    expect(one(["-i", "e", "-Pv9", "-p", "x", "-a", "192.0.2.1"])).toMatchObject({ preempt: true, vhid: 9 });
  });

  it("--mcast is a prefix of --mcastip; unambiguous prefixes work as in getopt_long", () => {
    const base = ["--int=eth0", "--vh=3", "--pass=x", "--addr=192.0.2.5"];
    expect(one([...base, "--mcastip=239.0.0.1"]).mcast).toBe("239.0.0.1");
    expect(one([...base, "--mcast=239.0.0.2"]).mcast).toBe("239.0.0.2");
    expect(one([...base, "--mca", "239.0.0.3"]).mcast).toBe("239.0.0.3");
    expect(one([...base, "--pree", "--advb=4"])).toMatchObject({ preempt: true, advbase: 4 });
    expect(err([...base, "--adv=4"])).toBe("--adv: ambiguous, could be --advbase, --advskew");
    // Our extras never make a ucarp abbreviation ambiguous: --src still means --srcip (not --srcip6).
    expect(one([...base, "--src=192.0.2.9"]).srcip).toBe("192.0.2.9");
  });

  it("-h / --help", () => {
    const r = loadConfigFromArgv(["-h"]);
    expect(r.ok && (r.value as LoadedArgv).help).toBe(true);
    expect(parseUcarpArgv(["--help"]).ok).toBe(true);
  });

  it("passes positional junk with a warning, like ucarp ignores it", () => {
    const r = loadConfigFromArgv(["-i", "e", "-v", "1", "-p", "x", "-a", "192.0.2.1", "stray"]);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.warnings.join()).toMatch(/stray/);
  });
});

describe("extras", () => {
  it("repeatable --addr with IPv4/IPv6 and prefixes, semantics, hook mode, no-manage-vip", () => {
    const v = one([
      "-i", "eth0", "-v", "1", "-p", "x", "--addr", "198.51.100.10/24", "--addr=2001:DB8:0:0::10/64", "--semantics", "freebsd",
      "--hook-mode", "all", "--no-manage-vip", "--hook-timeout", "1500", "--peer", "198.51.100.2", "--peer6", "2001:db8::2",
      "--srcip6", "2001:db8::1", "--mcast6", "ff02::12", "--carp-name", "carp0", "--demote", "3",
    ]);
    expect(v.addresses).toEqual([
      { address: "198.51.100.10", prefix: 24, family: 4, given: "198.51.100.10" },
      { address: "2001:db8::10", prefix: 64, family: 6, given: "2001:DB8:0:0::10" },
    ]);
    expect(v).toMatchObject({
      semantics: "freebsd", hookMode: "all", manageVip: false, hookTimeoutMs: 1500, peer: "198.51.100.2",
      peer6: "2001:db8::2", srcip6: "2001:db8::1", carpName: "carp0", demote: 3,
    });
  });

  it("globals: --control, --log-format, --devd-conf, --demotion", () => {
    const c = load(["-i", "e", "-v", "1", "-p", "x", "-a", "192.0.2.1", "--control", "/tmp/c.sock", "--log-format", "json", "--devd-conf", "/etc/devd.conf", "--demotion", "-5"]);
    expect(c).toMatchObject({ control: "/tmp/c.sock", logFormat: "json", devdConf: "/etc/devd.conf", demotion: -5 });
    const d = load(["-i", "e", "-v", "1", "-p", "x", "-a", "192.0.2.1"]);
    expect(d).toMatchObject({ control: "/run/carp/carp.sock", logFormat: "text", facility: "daemon", demotion: 0 });
    expect(d.devdConf).toBeUndefined();
  });

  it("--config FILE (YAML) combined with a flag-defined vhid and global overrides", () => {
    const y = join(dir, "c.yaml");
    writeFileSync(y, `log: { format: text }\nvhids:\n  - { vhid: 2, interface: eth0, password: p, addresses: [198.51.100.2/24] }\n`);
    const c = load(["--config", y, "--log-format", "json", "-i", "eth0", "-v", "3", "-p", "q", "-a", "198.51.100.3"]);
    expect(c.vhids.map((v) => [v.vhid, v.semantics])).toEqual([[2, "freebsd"], [3, "ucarp"]]);
    expect(c.logFormat).toBe("json");
    expect(err(["--config", y, "-i", "eth0", "-v", "2", "-p", "q", "-a", "198.51.100.3"])).toBe("--vhid: vhid 2 on eth0 is configured twice");
    expect(err(["--config", join(dir, "missing.yaml")])).toMatch(/^--config: cannot read .*ENOENT/);
  });

  it("--rc-conf FILE with --interface / --carp-parent for carpN lines", () => {
    const rc = join(dir, "rc.conf");
    writeFileSync(rc, `ifconfig_carp0="vhid 1 pass FeedLucasGelato advskew 10 192.0.2.50/24"\nifconfig_carp1="vhid 2 pass x 192.0.2.51/24"\n`);
    const c = load(["--rc-conf", rc, "--interface", "em0"]);
    expect(c.vhids.map((v) => `${v.vhid}@${v.interface} ${v.carpName}`)).toEqual(["1@em0 carp0", "2@em0 carp1"]);
    const d = load(["--rc-conf", rc, "--carp-parent", "carp0=em0", "--carp-parent", "carp1=em1"]);
    expect(d.vhids.map((v) => `${v.vhid}@${v.interface}`)).toEqual(["1@em0", "2@em1"]);
    expect(err(["--rc-conf", rc])).toMatch(/carp0: parent interface of carp0 unknown: give --carp-parent carp0=IF or --interface IF/);
    expect(err(["--carp-parent", "carp0"])).toBe('--carp-parent: expected carpN=IF, got "carp0"');
  });
});

describe("errors name the flag, one line", () => {
  const ok = ["-i", "eth0", "-v", "1", "-p", "pw", "-a", "192.0.2.1"];
  const without = (flag: string) => {
    const i = ok.indexOf(flag);
    return [...ok.slice(0, i), ...ok.slice(i + 2)];
  };
  it.each([
    [["--vhid=300", ...without("-v")], "--vhid: must be 1-255, got 300"],
    [["--vhid=0", ...without("-v")], "--vhid: must be 1-255, got 0"],
    [["-v", "abc", ...without("-v")], '--vhid: must be an integer 1-255, got "abc"'],
    [["-b", "256", ...ok], "--advbase: must be 0-255, got 256"], // ucarp would wrap it to 0
    [["-k", "300", ...ok], "--advskew: must be 0-255, got 300"], // ucarp would wrap it to 44
    [["-k", "0x100", ...ok], "--advskew: must be 0-255, got 256"],
    [["-b", "300", "--semantics", "openbsd", ...ok], "--advbase: must be 0-255, got 300"],
    [["-k", "-1", ...ok], "--advskew: must be 0-255, got -1"],
    [["-b", "0", ...ok], "--advbase: advbase 0 needs a non-zero advskew (interval would be 0)"],
    [["-r", "0", ...ok], "--deadratio: must be 1-2147483647, got 0"],
    [["-p", "12345678901234567890", ...without("-p")], "--pass: at most 19 bytes, got 20"],
    [["-a", "10.1.1.300", ...without("-a")], '--addr: not an IPv4 or IPv6 address: "10.1.1.300"'],
    [["-a", "10.1.1.3/33", ...without("-a")], '--addr: prefix must be 0-32, got "33" in 10.1.1.3/33'],
    [["-s", "fe80::1", ...ok], '--srcip: not an IPv4 address: "fe80::1"'],
    [["--mcast", "10.0.0.1", ...ok], "--mcast: not an IPv4 multicast address: 10.0.0.1"],
    [without("-p"), "--pass: required (ucarp peers always authenticate)"],
    [without("-a"), "--addr: at least one virtual address is required"],
    [without("-i"), "--interface: required"],
    [without("-v"), "--vhid: required"],
    [["--bogus", ...ok], "--bogus: unknown option"],
    [["-m"], "-m (--mcast): requires a value"],
    [["-q", ...ok], "-q: unknown option"],
    [["--preempt=yes", ...ok], '--preempt: takes no value, got "yes"'],
    [["--p", ...ok], "--p: ambiguous, could be --pass, --passfile, --preempt, --peer, --peer6, --pidfile"],
    [[...ok, "--vhid"], "--vhid: requires a value"],
    [["--log-format", "xml", ...ok], '--log-format: must be text or json, got "xml"'],
    [["--semantics", "linux", ...ok], '--semantics: must be freebsd, openbsd or ucarp, got "linux"'],
    [["--hook-mode", "some", ...ok], '--hook-mode: must be per-vip or all, got "some"'],
    [["-f", "local9", ...ok], '--facility: unknown syslog facility "local9"'],
    [["-o", "/nonexistent/pw", ...without("-p")], "--passfile: cannot read /nonexistent/pw: ENOENT"],
    [["-a", "192.0.2.1", ...ok], "--addr: 192.0.2.1 listed twice"],
    [[], "--vhid: required (or --config FILE / --rc-conf FILE)"],
  ])("%j -> %s", (argv, msg) => {
    expect(err(argv as string[])).toBe(msg);
  });

  it("a repeated --peer/--peer6 is refused naming the flag (one unicast peer per vhid, like FreeBSD's peer)", () => {
    expect(err(["--peer", "198.51.100.2", "--peer", "198.51.100.3", ...ok])).toBe(
      "--peer: given twice (198.51.100.2, 198.51.100.3): a vhid has one unicast peer, like FreeBSD's peer; use multicast for more nodes",
    );
    expect(err(["--peer6=2001:db8::2", "--peer6", "2001:db8::3", ...ok])).toMatch(/^--peer6: given twice \(2001:db8::2, 2001:db8::3\): /);
    // The same address twice is harmless.
    expect(one(["--peer", "198.51.100.2", "--peer", "198.51.100.2", ...ok]).peer).toBe("198.51.100.2");
  });

  it("two IPv4 --addr on a ucarp-style command line are refused (real ucarp keeps only the last); FreeBSD rules take them all", () => {
    const msg = "--addr: 2 IPv4 addresses, but ucarp hashes one (ucarp 1.5.2 keeps only the last --addr); give one, or --semantics freebsd to hash them all";
    expect(err(["-a", "192.0.2.2", ...ok])).toBe(msg);
    expect(err(["-a", "192.0.2.2", "--semantics", "ucarp", ...ok])).toBe(msg);
    expect(one(["-a", "192.0.2.2", "--semantics", "freebsd", ...ok]).addresses.map((a) => a.address)).toEqual(["192.0.2.2", "192.0.2.1"]);
    // One IPv4 plus IPv6 stays ucarp (the IPv6 VIPs are not hashed), as before.
    expect(one(["-a", "2001:db8::5", ...ok]).semantics).toBe("ucarp");
  });

  it("reads numbers like ucarp's strtoul, with warnings, but never wraps advbase/advskew to a byte", () => {
    const r = loadConfigFromArgv(["-v", "0x10", "-k", "0x20", "-b", "012", "-r", "4x", ...without("-v")]);
    expect(r.ok).toBe(true);
    if (!r.ok || r.value.help) return;
    expect(r.value.vhids[0]).toMatchObject({ vhid: 16, advskew: 32, advbase: 10, deadratio: 4 });
    expect(r.warnings).toEqual([
      '-v (--vhid): "0x10" read as 16 (ucarp\'s strtoul)',
      '-k (--advskew): "0x20" read as 32 (ucarp\'s strtoul)',
      '-b (--advbase): "012" read as 10 (ucarp\'s strtoul)',
      '-r (--deadratio): "4x" read as 4 (ucarp\'s strtoul)',
    ]);
    expect(err(["-k", "256", ...ok])).toBe("--advskew: must be 0-255, got 256");
  });

  it("advskew 255 is ucarp-only; advbase 0 needs openbsd or ucarp", () => {
    expect(err(["-k", "255", "--semantics", "freebsd", ...ok])).toBe("--advskew: must be 0-254, got 255");
    expect(err(["-b", "0", "-k", "5", "--semantics", "freebsd", ...ok])).toBe("--advbase: must be 1-255, got 0");
    expect(one(["-b", "0", "-k", "5", "--semantics", "openbsd", ...ok]).advbase).toBe(0);
  });

  it("passfile edge cases: CRLF stripped, empty first line refused, 19 bytes accepted", () => {
    const crlf = join(dir, "crlf");
    writeFileSync(crlf, "abc\r\n");
    expect(one([...without("-p"), "-o", crlf]).password.toString()).toBe("abc");
    const empty = join(dir, "empty");
    writeFileSync(empty, "\nx\n");
    expect(err([...without("-p"), "-o", empty])).toBe(`--passfile: first line of ${empty} is empty`);
    expect(one([...without("-p"), "-p", "1234567890123456789"]).password.length).toBe(19);
    expect(err([...ok, "-o", crlf])).toBe("--passfile: give a password or a passfile, not both");
  });
});
