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

  it("OpenBSD semantics: the lower demote count wins before the advskew", () => {
    const an = new Analyzer({ semantics: "openbsd" });
    carp(an, "198.51.100.1", 1, { advskew: 0, demote: 5 });
    carp(an, "198.51.100.2", 1.5, { advskew: 100, demote: 0 });
    const e = an.view().vhids[0].election!;
    expect(e.winner).toBe("198.51.100.2");
    expect(e.explanation).toMatch(/^openbsd rules: .*lower demote count/);
  });
});
