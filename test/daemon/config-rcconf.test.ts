// FreeBSD rc.conf front end: FreeBSD-8 carpN lines with a parent mapping, modern alias lines (inet and
// inet6), _aliases lists, netmask/prefixlen, advbase/peer/peer6/state, quoting, comments, merging, errors.
import { describe, expect, it } from "vitest";
import { parseRcAssignments, parseRcConf } from "../../src/daemon/config-rcconf.js";
import type { Config } from "../../src/daemon/config.js";

function ok(text: string, opts: Parameters<typeof parseRcConf>[1] = {}): Config {
  const r = parseRcConf(text, opts);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}
const bad = (text: string, opts: Parameters<typeof parseRcConf>[1] = {}) => {
  const r = parseRcConf(text, opts);
  if (r.ok) throw new Error("expected error");
  expect(r.error).not.toMatch(/\n/);
  return r.error;
};
const addrs = (c: Config, i = 0) => c.vhids[i].addresses.map((a) => `${a.address}/${a.prefix}`);

describe("rc.conf assignments", () => {
  it("handles quoting and comments like sh", () => {
    const r = parseRcAssignments(`# comment
a="x y"   # trailing comment
b='single "q"'
c=plain
d="esc \\" q"
e="con"'cat'
export f="ex"
  if [ -r /etc/x ]; then . /etc/x; fi
`);
    expect(r.ok && r.value.map((x) => [x.name, x.value])).toEqual([
      ["a", "x y"], ["b", 'single "q"'], ["c", "plain"], ["d", 'esc " q'], ["e", "concat"], ["f", "ex"],
    ]);
    expect(parseRcAssignments(`a="open`)).toEqual({ ok: false, error: 'line 1: a: unterminated " quote' });
  });
});

describe("FreeBSD-8 carpN lines", () => {
  const text = `hostname="node1"
cloned_interfaces="carp0"
ifconfig_em0="inet 192.0.2.2/24"
ifconfig_carp0="vhid 1 pass FeedLucasGelato advskew 10 192.0.2.50/24"
`;
  it("needs the parent from a mapping or --interface", () => {
    const c = ok(text, { parents: { carp0: "em0" } });
    expect(c.vhids.length).toBe(1);
    expect(c.vhids[0]).toMatchObject({ interface: "em0", vhid: 1, advskew: 10, carpName: "carp0", semantics: "freebsd" });
    expect(c.vhids[0].password.toString()).toBe("FeedLucasGelato");
    expect(addrs(c)).toEqual(["192.0.2.50/24"]);
    expect(ok(text, { defaultParent: "em1" }).vhids[0].interface).toBe("em1");
    expect(bad(text)).toBe("line 4: ifconfig_carp0: parent interface of carp0 unknown: give --carp-parent carp0=IF or --interface IF");
  });
  it("accepts the old netmask form and carpdev", () => {
    const c = ok(`ifconfig_carp1="vhid 2 advbase 3 pass x 192.0.2.60 netmask 255.255.255.0 carpdev em2"`);
    expect(c.vhids[0]).toMatchObject({ interface: "em2", vhid: 2, advbase: 3, carpName: "carp1" });
    expect(addrs(c)).toEqual(["192.0.2.60/24"]);
    expect(addrs(ok(`ifconfig_carp1="vhid 2 pass x 192.0.2.61 netmask 0xffffff00"`, { defaultParent: "em0" }))).toEqual(["192.0.2.61/24"]);
  });
});

describe("modern alias lines", () => {
  it("merges inet and inet6 aliases of one vhid, separate vhids stay separate", () => {
    const c = ok(`
ifconfig_em0="inet 192.0.2.2/24"
ifconfig_em0_alias0="inet vhid 1 pass x advskew 10 alias 192.0.2.50/32"
ifconfig_em0_alias1="inet vhid 1 pass x advskew 10 alias 192.0.2.51/32"
ifconfig_em0_alias2="inet6 vhid 1 pass x advskew 10 2001:db8::50 prefixlen 64"
ifconfig_em1_alias0="inet vhid 2 advbase 2 pass y peer 198.51.100.9 state backup 198.51.100.50/24"
ifconfig_em1_alias1="inet6 vhid 3 pass z peer6 2001:db8::9 2001:db8:1::50/64"
`);
    expect(c.vhids.map((v) => `${v.vhid}@${v.interface}`)).toEqual(["1@em0", "2@em1", "3@em1"]);
    expect(addrs(c, 0)).toEqual(["192.0.2.50/32", "192.0.2.51/32", "2001:db8::50/64"]);
    expect(c.vhids[0]).toMatchObject({ advskew: 10 });
    expect(c.vhids[0].carpName).toBeUndefined();
    expect(c.vhids[1]).toMatchObject({ advbase: 2, peer: "198.51.100.9", initialState: "backup" });
    expect(c.vhids[2]).toMatchObject({ peer6: "2001:db8::9" });
  });

  it("parses _aliases lists and ignores non-carp lines and groups", () => {
    const c = ok(`ifconfig_em0_aliases="inet 10.0.0.5/24 inet vhid 4 pass a 192.0.2.70/32 inet vhid 5 pass b 192.0.2.71/32"
ifconfig_em0_alias9="inet 10.9.9.9/32"
ifconfig_lo0_alias0="inet 127.0.0.2/32"`);
    expect(c.vhids.map((v) => `${v.vhid}@${v.interface} ${addrs(c, c.vhids.indexOf(v))}`)).toEqual([
      "4@em0 192.0.2.70/32",
      "5@em0 192.0.2.71/32",
    ]);
  });

  it("mcast/mcast6 reset a peer, sysctl-style preempt/demotion lines apply", () => {
    const c = ok(`net.inet.carp.preempt=1
net.inet.carp.demotion=20
ifconfig_em0_alias0="inet vhid 1 pass x peer 198.51.100.9 mcast 192.0.2.50/32"`);
    expect(c.vhids[0].peer).toBeUndefined();
    expect(c.vhids[0].preempt).toBe(true);
    expect(c.demotion).toBe(20);
  });

  it("truncates a long pass with a warning (BSD ifconfig) and allows no pass", () => {
    const r = parseRcConf(`ifconfig_em0_alias0="inet vhid 1 pass 0123456789abcdefghijk 192.0.2.50/32"`);
    expect(r.ok && r.value.vhids[0].password.toString()).toBe("0123456789abcdefghi");
    expect(r.ok && r.warnings).toEqual(["ifconfig_em0_alias0 pass: 21 bytes, truncated to 19 like BSD ifconfig"]);
    expect(ok(`ifconfig_em0_alias0="inet vhid 1 192.0.2.50/32"`).vhids[0].password.length).toBe(0);
  });
});

describe("errors name the variable and keyword", () => {
  it.each([
    [`ifconfig_em0_alias0="inet vhid 300 pass x 192.0.2.50/32"`, "ifconfig_em0_alias0 vhid: must be 1-255, got 300"],
    [`ifconfig_em0_alias0="inet vhid 1 advskew 255 192.0.2.50/32"`, "ifconfig_em0_alias0 advskew: must be 0-254, got 255"],
    [`ifconfig_em0_alias0="inet vhid 1 advbase 0 192.0.2.50/32"`, "ifconfig_em0_alias0 advbase: must be 1-255, got 0"],
    [`ifconfig_em0_alias0="inet vhid 1 pass x"`, "ifconfig_em0_alias0 address: at least one virtual address is required"],
    [`ifconfig_em0_alias0="inet vhid 1 frobnicate 192.0.2.50/32"`, 'line 1: ifconfig_em0_alias0: unsupported keyword "frobnicate"'],
    [`ifconfig_em0_alias0="inet vhid 1 carpver 4 192.0.2.50/32"`, "ifconfig_em0_alias0 carpver: must be 2-3 (2 = CARP, 3 = VRRPv3), got 4"],
    [`ifconfig_em0_alias0="inet vhid"`, "line 1: ifconfig_em0_alias0: vhid: missing value"],
    [`ifconfig_em0_alias0="inet vhid 1 state primary 192.0.2.5/32"`, 'line 1: ifconfig_em0_alias0: state: must be backup or master, got "primary"'],
    [`ifconfig_em0_alias0="inet vhid 1 192.0.2.5 netmask 255.0.255.0"`, 'line 1: ifconfig_em0_alias0: netmask: invalid or without an address: "255.0.255.0"'],
    [`ifconfig_em0_alias0="inet vhid 1 peer 2001:db8::1 192.0.2.5/32"`, 'ifconfig_em0_alias0 peer: not an IPv4 address: "2001:db8::1"'],
    [
      `ifconfig_em0_alias0="inet vhid 1 pass x peer 198.51.100.2 peer 198.51.100.3 192.0.2.5/32"`,
      "line 1: ifconfig_em0_alias0: peer: given twice (198.51.100.2, 198.51.100.3): a vhid has one unicast peer, like FreeBSD's peer; use multicast for more nodes",
    ],
    [
      `ifconfig_em0_alias0="inet vhid 1 pass a 192.0.2.5/32"\nifconfig_em0_alias1="inet vhid 1 pass b 192.0.2.6/32"`,
      "line 2: ifconfig_em0_alias1: pass differs from ifconfig_em0_alias0 for vhid 1 on em0",
    ],
  ])("%s", (text, msg) => {
    expect(bad(text)).toBe(msg);
  });
  it("an rc.conf without carp lines has no vhids", () => {
    expect(bad(`hostname="x"\nifconfig_em0="DHCP"`)).toBe("vhid: no vhid configured");
    expect(parseRcConf(`hostname="x"`, { requireVhids: false }).ok).toBe(true);
  });
});
