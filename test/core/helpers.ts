// Shared test helpers for the election core: build vhids, feed inputs, pick actions apart.
import type { IpFamily } from "../../src/protocol/types.js";
import { createVhid, step } from "../../src/core/vhid.js";
import type { Action, Input, StepResult, TimerName, VhidParams, VhidState } from "../../src/core/types.js";
import type { VhidInit } from "../../src/core/vhid.js";

export const ME = "198.51.100.1";
export const PEER = "198.51.100.2";
export const ME6 = "2001:db8::1";
export const PEER6 = "2001:db8::2";

export function mk(p: Partial<VhidParams> = {}, init: Partial<VhidInit> = {}): VhidState {
  const r = createVhid(
    { vhid: 1, vips: { v4: 1, v6: 0 }, ownAddresses: [ME, ME6], ...p },
    { counter: 1000n, ...init },
  );
  if (!r.ok) throw new Error(r.errors.join("; "));
  return r.value;
}

/** Steps and fails loudly on an error value. */
export function run(s: VhidState, input: Input, now: number): StepResult {
  const r = step(s, input, now);
  if (r.error) throw new Error(r.error);
  return r;
}

export const start = (s: VhidState, now = 0) => run(s, { kind: "command", command: { op: "start" } }, now);

/** A vhid that went INIT -> BACKUP at t0 and MASTER by master-down timeout. */
export function master(p: Partial<VhidParams> = {}, init: Partial<VhidInit> = {}): { s: VhidState; at: number } {
  let s = start(mk(p, init), 0).state;
  const at = s.timers.masterDown4 ?? s.timers.masterDown6!;
  s = run(s, { kind: "timer", timer: s.timers.masterDown4 !== undefined ? "masterDown4" : "masterDown6" }, at).state;
  if (s.state !== "MASTER") throw new Error("helper: did not become MASTER");
  return { s, at };
}

export const backup = (p: Partial<VhidParams> = {}, init: Partial<VhidInit> = {}) => start(mk(p, init), 0).state;

export function advert(
  o: { from?: string; family?: IpFamily; vhid?: number; advbase?: number; advskew?: number; demote?: number; counter?: bigint } = {},
): Input {
  return {
    kind: "advert",
    from: o.from ?? PEER,
    family: o.family ?? 4,
    header: {
      version: 2,
      type: 1,
      vhid: o.vhid ?? 1,
      advskew: o.advskew ?? 0,
      authlen: 7,
      demote: o.demote ?? 0,
      advbase: o.advbase ?? 1,
      checksum: 0,
      counter: o.counter ?? 5n,
      hmac: Buffer.alloc(20),
    },
  };
}

export const cmd = (command: Extract<Input, { kind: "command" }>["command"]): Input => ({ kind: "command", command });

export const kinds = (actions: Action[]) => actions.map((a) => a.kind);
export const sends = (actions: Action[]) => actions.filter((a): a is Extract<Action, { kind: "send" }> => a.kind === "send");
export const transitions = (actions: Action[]) =>
  actions.filter((a): a is Extract<Action, { kind: "transition" }> => a.kind === "transition");
/** The deadline a step left for `timer` (timers are deadlines in the state, not actions). */
export const armOf = (r: StepResult, timer: TimerName) => r.state.timers[timer];
export const announces = (actions: Action[]) =>
  actions.filter((a): a is Extract<Action, { kind: "announce" }> => a.kind === "announce");
export const demotes = (actions: Action[]) =>
  actions.filter((a): a is Extract<Action, { kind: "demote" }> => a.kind === "demote");
