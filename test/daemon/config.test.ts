// normalizeConfig directly: defaults, address parsing/canonical IPv6, validation never throws, and a
// property test: any valid vhid written as a ucarp command line (long, short or clustered forms) parses
// back to the same values.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DEFAULTS, canonicalIPv6, mergeVhids, normalizeConfig, parseAddress, type RawVhid } from "../../src/daemon/config.js";
import { loadConfigFromArgv } from "../../src/daemon/config-ucarp.js";

const opts = { keyName: (f: string) => f, longPassword: "truncate" as const };

describe("normalizeConfig", () => {
  it("fills documented defaults", () => {
    const r = normalizeConfig({ vhids: [{ interface: "eth0", vhid: 1, addresses: ["192.0.2.1"] }] }, opts);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ preempt: false, demotion: 0, control: DEFAULTS.control, logFormat: "text", facility: "daemon", debug: false, daemonize: false });
    expect(r.value.vhids[0]).toMatchObject({
      advbase: 1, advskew: 0, semantics: "freebsd", deadratio: 3, demote: 0, mcast: "224.0.0.18", mcast6: "ff02::12",
      nomcast: false, ignoreIfState: false, neutral: false, shutdownScript: false, hookMode: "per-vip",
      hookTimeoutMs: 30000, manageVip: true,
    });
    expect(r.value.vhids[0].peer).toBeUndefined();
  });

  it("global preempt is the default for vhids that do not say", () => {
    const r = normalizeConfig(
      { vhids: [{ interface: "e", vhid: 1, addresses: ["192.0.2.1"] }, { interface: "e", vhid: 2, addresses: ["192.0.2.2"], preempt: false }], global: { preempt: true } },
      opts,
    );
    expect(r.ok && r.value.vhids.map((v) => v.preempt)).toEqual([true, false]);
  });

  it("parses addresses, canonicalizes IPv6, keeps what the user wrote", () => {
    expect(parseAddress("2001:DB8:0:0:0:0:0:1/64", "k")).toEqual({ address: "2001:db8::1", prefix: 64, family: 6, given: "2001:DB8:0:0:0:0:0:1" });
    expect(parseAddress("192.0.2.1", "k")).toEqual({ address: "192.0.2.1", prefix: 32, family: 4, given: "192.0.2.1" });
    expect(canonicalIPv6("2001:0db8:0000:0000:0001:0000:0000:0001")).toBe("2001:db8::1:0:0:1");
    const r = normalizeConfig({ vhids: [{ interface: "e", vhid: 1, addresses: ["fe80::1%eth0"] }] }, opts);
    expect(r).toEqual({ ok: false, error: 'addresses: not an IPv4 or IPv6 address: "fe80::1%eth0" (zone ids are not supported)' });
    const dup = normalizeConfig({ vhids: [{ interface: "e", vhid: 1, addresses: ["2001:db8::1", "2001:DB8::0:1/64"] }] }, opts);
    expect(dup).toEqual({ ok: false, error: "addresses: 2001:db8::1 listed twice" });
  });

  it("rejects bad interface names without touching the system", () => {
    expect(normalizeConfig({ vhids: [{ interface: "a-very-long-ifname0", vhid: 1, addresses: ["192.0.2.1"] }] }, opts)).toEqual({
      ok: false,
      error: 'interface: not a valid interface name: "a-very-long-ifname0"',
    });
    // A well-formed but absent interface is accepted here (checked at runtime).
    expect(normalizeConfig({ vhids: [{ interface: "nosuch9", vhid: 1, addresses: ["192.0.2.1"] }] }, opts).ok).toBe(true);
  });

  it("warns when ucarp semantics meet more than one address", () => {
    const r = normalizeConfig({ vhids: [{ interface: "e", vhid: 1, password: "x", semantics: "ucarp", addresses: ["192.0.2.1", "192.0.2.2"] }] }, opts);
    expect(r.ok && r.warnings[0]).toMatch(/ucarp peers hash exactly one IPv4 address/);
  });

  it("never throws on garbage input", () => {
    fc.assert(
      fc.property(
        fc.record({
          interface: fc.option(fc.string(), { nil: undefined }),
          vhid: fc.option(fc.oneof(fc.integer(), fc.string()), { nil: undefined }),
          advbase: fc.option(fc.oneof(fc.integer(), fc.string()), { nil: undefined }),
          advskew: fc.option(fc.oneof(fc.integer(), fc.string()), { nil: undefined }),
          addresses: fc.option(fc.array(fc.string()), { nil: undefined }),
          semantics: fc.option(fc.string(), { nil: undefined }),
          mcast: fc.option(fc.string(), { nil: undefined }),
        }),
        (raw) => {
          const r = normalizeConfig({ vhids: [raw as RawVhid] }, opts);
          if (!r.ok) expect(r.error).not.toMatch(/\n/);
        },
      ),
    );
  });

  it("mergeVhids refuses duplicates", () => {
    const a = normalizeConfig({ vhids: [{ interface: "e", vhid: 1, addresses: ["192.0.2.1"] }] }, opts);
    if (!a.ok) throw new Error(a.error);
    expect(mergeVhids(a.value, a.value.vhids, "--x")).toEqual({ ok: false, error: "--x: vhid 1 on e is configured twice" });
    const b = normalizeConfig({ vhids: [{ interface: "f", vhid: 1, addresses: ["192.0.2.1"] }] }, opts);
    if (!b.ok) throw new Error(b.error);
    const m = mergeVhids(a.value, b.value.vhids, "--x");
    expect(m.ok && m.value.vhids.length).toBe(2);
  });
});

describe("ucarp argv round trip (property)", () => {
  const ipv4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((p) => p.join("."));
  it("any valid vhid rendered as argv parses back", () => {
    fc.assert(
      fc.property(
        fc.record({
          vhid: fc.integer({ min: 1, max: 255 }),
          advbase: fc.integer({ min: 1, max: 255 }),
          advskew: fc.integer({ min: 0, max: 255 }),
          pass: fc.stringMatching(/^[A-Za-z0-9]{1,19}$/),
          addr: ipv4,
          srcip: ipv4,
          preempt: fc.boolean(),
          neutral: fc.boolean(),
          nomcast: fc.boolean(),
          deadratio: fc.integer({ min: 1, max: 100 }),
          style: fc.constantFrom("long=", "long", "short", "attached"),
        }),
        (v) => {
          const opt = (long: string, short: string, val: string): string[] =>
            v.style === "long=" ? [`--${long}=${val}`] : v.style === "long" ? [`--${long}`, val] : v.style === "short" ? [`-${short}`, val] : [`-${short}${val}`];
          const flags = (v.preempt ? "P" : "") + (v.neutral ? "n" : "") + (v.nomcast ? "M" : "");
          const argv = [
            ...opt("interface", "i", "eth0"), ...opt("vhid", "v", String(v.vhid)), ...opt("advbase", "b", String(v.advbase)),
            ...opt("advskew", "k", String(v.advskew)), ...opt("pass", "p", v.pass), ...opt("addr", "a", v.addr),
            ...opt("srcip", "s", v.srcip), ...opt("deadratio", "r", String(v.deadratio)), ...(flags ? [`-${flags}`] : []),
          ];
          const r = loadConfigFromArgv(argv);
          if (!r.ok || r.value.help) throw new Error(`${argv.join(" ")}: ${r.ok ? "help" : r.error}`);
          const c = r.value.vhids[0];
          expect(c).toMatchObject({
            interface: "eth0", vhid: v.vhid, advbase: v.advbase, advskew: v.advskew, srcip: v.srcip, deadratio: v.deadratio,
            preempt: v.preempt, neutral: v.neutral, nomcast: v.nomcast,
          });
          expect(c.password.toString()).toBe(v.pass);
          expect(c.addresses[0].address).toBe(v.addr);
        },
      ),
      { numRuns: 300 },
    );
  });
});
