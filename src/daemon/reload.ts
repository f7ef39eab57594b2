// What a SIGHUP changes: a pure comparison of the running configuration with the new one. Unchanged
// vhids keep their state; advbase/advskew/preempt/demote/group/track/preemptDelay/startBackup changes
// become one atomic core `set` (MASTER stays MASTER); garpRepeat/garpRefresh are daemon-side and change
// in place; any other change (password, addresses, vmac, antiReplay, VRRPv3, hooks, ...) rebuilds the
// vhid, with the changed fields named; removed vhids bow out. Nothing is silently ignored.
import type { Config, VhidConfig } from "./config.js";

export interface VhidChange {
  advbase?: number;
  advskew?: number;
  preempt?: boolean;
  /** Added to the vhid's demotion (like `carp set --demote`). */
  demote?: number;
  /** The core's demotion groups: `group:` plus "check:NAME" per tracked check (interfaces.ts vhidParams). */
  groups?: string[];
  preemptDelayMs?: number;
  startBackup?: boolean;
}

/** Fields a kept vhid changes in place: core ones through `set`, daemon ones (garp*) by its new config. */
const IN_PLACE = ["advskew", "advbase", "preempt", "demote", "groups", "track", "preemptDelayMs", "startBackup", "garpRefreshMs", "garpRepeat"] as const;

/** The configuration fields that differ between two versions of a vhid. */
export function changedFields(a: VhidConfig, b: VhidConfig): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as (keyof VhidConfig)[]);
  const enc = (x: unknown) => JSON.stringify(Buffer.isBuffer(x) ? x.toString("hex") : x);
  return [...keys].filter((k) => enc(a[k]) !== enc(b[k])).sort();
}

const coreGroups = (v: VhidConfig) => [...(v.groups ?? []), ...(v.track ?? []).map((t) => `check:${t}`)];

export interface ReloadPlan {
  /** Vhids that go away (graceful stop), by "vhid@interface". */
  remove: VhidConfig[];
  /** Vhids whose sockets, auth, hooks or mode change: stopped, then started again from `next`; `why` names the fields. */
  rebuild: { old: VhidConfig; next: VhidConfig; why: string[] }[];
  add: VhidConfig[];
  /**
   * Vhids that stay, with the core changes to apply to the running state (empty `set`: none) and every
   * changed field (`changed`, for the log; garpRefreshMs in it means the refresh timer restarts).
   */
  keep: { next: VhidConfig; set: VhidChange; changed: string[] }[];
  /** The configured global demotion, when it changed. */
  demotion?: number;
  devdChanged: boolean;
  facilityChanged: boolean;
}

export const vhidKey = (v: Pick<VhidConfig, "vhid" | "interface">) => `${v.vhid}@${v.interface}`;

/** Fields whose change needs the vhid rebuilt (new auth, sockets or hooks) rather than a core command. */
export function structuralKey(v: VhidConfig): string {
  const rest: Partial<VhidConfig> = { ...v };
  for (const k of IN_PLACE) delete rest[k];
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
    else if (structuralKey(n) !== structuralKey(o)) plan.rebuild.push({ old: o, next: n, why: changedFields(o, n).filter((f) => !(IN_PLACE as readonly string[]).includes(f)) });
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
    if (JSON.stringify(coreGroups(n)) !== JSON.stringify(coreGroups(o))) set.groups = coreGroups(n);
    if ((n.preemptDelayMs ?? 0) !== (o.preemptDelayMs ?? 0)) set.preemptDelayMs = n.preemptDelayMs ?? 0;
    if ((n.startBackup ?? false) !== (o.startBackup ?? false)) set.startBackup = n.startBackup ?? false;
    plan.keep.push({ next: n, set, changed: changedFields(o, n) });
  }
  return plan;
}
