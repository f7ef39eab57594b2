// What a SIGHUP changes: a pure comparison of the running configuration with the new one. Unchanged
// vhids keep their state; advbase/advskew/preempt/demote changes become one atomic `set` (MASTER stays
// MASTER); any other change rebuilds the vhid (new auth, sockets or hooks); removed vhids bow out.
import type { Config, VhidConfig } from "./config.js";

export interface VhidChange {
  advbase?: number;
  advskew?: number;
  preempt?: boolean;
  /** Added to the vhid's demotion (like `carp set --demote`). */
  demote?: number;
}

export interface ReloadPlan {
  /** Vhids that go away (graceful stop), by "vhid@interface". */
  remove: VhidConfig[];
  /** Vhids whose sockets, auth or hooks change: stopped, then started again from `next`. */
  rebuild: { old: VhidConfig; next: VhidConfig }[];
  add: VhidConfig[];
  /** Vhids that stay, with the changes to apply to the running state (empty `set`: config only). */
  keep: { next: VhidConfig; set: VhidChange }[];
  /** The configured global demotion, when it changed. */
  demotion?: number;
  devdChanged: boolean;
  facilityChanged: boolean;
}

export const vhidKey = (v: Pick<VhidConfig, "vhid" | "interface">) => `${v.vhid}@${v.interface}`;

/** Fields whose change needs the vhid rebuilt (new auth, sockets or hooks) rather than a core command. */
export function structuralKey(v: VhidConfig): string {
  const { advskew: _a, advbase: _b, preempt: _p, demote: _d, ...rest } = v;
  return JSON.stringify({ ...rest, password: v.password.toString("hex") });
}

export function planReload(old: Config, next: Config): ReloadPlan {
  const oldBy = new Map(old.vhids.map((v) => [vhidKey(v), v]));
  const newBy = new Map(next.vhids.map((v) => [vhidKey(v), v]));
  const plan: ReloadPlan = {
    remove: [],
    rebuild: [],
    add: [],
    keep: [],
    devdChanged: old.devdConf !== next.devdConf,
    facilityChanged: old.facility !== next.facility,
  };
  if (old.demotion !== next.demotion) plan.demotion = next.demotion;
  for (const [key, o] of oldBy) {
    const n = newBy.get(key);
    if (!n) plan.remove.push(o);
    else if (structuralKey(n) !== structuralKey(o)) plan.rebuild.push({ old: o, next: n });
  }
  for (const [key, n] of newBy) {
    const o = oldBy.get(key);
    if (!o) {
      plan.add.push(n);
      continue;
    }
    if (structuralKey(n) !== structuralKey(o)) continue;
    const set: VhidChange = {};
    if (n.advbase !== o.advbase) set.advbase = n.advbase;
    if (n.advskew !== o.advskew) set.advskew = n.advskew;
    if (n.preempt !== o.preempt) set.preempt = n.preempt;
    if (n.demote !== o.demote) set.demote = n.demote - o.demote;
    plan.keep.push({ next: n, set });
  }
  return plan;
}
