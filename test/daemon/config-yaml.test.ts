// YAML front end: the documented example, defaults merging, passfiles, binary keys, truncation warning,
// unknown keys and type errors naming the key path, YAML syntax errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { parseYamlConfig } from "../../src/daemon/config-yaml.js";
import { CARP_CLI } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";
import type { Config } from "../../src/daemon/config.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "carp-yaml-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

export const EXAMPLE = `# /etc/carp/carp.yaml
preempt: true                 # default for every vhid (like sysctl net.inet.carp.preempt=1)
demotion: 0                   # global demotion added to every advskew
control: /run/carp/carp.sock  # control socket for "carp status" etc.
devd: /etc/carp/devd.conf     # optional FreeBSD devd.conf-style rules (system=CARP / IFNET events)
log: { format: json, facility: daemon, debug: false }

defaults:                     # merged under every vhid below
  interface: eth0
  semantics: freebsd          # freebsd | openbsd | ucarp (peer's HMAC/election rules)
  hooks:
    up: /etc/carp/vip-up.sh   # argv: <interface> <vip> [xparam], once per VIP (ucarp style)
    down: /etc/carp/vip-down.sh
    mode: per-vip             # or "all": one call with every VIP in $2
    timeoutMs: 30000          # killed after this

vhids:
  - vhid: 1
    advbase: 1
    advskew: 0
    passfile: PASSFILE        # first line is the key (or password: "...")
    addresses: [198.51.100.10/24, 2001:db8::10/64]
  - vhid: 2
    advskew: 100
    password: FeedLucasGelato
    addresses: [198.51.100.20/24]
    peer: 198.51.100.3        # unicast advertisements (FreeBSD 14 peer)
    carpName: carp1           # also emit devd IFNET carp1 LINK_UP/LINK_DOWN
    manageVip: false          # the hooks add/remove the address, like ucarp
`;

function ok(text: string): Config {
  const r = parseYamlConfig(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}
const bad = (text: string) => {
  const r = parseYamlConfig(text);
  if (r.ok) throw new Error("expected error");
  expect(r.error).not.toMatch(/\n/);
  return r.error;
};

/** One alias level per letter, 9 copies each: 9^8 "lol"s once expanded. */
const aliasBomb = () => {
  const rows = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
  for (const [p, c] of [["a", "b"], ["b", "c"], ["c", "d"], ["d", "e"], ["e", "f"], ["f", "g"], ["g", "h"]]) {
    rows.push(`${c}: &${c} [${Array(9).fill(`*${p}`).join(", ")}]`);
  }
  return `${rows.join("\n")}\nvhids: *h\n`;
};

describe("YAML config", () => {
  it("parses the README example", () => {
    const pf = join(dir, "key1");
    writeFileSync(pf, "topsecret\n");
    const c = ok(EXAMPLE.replace("PASSFILE", pf));
    expect(c).toMatchObject({ preempt: true, demotion: 0, control: "/run/carp/carp.sock", devdConf: "/etc/carp/devd.conf", logFormat: "json" });
    const [a, b] = c.vhids;
    expect(a).toMatchObject({
      interface: "eth0", vhid: 1, advbase: 1, advskew: 0, preempt: true, semantics: "freebsd", hookMode: "per-vip",
      upscript: "/etc/carp/vip-up.sh", downscript: "/etc/carp/vip-down.sh", hookTimeoutMs: 30000, manageVip: true,
    });
    expect(a.password.toString()).toBe("topsecret");
    expect(a.addresses.map((x) => `${x.address}/${x.prefix}`)).toEqual(["198.51.100.10/24", "2001:db8::10/64"]);
    expect(b).toMatchObject({ vhid: 2, advskew: 100, peer: "198.51.100.3", carpName: "carp1", manageVip: false, interface: "eth0" });
    expect(b.password.toString()).toBe("FeedLucasGelato");
  });

  it("accepts binary and hex keys, truncates long passwords with a warning (like BSD ifconfig)", () => {
    const c = ok(`vhids:\n  - { vhid: 1, interface: e0, password: !!binary AAEC/w==, addresses: [192.0.2.1] }\n  - { vhid: 2, interface: e0, passwordHex: "00ff10", addresses: [192.0.2.2] }\n`);
    expect([...c.vhids[0].password]).toEqual([0, 1, 2, 255]);
    expect([...c.vhids[1].password]).toEqual([0, 255, 16]);
    const r = parseYamlConfig(`vhids: [{ vhid: 1, interface: e0, password: "abcdefghijklmnopqrstuvwxyz", addresses: [192.0.2.1] }]`);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value.vhids[0].password.toString()).toBe("abcdefghijklmnopqrs");
      expect(r.warnings).toEqual(["vhids[0].password: 26 bytes, truncated to 19 like BSD ifconfig"]);
    }
    // BSD allows no password at all.
    expect(ok(`vhids: [{ vhid: 1, interface: e0, addresses: [192.0.2.1] }]`).vhids[0].password.length).toBe(0);
  });

  it("errors name the key path", () => {
    const v = (extra: string) => `vhids:\n  - { vhid: 1, interface: e0, addresses: [192.0.2.1]${extra} }\n`;
    expect(bad(v(", advskw: 3"))).toBe("vhids[0].advskw: unknown key");
    expect(bad(v(", hooks: { upp: /x }"))).toBe("vhids[0].hooks.upp: unknown key");
    expect(bad("logg: {}\nvhids: []")).toBe("logg: unknown key");
    expect(bad("log: { colour: true }\nvhids: []")).toBe("log.colour: unknown key");
    expect(bad(v("").replace("vhid: 1", "vhid: 300"))).toBe("vhids[0].vhid: must be 1-255, got 300");
    expect(bad(v(", advskew: 255"))).toBe("vhids[0].advskew: must be 0-254, got 255");
    expect(bad(v(", advbase: 0, advskew: 3"))).toBe("vhids[0].advbase: must be 1-255, got 0");
    expect(ok(v(", advbase: 0, advskew: 3, semantics: openbsd")).vhids[0].advbase).toBe(0);
    expect(bad(v(", preempt: yes please"))).toBe('vhids[0].preempt: must be true or false, got "yes please"');
    expect(bad(v(", advskew: 1.5"))).toBe("vhids[0].advskew: must be an integer, got 1.5");
    expect(bad(v(", hooks: { mode: sometimes }"))).toBe('vhids[0].hooks.mode: must be per-vip or all, got "sometimes"');
    expect(bad(v(", hooks: { timeoutMs: 0 }"))).toBe("vhids[0].hooks.timeoutMs: must be 1-86400000, got 0");
    expect(bad(v(", state: primary"))).toBe('vhids[0].state: must be backup or master, got "primary"');
    expect(bad(v(", peer: 2001:db8::1"))).toBe('vhids[0].peer: not an IPv4 address: "2001:db8::1"');
    expect(bad(v(", peer: [198.51.100.2, 198.51.100.3]"))).toBe(
      "vhids[0].peer: one unicast peer per vhid, like FreeBSD's peer, got a list of 2; use multicast for more nodes",
    );
    expect(bad(v(", peer6: [2001:db8::2]"))).toMatch(/^vhids\[0\]\.peer6: one unicast peer per vhid/);
    expect(bad(v(", password: a, passfile: /x"))).toBe("vhids[0].passfile: give a password or a passfile, not both");
    expect(bad(v(", passfile: /nonexistent/key"))).toBe("vhids[0].passfile: cannot read /nonexistent/key: ENOENT");
    expect(bad(`vhids:\n  - { vhid: 1, addresses: [192.0.2.1] }`)).toBe("vhids[0].interface: required");
    expect(bad(`vhids:\n  - { vhid: 1, interface: e0 }`)).toBe("vhids[0].addresses: at least one virtual address is required");
    expect(bad(`vhids:\n  - { vhid: 1, interface: e0, addresses: [192.0.2.1/40] }`)).toBe('vhids[0].addresses: prefix must be 0-32, got "40" in 192.0.2.1/40');
    expect(bad(`vhids:\n  - { vhid: 1, interface: e0, addresses: 192.0.2.1 }`)).toBe('vhids[0].addresses: must be a list of strings, got "192.0.2.1"');
    expect(bad(`vhids: {}`)).toBe("vhids: must be a list, got {}");
    expect(bad(`vhids: []`)).toBe("vhids: no vhid configured");
    expect(bad(`log: { format: xml }\nvhids: [{ vhid: 1, interface: e0, addresses: [192.0.2.1] }]`)).toBe('log.format: must be text or json, got "xml"');
    expect(bad(`demotion: lots\nvhids: []`)).toBe('demotion: must be an integer, got "lots"');
    expect(bad(`vhids:\n  - { vhid: 1, interface: e0, addresses: [192.0.2.1] }\n  - { vhid: 1, interface: e0, addresses: [192.0.2.2] }`)).toBe(
      "vhids[1].vhid: vhid 1 on e0 is configured twice",
    );
    expect(bad(`defaults: { colour: red }\nvhids: []`)).toBe("defaults.colour: unknown key");
  });

  it("never coerces a non-string scalar where a string is required; the message quotes the original text", () => {
    const v = (extra: string) => `vhids:\n  - { vhid: 1, interface: e0, addresses: [192.0.2.1]${extra} }\n`;
    expect(bad(v(", password: 0123"))).toBe('vhids[0].password: must be a string (quote it: "0123")');
    expect(bad(v(", password: 12345678901234567890"))).toBe('vhids[0].password: must be a string (quote it: "12345678901234567890")');
    expect(bad(v(", password: true"))).toBe('vhids[0].password: must be a string (quote it: "true")');
    expect(bad(v(", password: 1e3"))).toBe('vhids[0].password: must be a string (quote it: "1e3")');
    expect(ok(v(', password: "0123"')).vhids[0].password.toString()).toBe("0123");
    expect(bad(`vhids:\n  - { vhid: 1, interface: 0, addresses: [192.0.2.1] }`)).toBe('vhids[0].interface: must be a string (quote it: "0")');
    expect(bad(`vhids:\n  - { vhid: 1, interface: e0, addresses: [192.0.2.1, 0x0A] }`)).toBe('vhids[0].addresses[1]: must be a string (quote it: "0x0A")');
    expect(bad(v(", passfile: 42"))).toBe('vhids[0].passfile: must be a string (quote it: "42")');
    expect(bad(v(", passwordHex: 0012"))).toBe('vhids[0].passwordHex: must be a string (quote it: "0012")');
    expect(bad(v(", hooks: { up: 1 }"))).toBe('vhids[0].hooks.up: must be a string (quote it: "1")');
    expect(bad(v(", hooks: { xparam: 007 }"))).toBe('vhids[0].hooks.xparam: must be a string (quote it: "007")');
    expect(bad(v(", carpName: 1"))).toBe('vhids[0].carpName: must be a string (quote it: "1")');
    expect(bad(v(", peer: 3232235777"))).toBe('vhids[0].peer: must be a string (quote it: "3232235777")');
    expect(bad(`defaults: { password: 0123 }\nvhids: []`)).toBe('defaults.password: must be a string (quote it: "0123")');
    expect(bad(`control: 12\nvhids: []`)).toBe('control: must be a string (quote it: "12")');
    expect(bad(`log: { facility: 7 }\nvhids: []`)).toBe('log.facility: must be a string (quote it: "7")');
  });

  it("refuses a YAML alias bomb (billion laughs) with one line", () => {
    const text = aliasBomb();
    const started = Date.now();
    expect(bad(text)).toMatch(/^YAML: too many alias expansions/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("reports YAML syntax errors with a position, and non-mapping documents", () => {
    expect(bad("vhids: [\n  - {vhid: 1")).toMatch(/^YAML syntax error at line \d+, column \d+: /);
    expect(bad("a: 1\na: 2\n")).toMatch(/^YAML syntax error/); // duplicate keys
    expect(bad("")).toBe("empty file");
    expect(bad("- 1\n- 2")).toBe("top level must be a mapping");
  });
});

describe("YAML typing and alias bombs through the CLI", () => {
  requires("ours");
  it("carp run --config and carp check --config exit 2 with one line", () => {
    const cases: Array<[string, RegExp]> = [
      [aliasBomb(), /: YAML: too many alias expansions/],
      [`vhids:\n  - { vhid: 1, interface: e0, password: 0123, addresses: [192.0.2.1] }\n`, /: vhids\[0\]\.password: must be a string \(quote it: "0123"\)$/],
    ];
    cases.forEach(([text, re], i) => {
      const file = join(dir, `cli-${i}.yaml`);
      writeFileSync(file, text);
      for (const cmd of ["run", "check"]) {
        const r = spawnSync(process.execPath, [CARP_CLI, cmd, "--config", file], { encoding: "utf8", timeout: 20_000 });
        expect(r.status, `${cmd} ${file}: ${r.stderr}`).toBe(2);
        const lines = (r.stdout + r.stderr).trim().split("\n");
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(re);
      }
    });
  });
});
