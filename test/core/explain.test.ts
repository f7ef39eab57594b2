// status() snapshot and its human explanation.
import { describe, expect, it } from "vitest";
import { explain } from "../../src/core/explain.js";
import { status } from "../../src/core/vhid.js";
import { advert, backup, master, run } from "./helpers.js";

describe("status and explain", () => {
  it("status carries state, reason, skews, demotion, last master and counters", () => {
    const s = run(backup({ advskew: 10, preempt: false }, { globalDemotion: 5 }), advert({ advskew: 20 }), 1500).state;
    const st = status(s);
    expect(st).toMatchObject({
      vhid: 1,
      semantics: "freebsd",
      state: "BACKUP",
      reason: "initialization complete",
      advbase: 1,
      advskew: 10,
      effectiveAdvskew: 15,
      demoteByte: 0,
      demotion: { global: 5, vhid: 0, total: 5 },
      preempt: false,
      lastMaster: { address: "198.51.100.2", advskew: 20, at: 1500 },
      stats: { ipackets: 1, opackets: 0, transitions: 1, preempt: 0 },
    });
    expect(st.timers).toEqual({ masterDown4: 1500 + 3039.062 });
  });

  it("explains a MASTER and a BACKUP in plain words", () => {
    const { s } = master({ advskew: 10 }, { globalDemotion: 20 });
    expect(explain(status(s), 4000)).toBe(
      "vhid 1 is MASTER for 1.0 s: master timed out. We advertise advbase 1 advskew 30 (configured 10, demotion 20: global 20, vhid 0). Preempt is off; freebsd rules. No advertisement from another node has been received.",
    );
    const b = run(backup({ semantics: "openbsd" }), advert({ advbase: 255, advskew: 255 }), 100).state;
    // a bow-out with our advbase 1 makes us MASTER at once
    expect(explain(status(b))).toMatch(/^vhid 1 is MASTER since 100 ms: bow-out received from 198\.51\.100\.2\. We advertise advbase 1 advskew 0, demote 0\..*\(a bow-out\) at 100 ms\.$/);
  });
});
