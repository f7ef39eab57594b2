// The effect executor at its seam: a VIP manager and announcer that record calls (the real ones are
// tested in test/host and through the daemon tests). What is tested here is the order and the state
// re-checks: VIPs added (in the job's turn, the state file's record after it) before GARP/NA and hooks,
// a step-down right behind a takeover removes what was added and sends no GARP, and an add or a record
// that fails is fed back to the core.
import { describe, expect, it } from "vitest";
import type { CarpState, ClusterInput } from "../../src/core/index.js";
import { EffectExecutor } from "../../src/daemon/effects.js";
import type { IfRt, VhidRt } from "../../src/daemon/interfaces.js";
import { Logger } from "../../src/daemon/log.js";
import type { VipManager } from "../../src/host/vips.js";
import type { VipAddress } from "../../src/host/types.js";

const vip = (i: number): VipAddress => ({ address: `198.51.100.${i}`, prefix: 24, family: 4, given: `198.51.100.${i}` });
const tick = () => new Promise((r) => setTimeout(r, 2));

function setup(n: number, opts: { fail?: (a: string) => string | null; recordError?: string } = {}) {
  const calls: string[] = [];
  let state: CarpState = "MASTER";
  const fed: ClusterInput[] = [];
  const result = (a: VipAddress) => {
    const err = opts.fail?.(a.address) ?? null;
    return err ? { ok: false as const, code: "EPERM" as const, error: err } : { ok: true as const, value: true };
  };
  const vips = {
    add: async (_if: string, _vhid: number, a: VipAddress) => {
      calls.push(`add ${a.address}`);
      await tick();
      return result(a);
    },
    // The real one: netlink adds in the caller's turn, the state-file record a turn later.
    addNow: (_if: string, _vhid: number, addrs: VipAddress[]) => {
      for (const a of addrs) calls.push(`add ${a.address}`);
      const recorded = tick().then(() => {
        calls.push("record");
        return opts.recordError ?? null;
      });
      return { results: addrs.map(result), recorded };
    },
    removeAll: async (_if: string, addrs: { address: string }[]) => {
      for (const a of addrs) calls.push(`remove ${a.address}`);
      await tick();
      return addrs.map(() => ({ ok: true as const, value: true }));
    },
  } as unknown as VipManager;
  const announce = (v: VipAddress[]): string[] => {
    calls.push(`announce ${v.map((x) => x.address).join(",")}`);
    return [];
  };
  const ifr = { name: "eth0", announcer: { announce } } as unknown as IfRt;
  const rt = {
    ref: { ifname: "eth0", vhid: 1 },
    cfg: { vhid: 1, manageVip: true, semantics: "freebsd", addresses: Array.from({ length: n }, (_, i) => vip(i + 1)) },
    chain: Promise.resolve(),
    vipError: null,
  } as unknown as VhidRt;
  const ex = new EffectExecutor({
    vips,
    log: new Logger("text", false, () => undefined),
    state: () => state,
    feed: (i) => fed.push(i),
  });
  return { ex, ifr, rt, calls, fed, setState: (s: CarpState) => (state = s) };
}

describe("EffectExecutor", () => {
  it("takeover: every VIP added before the GARP, the hook after both, the state-file record after the GARP", async () => {
    const { ex, ifr, rt, calls } = setup(3);
    ex.run(ifr, rt, { kind: "vips", ref: rt.ref, seq: 1, op: "add" });
    ex.run(ifr, rt, { kind: "announce", ref: rt.ref, seq: 2, why: "takeover", families: [4] });
    await ex.after(rt, () => calls.push("hook"));
    await tick();
    await tick();
    expect(calls).toEqual(["add 198.51.100.1", "add 198.51.100.2", "add 198.51.100.3", "announce 198.51.100.1,198.51.100.2,198.51.100.3", "hook", "record"]);
  });

  it("a step-down right behind a takeover: no GARP, every VIP removed (flapping)", async () => {
    const { ex, ifr, rt, calls, setState } = setup(50);
    ex.run(ifr, rt, { kind: "vips", ref: rt.ref, seq: 1, op: "add" });
    ex.run(ifr, rt, { kind: "announce", ref: rt.ref, seq: 2, why: "takeover", families: [4] });
    setState("BACKUP"); // the core stepped down; its remove effect is queued behind the add
    ex.run(ifr, rt, { kind: "vips", ref: rt.ref, seq: 3, op: "remove" });
    await rt.chain;
    expect(calls.filter((c) => c.startsWith("add"))).toHaveLength(50);
    expect(calls.some((c) => c.startsWith("announce"))).toBe(false); // no GARP for a BACKUP
    expect(calls.filter((c) => c.startsWith("remove"))).toHaveLength(50);
    expect(calls.filter((c) => c !== "record").at(-1)).toBe("remove 198.51.100.50");
  });

  it("a step-down queued before the takeover's add ran: nothing added; MASTER again: nothing removed", async () => {
    const { ex, ifr, rt, calls, setState } = setup(2);
    void ex.after(rt, () => tick()); // something still running on the chain
    ex.run(ifr, rt, { kind: "vips", ref: rt.ref, seq: 1, op: "add" });
    setState("BACKUP");
    await rt.chain;
    expect(calls).toEqual([]);
    setState("MASTER");
    void ex.after(rt, () => tick());
    ex.run(ifr, rt, { kind: "vips", ref: rt.ref, seq: 2, op: "remove" });
    await rt.chain;
    expect(calls).toEqual([]);
  });

  it("a state-file record that fails after the adds demotes the vhid like a failed add", async () => {
    const { ex, ifr, rt, fed } = setup(1, { recordError: "record VIPs in /x.json: EROFS" });
    ex.run(ifr, rt, { kind: "vips", ref: rt.ref, seq: 1, op: "add" });
    await rt.chain;
    expect(fed).toEqual([]);
    await tick();
    await tick();
    expect(rt.vipError).toBe("record VIPs in /x.json: EROFS");
    expect(fed).toEqual([{ kind: "vipResult", ref: rt.ref, op: "add", ok: false, error: rt.vipError }]);
  });

  it("a vanished VIP re-added while MASTER is followed by a GARP for it; not re-added once BACKUP", async () => {
    const { ex, ifr, rt, calls, setState } = setup(2);
    ex.readd(ifr, rt, vip(2));
    await rt.chain;
    expect(calls).toEqual(["add 198.51.100.2", "announce 198.51.100.2"]);
    setState("BACKUP");
    ex.readd(ifr, rt, vip(2));
    await rt.chain;
    expect(calls).toHaveLength(2);
  });

  it("an add that fails (EPERM) is fed back to the core, shows as the vhid's vipError, and a later success clears it", async () => {
    let failing = true;
    const { ex, ifr, rt, fed } = setup(2, { fail: (a) => (failing && a.endsWith(".2") ? "RTM_NEWADDR 198.51.100.2/24: Operation not permitted (EPERM)" : null) });
    ex.run(ifr, rt, { kind: "vips", ref: rt.ref, seq: 1, op: "add" });
    await rt.chain;
    expect(rt.vipError).toBe("198.51.100.2/24: RTM_NEWADDR 198.51.100.2/24: Operation not permitted (EPERM)");
    expect(fed).toEqual([{ kind: "vipResult", ref: rt.ref, op: "add", ok: false, error: rt.vipError }]);
    failing = false;
    ex.run(ifr, rt, { kind: "vips", ref: rt.ref, seq: 2, op: "add" });
    await rt.chain;
    await tick(); // cleared once the record is written
    await tick();
    expect(rt.vipError).toBeNull();
    expect(fed.at(-1)).toEqual({ kind: "vipResult", ref: rt.ref, op: "add", ok: true });
  });
});
