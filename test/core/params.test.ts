// §5 ranges: parameters and commands are validated and rejected as error values.
import { describe, expect, it } from "vitest";
import { resolveParams } from "../../src/core/params.js";
import { createVhid, step } from "../../src/core/vhid.js";
import type { VhidParams } from "../../src/core/types.js";
import { backup, cmd } from "./helpers.js";

const base: VhidParams = { vhid: 1, vips: { v4: 1, v6: 0 } };
const errs = (p: Partial<VhidParams>) => {
  const r = resolveParams({ ...base, ...p } as VhidParams);
  return r.ok ? [] : r.errors;
};

describe("resolveParams", () => {
  it("fills the documented defaults", () => {
    const r = resolveParams(base);
    expect(r.ok && r.value).toMatchObject({
      advbase: 1,
      advskew: 0,
      preempt: false,
      semantics: "freebsd",
      deadratio: 3,
      demote: 0,
      ifdownDemotion: 240,
      senderrDemotion: 240,
      secondAnnounce: true,
      tieBreakOrder: "little",
    });
    const o = resolveParams({ ...base, semantics: "openbsd" });
    expect(o.ok && [o.value.ifdownDemotion, o.value.senderrDemotion]).toEqual([1, 1]);
  });

  it("vhid 1..255", () => {
    expect(errs({ vhid: 0 })).toEqual(["vhid must be an integer 1..255, got 0"]);
    expect(errs({ vhid: 256 })).toHaveLength(1);
    expect(errs({ vhid: 1.5 })).toHaveLength(1);
    expect(errs({ vhid: 255 })).toEqual([]);
  });

  it("advbase: freebsd 1..255, openbsd and ucarp 0..255", () => {
    expect(errs({ advbase: 0 })).toEqual(["advbase must be an integer 1..255, got 0"]);
    expect(errs({ advbase: 0, semantics: "openbsd" })).toEqual([]);
    expect(errs({ advbase: 256, semantics: "openbsd" })).toHaveLength(1);
    expect(errs({ advbase: 0, advskew: 1, semantics: "ucarp", ownAddresses: ["198.51.100.1"] })).toEqual([]);
  });

  it("advskew: kernels 0..254, ucarp 0..255; ucarp refuses advbase = advskew = 0", () => {
    expect(errs({ advskew: 255 })).toEqual(["advskew must be an integer 0..254, got 255"]);
    expect(errs({ advskew: 255, semantics: "openbsd" })).toHaveLength(1);
    expect(errs({ advskew: 255, semantics: "ucarp", ownAddresses: ["198.51.100.1"] })).toEqual([]);
    expect(errs({ advskew: 0, advbase: 0, semantics: "ucarp", ownAddresses: ["198.51.100.1"] })).toEqual([
      "advbase and advskew cannot both be 0",
    ]);
  });

  it("other checks: semantics, deadratio, VIPs, ucarp srcip, demote", () => {
    expect(errs({ semantics: "linux" as never })[0]).toMatch(/^semantics must be one of freebsd\|openbsd\|ucarp/);
    expect(errs({ deadratio: 0 })).toHaveLength(1);
    expect(errs({ vips: { v4: 0, v6: 0 } })).toEqual(["a vhid needs at least one virtual address"]);
    expect(errs({ vips: { v4: -1, v6: 1 } })).toHaveLength(1);
    expect(errs({ semantics: "ucarp" })[0]).toMatch(/--srcip/);
    expect(errs({ demote: 0.5 })).toEqual(["demote must be an integer, got 0.5"]);
    expect(errs({ ownAddresses: [1 as never] })).toHaveLength(1);
    expect(resolveParams(null as never)).toEqual({ ok: false, errors: ["params must be an object"] });
  });

  it("createVhid rejects a counter outside u64", () => {
    const r = createVhid(base, { counter: -1n });
    expect(r.ok).toBe(false);
    expect(createVhid(base, { counter: 1n << 64n }).ok).toBe(false);
    expect(createVhid(base, { counter: (1n << 64n) - 1n }).ok).toBe(true);
    expect(createVhid(base, { counter: 5 as never }).ok).toBe(false);
  });
});

describe("commands validate their values and leave the state alone on error", () => {
  const s = backup();
  const bad = [
    cmd({ op: "setAdvskew", value: 255 }),
    cmd({ op: "setAdvskew", value: -1 }),
    cmd({ op: "setAdvbase", value: 0 }),
    cmd({ op: "setAdvbase", value: 256 }),
    cmd({ op: "setPreempt", value: "yes" as never }),
    cmd({ op: "demote", delta: 0.5 }),
    cmd({ op: "force", state: "INIT" as never }),
    cmd({ op: "reboot" } as never),
  ];
  for (const input of bad) {
    it(`rejects ${JSON.stringify((input as { command: unknown }).command)}`, () => {
      const r = step(s, input, 5);
      expect(r.error).toMatch(/.+/);
      expect(r.error).not.toMatch(/\n/);
      expect(r.state).toBe(s);
      expect(r.actions).toEqual([]);
    });
  }
  it("rejects an unknown input kind and a non-integer global demotion", () => {
    expect(step(s, { kind: "bogus" } as never, 1).error).toMatch(/unknown input kind/);
    expect(step(s, { kind: "globalDemotion", value: 1.5 }, 1).error).toMatch(/integer/);
  });
});
