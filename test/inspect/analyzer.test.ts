// The analyzer in-process (pure, explicit times): transitions, bow-out, interval and jitter,
// VRRP election, and the per-packet facts it is fed.
import { describe, expect, it } from "vitest";
import { Analyzer, newFacts, type AdvertFacts } from "../../src/inspect/analyzer.js";

function carp(an: Analyzer, src: string, time: number, o: Partial<AdvertFacts> = {}): void {
  const f = newFacts();
  Object.assign(f, { protocol: "carp", vhid: 3, src, time, advbase: 1, advskew: 0, mac: "00:00:5e:00:01:03", ctrLo: Math.round(time * 1000) }, o);
  an.advert(f);
}

describe("Analyzer", () => {
  it("measures the master's interval and jitter (sample standard deviation)", () => {
    const an = new Analyzer();
    const gaps = [1.0, 1.1, 0.9, 1.05, 0.95];
    let t = 100;
    carp(an, "198.51.100.1", t);
    for (const g of gaps) carp(an, "198.51.100.1", (t += g));
    const v = an.view().vhids[0];
    const mean = gaps.reduce((a, b) => a + b) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / (gaps.length - 1));
    expect(v.interval.samples).toBe(5);
    expect(v.interval.mean_s).toBeCloseTo(mean, 6);
    expect(v.interval.jitter_s).toBeCloseTo(sd, 6);
    expect(v.interval.expected_s).toBe(1);
  });

  it("a bow-out hands over at the next advert from someone else, without waiting", () => {
    const an = new Analyzer();
    for (let i = 0; i < 3; i++) carp(an, "198.51.100.1", 10 + i);
    carp(an, "198.51.100.1", 12.5, { advbase: 255, advskew: 255 });
    carp(an, "198.51.100.2", 12.6, { advskew: 50 });
    const v = an.view().vhids[0];
    expect(v.master?.ip).toBe("198.51.100.2");
    expect(v.transition_log).toEqual([{ time: 12.6, from: "198.51.100.1", to: "198.51.100.2" }]);
    // The bowed-out node is no candidate any more.
    expect(v.election?.ranking).toEqual(["198.51.100.2"]);
    expect(v.problems).toEqual([]);
  });

  it("a new source while the master is still advertising is not a transition (yet)", () => {
    const an = new Analyzer();
    for (let i = 0; i < 3; i++) carp(an, "198.51.100.1", 10 + i);
    carp(an, "198.51.100.2", 12.2); // the old master's last advert was 0.2 s ago
    expect(an.view().vhids[0].master?.ip).toBe("198.51.100.1");
    carp(an, "198.51.100.2", 13.2);
    carp(an, "198.51.100.2", 14.2); // 2.2 s of silence from .1: it has stepped down
    const v = an.view().vhids[0];
    expect(v.master?.ip).toBe("198.51.100.2");
    expect(v.transitions).toBe(1);
    expect(v.transition_log[0].time).toBe(12.2);
  });

  it("adverts that fail authentication or the checksum do not make a master", () => {
    const an = new Analyzer();
    carp(an, "198.51.100.9", 1, { auth: 1 });
    carp(an, "198.51.100.9", 2, { checksumOk: false });
    const v = an.view().vhids[0];
    expect(v.master).toBeNull();
    expect(v.problems.map((p) => p.code).sort()).toEqual(["auth", "checksum"]);
    expect(v.auth).toMatchObject({ status: "bad", bad: 1 });
  });

  it("a node failing authentication still counts for two masters, but not for the election", () => {
    const an = new Analyzer();
    for (let i = 0; i < 5; i++) {
      carp(an, "198.51.100.1", 10 + i, { auth: 0, advskew: 100 });
      carp(an, "198.51.100.2", 10.3 + i, { auth: 1, advskew: 0 });
    }
    const v = an.view().vhids[0];
    expect(v.master?.ip).toBe("198.51.100.1");
    expect(v.problems.map((p) => p.code).sort()).toEqual(["auth", "two-masters"]);
    expect(v.election?.ranking).toEqual(["198.51.100.1"]);
  });

  it("VRRP: the highest priority wins, equal priority goes to the higher address", () => {
    const an = new Analyzer();
    const vrrp = (src: string, t: number, priority: number) => {
      const f = newFacts();
      Object.assign(f, { protocol: "vrrp", vhid: 9, src, time: t, advbase: 1, priority, mac: "00:00:5e:00:01:09" });
      an.advert(f);
    };
    vrrp("10.0.0.1", 1, 100);
    vrrp("10.0.0.2", 1.5, 150);
    vrrp("10.0.0.3", 1.7, 150);
    const e = an.view().vhids[0].election!;
    expect(e.winner).toBe("10.0.0.3");
    expect(e.ranking).toEqual(["10.0.0.3", "10.0.0.2", "10.0.0.1"]);
    expect(e.explanation).toMatch(/same priority as 10\.0\.0\.2, higher primary address wins/);
  });

  it("VRRP: the higher address is compared as an address, also compressed IPv6 (2001:db8::1:0 > 2001:db8::2)", () => {
    const an = new Analyzer();
    const vrrp = (src: string, t: number) => {
      const f = newFacts();
      Object.assign(f, { protocol: "vrrp", vhid: 9, src, time: t, advbase: 1, priority: 100, family: 6, mac: "00:00:5e:00:02:09" });
      an.advert(f);
    };
    vrrp("2001:db8::2", 1);
    vrrp("2001:db8::1:0", 1.2); // the higher primary address, with equal priority: takes over at once
    const v = an.view().vhids[0];
    expect(v.election!.winner).toBe("2001:db8::1:0");
    expect(v.election!.ranking).toEqual(["2001:db8::1:0", "2001:db8::2"]);
    expect(v.master?.ip).toBe("2001:db8::1:0");
  });

  it("OpenBSD semantics: the lower demote count wins before the advskew", () => {
    const an = new Analyzer({ semantics: "openbsd" });
    carp(an, "198.51.100.1", 1, { advskew: 0, demote: 5 });
    carp(an, "198.51.100.2", 1.5, { advskew: 100, demote: 0 });
    const e = an.view().vhids[0].election!;
    expect(e.winner).toBe("198.51.100.2");
    expect(e.explanation).toMatch(/^openbsd rules: .*lower demote count/);
  });
});

// The demo's capture (carp demo --ci, 2026-11-25): h1 advskew 0, h2 advskew 50, both with preempt.
// Times are the capture's, relative to its first advert; h1 is killed after its third advert.
const H1 = "198.51.100.11", H2 = "198.51.100.12";
const DEMO: [string, number, number][] = [
  [H1, 0, 0], [H1, 1.000152, 0], [H1, 2.001022, 0],
  [H2, 5.198628, 50], [H2, 6.394252, 50], // failover: h2 master after 3 × 1 + 50/256 s of silence
  [H1, 6.395994, 0], [H2, 6.396586, 50], // preempt: h1 is back; h2 sends one more advert and steps down
  [H1, 7.395487, 0], [H1, 8.39637, 0],
  [H1, 9.167507, 200], [H2, 9.16809, 50], [H1, 9.171378, 200], // handover: h1 advskew 200, h2 preempts
  [H2, 10.363777, 50], [H2, 11.561028, 50],
];

function feed(an: Analyzer, list: [string, number, number][], t0: number, vhid = 1): void {
  let ctr = 1;
  for (const [src, t, advskew] of list) {
    const f = newFacts();
    Object.assign(f, { protocol: "carp", vhid, src, time: t0 + t, advbase: 1, advskew, mac: src === H1 ? "02:00:00:00:00:01" : "02:00:00:00:00:02", ctrLo: ctr++ });
    an.advert(f);
  }
}

describe("Analyzer: handovers, preemption and overlaps", () => {
  const T = 1_795_575_933.521367;

  it("the demo: the last master is the one still advertising (h2), with failover, preempt and handover as transitions", () => {
    const an = new Analyzer();
    feed(an, DEMO, T);
    const v = an.view().vhids[0];
    expect(v.master?.ip).toBe(H2);
    expect(v.master?.since).toBeCloseTo(T + 9.16809, 6);
    expect(v.transition_log.map((x) => [x.from, x.to, +(x.time - T).toFixed(6)])).toEqual([
      [H1, H2, 5.198628],
      [H2, H1, 6.395994],
      [H1, H2, 9.16809],
    ]);
    expect(v.advskew).toBe(50);
    // h2's interval since it took over, not across its earlier mastership and its crossing advert.
    expect(v.interval.samples).toBe(2);
    expect(v.interval.mean_s).toBeCloseTo((11.561028 - 9.16809) / 2, 6);
  });

  it("the demo: preempt and handover are two short overlaps with their real durations, not two masters", () => {
    const an = new Analyzer();
    feed(an, DEMO, T);
    const v = an.view().vhids[0];
    expect(v.problems.map((p) => p.code)).not.toContain("two-masters");
    expect(v.overlaps.map((o) => [o.sources, +(o.duration_s * 1000).toFixed(3), o.two_masters])).toEqual([
      [[H2, H1], 0.592, false], // h1 preempted at 6.395994, h2's last advert at 6.396586
      [[H1, H2], 3.288, false], // h2 took over at 9.16809, h1's last advert at 9.171378
    ]);
    expect(v.notes).toEqual([expect.stringMatching(/^handover overlap 0\.6 ms/), expect.stringMatching(/^handover overlap 3\.3 ms/)]);
  });

  it("a capture ending right after a handover's crossing advert names the new master", () => {
    const an = new Analyzer();
    feed(an, DEMO.slice(0, 12), T); // ends with h1's advskew-200 advert after h2's first
    const v = an.view().vhids[0];
    expect(v.master?.ip).toBe(H2);
    expect(v.transitions).toBe(3);
  });

  it("one worse advert from another sender, then silence, does not change the master", () => {
    const an = new Analyzer();
    for (let i = 0; i < 10; i++) carp(an, "198.51.100.2", 10 + i, { advskew: 50 });
    carp(an, "198.51.100.1", 14.5, { advskew: 200 }); // e.g. a node stepping down, or a stray restart
    const v = an.view().vhids[0];
    expect(v.master?.ip).toBe("198.51.100.2");
    expect(v.transitions).toBe(0);
    expect(v.problems).toEqual([]);
  });

  it("a better sender that advertises once and goes quiet leaves the master in place after it resumes", () => {
    const an = new Analyzer();
    for (let i = 0; i < 4; i++) carp(an, "198.51.100.2", 10 + i, { advskew: 50 });
    carp(an, "198.51.100.1", 13.5, { advskew: 0 }); // preempts (the master must step down) ...
    expect(an.view().vhids[0].master?.ip).toBe("198.51.100.1");
    for (let i = 4; i < 8; i++) carp(an, "198.51.100.2", 10 + i, { advskew: 50 }); // ... but it died, .2 went on
    const v = an.view().vhids[0];
    expect(v.master?.ip).toBe("198.51.100.2");
    expect(v.transition_log.map((x) => [x.from, x.to, x.time])).toEqual([
      ["198.51.100.2", "198.51.100.1", 13.5],
      ["198.51.100.1", "198.51.100.2", 14],
    ]);
  });

  it("two separate dual-master episodes are two problems with their own durations", () => {
    const an = new Analyzer();
    const ads: [string, number, number][] = [];
    for (let i = 0; i < 30; i++) ads.push(["198.51.100.1", 100 + i, 0]); // A master throughout, 100..129
    for (let i = 0; i < 4; i++) ads.push(["198.51.100.2", 103.45 + i * 1.2, 50]); // B too, 103.45..107.05
    for (let i = 0; i < 5; i++) ads.push(["198.51.100.2", 117.45 + i * 1.2, 50]); // and again, 117.45..122.25
    for (const [src, t, advskew] of ads.sort((a, b) => a[1] - b[1])) carp(an, src, t, { advskew });
    const v = an.view().vhids[0];
    const two = v.problems.filter((p) => p.code === "two-masters");
    expect(two).toHaveLength(2);
    expect(two.every((p) => p.severity === "error")).toBe(true);
    expect(two[0].message).toMatch(/198\.51\.100\.1 and 198\.51\.100\.2 both advertised for 3\.6 s \(4 and 4 adverts\)/);
    expect(two[1].message).toMatch(/for 4\.8 s \(5 and 5 adverts\)/);
    expect(v.overlaps.map((o) => [o.two_masters, +o.duration_s.toFixed(3), o.adverts])).toEqual([
      [true, 3.6, [4, 4]],
      [true, 4.8, [5, 5]],
    ]);
    expect(v.master?.ip).toBe("198.51.100.1");
    expect(v.transitions).toBe(0);
  });
});

describe("Analyzer: source MAC severity", () => {
  const one = (mac: string) => {
    const an = new Analyzer();
    for (let i = 0; i < 3; i++) carp(an, "198.51.100.1", 10 + i, { mac });
    return an.view();
  };

  it("the virtual MAC is no problem", () => {
    expect(one("00:00:5e:00:01:03").vhids[0].problems).toEqual([]);
  });

  it("ucarp's 00:00:5e:00:00:vhid is named, as info, and not counted as a problem", () => {
    const s = one("00:00:5e:00:00:03");
    expect(s.vhids[0].problems).toEqual([
      { code: "source-mac", severity: "info", message: expect.stringContaining("source MAC 00:00:5e:00:00:03 (ucarp's advert MAC)") },
    ]);
    expect(s.problems).toBe(0);
    expect(s.info).toBe(1);
  });

  it("the interface's own MAC is named, as info", () => {
    const p = one("02:00:00:00:00:07").vhids[0].problems;
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ code: "source-mac", severity: "info" });
    expect(p[0].message).toContain("source MAC 02:00:00:00:00:07, the interface's own MAC (ucarp/userland style)");
    expect(p[0].message).toContain("00:00:5e:00:01:03");
  });

  it("another vhid's virtual MAC is a warning and counts", () => {
    const s = one("00:00:5e:00:01:04");
    expect(s.vhids[0].problems).toEqual([{ code: "source-mac", severity: "warning", message: expect.stringContaining("00:00:5e:00:01:04") }]);
    expect(s.problems).toBe(1);
  });
});

describe("Analyzer: two masters in step", () => {
  it("jitter between two masters advertising almost together does not flip the master back and forth", () => {
    const an = new Analyzer();
    const ads: [string, number][] = [];
    // Same advskew, .2 about 10 ms behind .1; every third round .1 is 30 ms late and comes after .2.
    for (let i = 0; i < 12; i++) {
      ads.push(["198.51.100.1", 10 + i + (i % 3 === 2 ? 0.03 : 0)]);
      ads.push(["198.51.100.2", 10.5 + i + 0.01 - 0.5]);
    }
    for (const [src, t] of ads.sort((a, b) => a[1] - b[1])) carp(an, src, t);
    const v = an.view().vhids[0];
    expect(v.master?.ip).toBe("198.51.100.1");
    expect(v.transitions).toBe(0);
    expect(v.problems.map((p) => p.code).sort()).toEqual(["advskew-tie", "two-masters"]);
  });
});

describe("Analyzer: the core's election rules decide a takeover", () => {
  it("ucarp: an equal advert from the tie-break winner takes over at once, as the core's election decides", () => {
    // ucarp compares the source addresses read as little-endian u32: .1 beats .2.
    const an = new Analyzer({ semantics: "ucarp" });
    for (let i = 0; i < 3; i++) carp(an, "198.51.100.2", 10 + i);
    carp(an, "198.51.100.1", 12.3);
    const v = an.view().vhids[0];
    expect(v.master?.ip).toBe("198.51.100.1");
    expect(v.transition_log).toEqual([{ time: 12.3, from: "198.51.100.2", to: "198.51.100.1" }]);
    expect(v.election!.winner).toBe("198.51.100.1"); // the prediction agrees with the transition
  });

  it("ucarp: an equal advert from the tie-break loser changes nothing", () => {
    const an = new Analyzer({ semantics: "ucarp" });
    for (let i = 0; i < 3; i++) carp(an, "198.51.100.1", 10 + i);
    carp(an, "198.51.100.2", 12.3);
    expect(an.view().vhids[0].master?.ip).toBe("198.51.100.1");
    expect(an.view().vhids[0].transitions).toBe(0);
  });

  it("freebsd and openbsd: equal adverts make both masters step down, so nobody takes over at once", () => {
    for (const semantics of ["freebsd", "openbsd"] as const) {
      const an = new Analyzer({ semantics });
      for (let i = 0; i < 3; i++) carp(an, "198.51.100.2", 10 + i, { advskew: 10, demote: 3 });
      carp(an, "198.51.100.1", 12.3, { advskew: 10, demote: 3 });
      expect(an.view().vhids[0].transitions).toBe(0);
      expect(an.view().vhids[0].election!.winner).toBeNull();
    }
  });

  it("freebsd ignores the demote byte; openbsd's lower demote takes over even with a higher advskew", () => {
    const run = (semantics: "freebsd" | "openbsd") => {
      const an = new Analyzer({ semantics });
      for (let i = 0; i < 3; i++) carp(an, "198.51.100.2", 10 + i, { advskew: 0, demote: 5 });
      carp(an, "198.51.100.1", 12.3, { advskew: 100, demote: 0 });
      return an.view().vhids[0].master?.ip;
    };
    expect(run("freebsd")).toBe("198.51.100.2");
    expect(run("openbsd")).toBe("198.51.100.1");
  });
});

describe("Analyzer: TTL", () => {
  it("TTL ≠ 255 to a multicast group is an error; on unicast it is a note (FreeBSD and node-carp accept it)", () => {
    const an = new Analyzer();
    for (let i = 0; i < 3; i++) carp(an, "198.51.100.1", 10 + i, { ttl: 254, multicast: false });
    carp(an, "198.51.100.2", 10.5, { ttl: 64, advskew: 100 });
    const v = an.view().vhids[0];
    expect(v.problems).toEqual([{ code: "ttl", severity: "error", message: expect.stringMatching(/^1 multicast advert\(s\) with TTL\/hop limit ≠ 255 \(198\.51\.100\.2 ttl 64\)/) }]);
    expect(v.notes).toContain(
      "3 unicast advert(s) with TTL/hop limit ≠ 255 (198.51.100.1 ttl 254): FreeBSD and node-carp accept them, OpenBSD and ucarp drop them",
    );
  });
});
