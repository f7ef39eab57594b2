// §3 the 64-bit counter, own-packet detection by source address, vhid routing.
import { describe, expect, it } from "vitest";
import { ME, ME6, advert, backup, master, mk, run, sends, start } from "./helpers.js";

const drain = (s: ReturnType<typeof master>["s"], n: number) => {
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const r = run(s, { kind: "timer", timer: "advertise" }, s.timers.advertise!);
    out.push(...sends(r.actions).map((a) => a.advert.counter));
    s = r.state;
  }
  return { out, s };
};

describe("counter (FreeBSD / ucarp)", () => {
  it("the first advert carries the caller's random start, then +1 per packet; v4 and v6 consecutive", () => {
    const s = start(mk({ vips: { v4: 1, v6: 1 } }, { counter: 0x1122334455667788n }), 0).state;
    const m = run(s, { kind: "timer", timer: "masterDown4" }, 3000);
    expect(sends(m.actions).map((a) => a.advert.counter)).toEqual([0x1122334455667788n, 0x1122334455667789n]);
    expect(drain(m.state, 2).out).toEqual([0x112233445566778an, 0x112233445566778bn, 0x112233445566778cn, 0x112233445566778dn]);
  });

  it("wraps from 2^64-1 to 0", () => {
    const { s } = master({}, { counter: (1n << 64n) - 2n });
    expect(drain(s, 3).out).toEqual([(1n << 64n) - 1n, 0n, 1n]);
  });

  for (const semantics of ["freebsd", "ucarp"] as const) {
    it(`${semantics}: copies a valid peer's counter, so a later takeover continues from peer + 1`, () => {
      let s = backup({ semantics, ownAddresses: [ME] }, { counter: 5n });
      s = run(s, advert({ counter: 0xfffffffffffffffen, advskew: 10 }), 100).state;
      expect(s.counter).toBe(0xfffffffffffffffen);
      const m = run(s, { kind: "timer", timer: "masterDown4" }, s.timers.masterDown4!);
      expect(sends(m.actions)[0].advert.counter).toBe(0xffffffffffffffffn);
      expect(drain(m.state, 1).out).toEqual([0n]);
    });
  }

  it("INIT also stores the counter (stored before the state machine runs)", () => {
    const r = run(mk({}, { counter: 5n }), advert({ counter: 99n }), 1);
    expect(r.state.counter).toBe(99n);
  });
});

describe("own packets and foreign vhids", () => {
  it("an advert from one of our own addresses is ignored and counted, its counter not copied", () => {
    for (const from of [ME, ME6]) {
      const s = backup({ preempt: true, vips: { v4: 1, v6: 1 } }, { counter: 5n });
      const r = run(s, advert({ from, family: from === ME ? 4 : 6, advskew: 200, counter: 999n }), 10);
      expect(r.actions).toEqual([]);
      expect(r.state.counter).toBe(5n);
      expect(r.state.stats.ownLoops).toBe(1);
      expect(r.state.lastMaster).toBeNull();
    }
  });

  it("a MASTER hearing its own looped advert keeps the role (an equal advert would otherwise demote it)", () => {
    const { s } = master({ advskew: 10 });
    const r = run(s, advert({ from: ME, advskew: 10 }), 4000);
    expect(r.state.state).toBe("MASTER");
  });

  it("a FreeBSD backup copies our counter and echoes counter + 1 later: still recognised by address only", () => {
    const { s } = master({}, { counter: 10n });
    // peer sends counter 11 (it copied our 10): not ours by counter, it is a real peer
    const r = run(s, advert({ counter: 11n, advskew: 0 }), 4000);
    expect(r.state.state).toBe("BACKUP");
  });

  it("an advert of a family this vhid has no addresses of is badvhid (FreeBSD looks up by family)", () => {
    const { s } = master({ vips: { v4: 1, v6: 0 }, advskew: 100 });
    const r = run(s, advert({ from: "2001:db8::2", family: 6, advskew: 0 }), 4000);
    expect(r.state.state).toBe("MASTER");
    expect(r.state.stats.badvhid).toBe(1);
    expect(r.state.stats.ipackets6).toBe(1);
  });

  it("a different vhid is counted as badvhid", () => {
    const r = run(backup(), advert({ vhid: 2, advskew: 200 }), 10);
    expect(r.actions).toEqual([]);
    expect(r.state.stats.badvhid).toBe(1);
    expect(r.state.stats.ipackets).toBe(1);
  });
});
