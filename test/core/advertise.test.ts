import { describe, expect, it } from "vitest";

import { backup, master, run } from "./helpers.js";
import type { Action } from "../../src/core/types.js";

const sends = (a: Action[]) => a.filter((x): x is Extract<Action, { kind: "send" }> => x.kind === "send");

describe("advertise command", () => {
  it("a MASTER sends at once with its new advskew and restarts its interval from now", () => {
    const { s: m, at } = master({ advbase: 1, advskew: 0 });
    const t = at + 300;
    const s1 = run(m, { kind: "command", command: { op: "setAdvskew", value: 100 } }, t);
    expect(sends(s1.actions)).toEqual([]); // setting alone does not advertise
    const r = run(s1.state, { kind: "command", command: { op: "advertise" } }, t);
    const out = sends(r.actions);
    expect(out.length).toBe(1);
    expect(out[0].advert.advskew).toBe(100);
    expect(r.state.timers).toEqual({ advertise: t + 1000 + Math.floor((100 * 1e6) / 256) / 1000 });
    expect(r.state.timers.advertise).toBe(t + 1000 + 390.625);
    expect(r.state.counter).toBeGreaterThan(m.counter);
  });

  it("does nothing in BACKUP or when stopped (no send, no timer change)", () => {
    const b = backup();
    const r = run(b, { kind: "command", command: { op: "advertise" } }, 50);
    expect(r.actions).toEqual([]);
    expect(r.state.timers).toEqual(b.timers);
    const { s: m, at } = master();
    const stopped = run(m, { kind: "command", command: { op: "stop", graceful: false } }, at + 1).state;
    expect(run(stopped, { kind: "command", command: { op: "advertise" } }, at + 2).actions).toEqual([]);
  });
});
