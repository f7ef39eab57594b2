// antiReplay (issue 11): an advert counts only when its counter is above every counter the vhid sent or
// accepted. Virtual time: every step takes `now`; no clock, no I/O.
import { describe, expect, it } from "vitest";
import { createVhid } from "../../src/core/vhid.js";
import { Cluster } from "../../src/core/cluster.js";
import { ME, PEER, advert, backup, master, mk, run, sends, start } from "./helpers.js";

const AR = { antiReplay: true } as const;

describe("antiReplay: the receive path", () => {
  it("a MASTER ignores a rewritten copy (advbase 0 / advskew 0) of its own counter range and counts badreplay", () => {
    let { s, at } = master({ ...AR, advskew: 100 }, { counter: 5000n });
    const sent = sends(run(s, { kind: "timer", timer: "advertise" }, s.timers.advertise!).actions)[0].advert.counter;
    s = run(s, { kind: "timer", timer: "advertise" }, s.timers.advertise!).state;
    // An attacker rewrites a captured advert of ours (source: a peer address it spoofs or its own) to 0/0:
    // the HMAC covers the counter, so the counter must be one we already sent.
    const r = run(s, advert({ advbase: 1, advskew: 0, counter: sent }), at + 2500);
    expect(r.state.state).toBe("MASTER");
    expect(r.actions).toEqual([]);
    expect(r.state.stats.badreplay).toBe(1);
    expect(r.state.counter).toBe(s.counter); // not copied
    expect(r.state.lastMaster).toBeNull();
  });

  it("without antiReplay the same rewritten advert makes the MASTER step down (the documented threat)", () => {
    const { s, at } = master({ advskew: 100 }, { counter: 5000n });
    const r = run(s, advert({ advbase: 1, advskew: 0, counter: 5000n }), at + 10);
    expect(r.state.state).toBe("BACKUP");
    expect(r.state.stats.badreplay).toBe(0);
  });

  it("a BACKUP accepts rising counters (copied), refuses equal and lower ones, and times out when only replays arrive", () => {
    let s = backup(AR, { counter: 1n });
    s = run(s, advert({ counter: 100n, advskew: 0 }), 500).state;
    expect(s.replay.high).toBe(100n);
    expect(s.counter).toBe(100n);
    const md = s.timers.masterDown4!;
    // Replays of captured adverts (100, 99, 100) keep arriving: none restarts the master-down timer.
    for (const [i, c] of [100n, 99n, 100n].entries()) {
      const r = run(s, advert({ counter: c }), 600 + i * 100);
      expect(r.state.timers.masterDown4).toBe(md);
      s = r.state;
    }
    expect(s.stats.badreplay).toBe(3);
    const t = run(s, { kind: "timer", timer: "masterDown4" }, md);
    expect(t.state.state).toBe("MASTER");
    // Its first advert carries more than anything it accepted.
    expect(sends(t.actions)[0].advert.counter).toBe(101n);
  });

  it("a fresh advert (counter above the highest) is an election input as usual", () => {
    const { s, at } = master({ ...AR, advskew: 100 }, { counter: 50n });
    const high = s.replay.high;
    const r = run(s, advert({ advskew: 0, counter: high + 1n }), at + 10);
    expect(r.state.state).toBe("BACKUP");
    expect(r.state.replay.high).toBe(high + 1n);
  });

  it("sends above every counter sent or accepted, never wrapping", () => {
    let s = backup(AR, { counter: 10n });
    s = run(s, advert({ counter: (1n << 64n) - 2n, advskew: 0 }), 100).state;
    const m = run(s, { kind: "timer", timer: "masterDown4" }, s.timers.masterDown4!);
    expect(sends(m.actions)[0].advert.counter).toBe((1n << 64n) - 1n);
    const n = run(m.state, { kind: "timer", timer: "advertise" }, m.state.timers.advertise!);
    expect(sends(n.actions)[0].advert.counter).toBe((1n << 64n) - 1n); // saturates instead of wrapping to 0
  });

  it("reports a source whose counters do not increase, once, naming it (constant cookie called out)", () => {
    let s = backup(AR, { counter: 1n });
    s = run(s, advert({ counter: 500n }), 10).state;
    const logs: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = run(s, advert({ from: "198.51.100.9", counter: 42n }), 20 + i);
      for (const a of r.actions) if (a.kind === "log") logs.push(a.message);
      s = r.state;
    }
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/198\.51\.100\.9 repeat the constant counter 42.*OpenBSD and ucarp peers cannot be used with antiReplay/);
    expect(s.stats.badreplay).toBe(6);
  });

  it("after a restart: refuses up to the restored accept floor, sends above the reserved ceiling", () => {
    let s = start(mk(AR, { counter: 3n, replay: { accept: 1000n, send: 1064n } }), 0).state;
    const r = run(s, advert({ counter: 1000n, advskew: 0 }), 100);
    expect(r.state.stats.badreplay).toBe(1);
    s = run(r.state, advert({ counter: 1001n, advskew: 0 }), 200).state;
    expect(s.stats.badreplay).toBe(1);
    expect(s.replay.high).toBe(1001n);
    const m = run(s, { kind: "timer", timer: "masterDown4" }, s.timers.masterDown4!);
    expect(sends(m.actions)[0].advert.counter).toBe(1065n);
  });

  it("own looped adverts stay ownLoops, not badreplay", () => {
    const { s, at } = master(AR, { counter: 7n });
    const r = run(s, advert({ from: ME, counter: 7n }), at + 5);
    expect(r.state.stats.ownLoops).toBe(1);
    expect(r.state.stats.badreplay).toBe(0);
  });

  it("is refused for openbsd and ucarp semantics (their counters do not rise)", () => {
    for (const semantics of ["openbsd", "ucarp"] as const) {
      const r = createVhid({ vhid: 1, vips: { v4: 1, v6: 0 }, ownAddresses: [ME], semantics, antiReplay: true }, { counter: 1n });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors.join()).toMatch(/antiReplay needs freebsd semantics/);
    }
  });

  it("two antiReplay vhids in virtual time: the counter rises across failovers and no advert is refused", () => {
    // a and b exchange every advert; a fails (stops) and comes back, three times.
    const c = new Cluster();
    const d = new Cluster();
    expect(c.add("", { vhid: 1, vips: { v4: 1, v6: 0 }, ownAddresses: [ME], advskew: 0, preempt: true, ...AR }, { counter: 9_000n }).ok).toBe(true);
    expect(d.add("", { vhid: 1, vips: { v4: 1, v6: 0 }, ownAddresses: [PEER], advskew: 50, preempt: true, ...AR }, { counter: 2n }).ok).toBe(true);
    let now = 0;
    c.command(1, { op: "start" }, now);
    d.command(1, { op: "start" }, now);
    let aAlive = true;
    const deliver = () => {
      for (const [from, to, src] of [[c, d, ME], [d, c, PEER]] as const) {
        for (let t = from.pollTransmit(); t; t = from.pollTransmit()) {
          if (from === c && !aAlive) continue;
          const a = t.advert;
          to.handleInput({ kind: "advert", ifname: "", from: src, family: 4, header: { version: 2, type: 1, vhid: 1, advskew: a.advskew, authlen: 7, demote: 0, advbase: a.advbase, checksum: 0, counter: a.counter, hmac: Buffer.alloc(20) } }, now);
        }
      }
      while (c.pollEffect() || d.pollEffect() || c.pollEvent() || d.pollEvent());
    };
    const counters: bigint[] = [];
    for (let round = 0; round < 3; round++) {
      for (const [alive, ms] of [[true, 6000], [false, 6000]] as const) {
        if (alive && !aAlive) c.command(1, { op: "force", state: "BACKUP" }, now);
        aAlive = alive;
        const end = now + ms;
        while (now < end) {
          now += 50;
          if (aAlive) c.handleTimeout(now);
          d.handleTimeout(now);
          deliver();
        }
        counters.push(c.get(1)!.counter > d.get(1)!.counter ? c.get(1)!.counter : d.get(1)!.counter);
        expect((aAlive ? c : d).get(1)!.state).toBe("MASTER");
      }
    }
    for (let i = 1; i < counters.length; i++) expect(counters[i]).toBeGreaterThan(counters[i - 1]);
    expect(c.get(1)!.stats.badreplay + d.get(1)!.stats.badreplay).toBe(0);
  });
});
