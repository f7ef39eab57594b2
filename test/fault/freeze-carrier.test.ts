// The master frozen (SIGSTOP 10 s, then SIGCONT) and the master's carrier lost for 10 s (the bridge end
// of its veth down). Each: no crash, the states, one step-down and no second flap, and the time with
// the VIP on two hosts. Two daemons with default options (the backup has advskew 100).
import { execFileSync } from "node:child_process";
import { describe, expect, test } from "vitest";
import { labScope, sleep, waitFor } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";
import { allAlive, flaps, lastSeen, oneMaster, state, status, VIP4, VipWatch, masterAndBackup } from "./fault-lab.js";

const { tmp, lab } = labScope("carp-fault-freeze-");
const FREEZE_MS = Number(process.env.FAULT_FREEZE_MS ?? 10_000);

describe.concurrent("freeze and carrier loss", () => {
  requires("netns", "ours");

  test(`master SIGSTOP ${FREEZE_MS / 1000} s then SIGCONT: the backup takes over, one step-down, no second flap`, async () => {
    const l = lab(2, "fz");
    const [a, b] = l.hosts;
    const { na, nb, nodes } = await masterAndBackup(tmp, a, b);
    const w = await VipWatch.start([a, b], VIP4);
    const t0 = Date.now();
    process.kill(na.p.pid, "SIGSTOP");
    const took = await nb.p.waitState("MASTER", 8000, t0);
    const takeoverMs = (took.ts as number) - t0;
    await sleep(Math.max(0, t0 + FREEZE_MS - Date.now()));
    const tCont = Date.now();
    process.kill(na.p.pid, "SIGCONT");
    // One master again, then 6 s (6 adverts) of quiet.
    expect(await oneMaster(nodes, 8000), lastSeen(nodes)).toBe(0);
    const settledMs = Date.now() - tCont;
    await sleep(6000);
    expect(await oneMaster(nodes, 0), lastSeen(nodes)).toBe(0);
    expect(await allAlive(nodes)).toBe(true);
    // The backup took over once and stepped down once; the resumed master never left MASTER.
    expect(flaps(nodes, t0)).toEqual(["1:BACKUP->MASTER", "1:MASTER->BACKUP"]);
    const down = nb.p.transitions("BACKUP").at(-1)!;
    const stepDownMs = (down.ts as number) - tCont;
    expect(stepDownMs).toBeLessThan(2000);
    // A frozen daemon cannot remove its VIP: two hosts hold it from the takeover until the step-down.
    const frozenOverlap = w.overlapMs(t0);
    const afterCont = w.overlapMs(tCont);
    expect(afterCont).toBeLessThan(2000);
    expect(w.holders()).toEqual([0]);
    console.log(`sigstop: takeover ${takeoverMs} ms after SIGSTOP; step-down ${stepDownMs} ms after SIGCONT (one master ${settledMs} ms); VIP on two hosts ${frozenOverlap} ms in all, ${afterCont} ms after SIGCONT`);
  });

  test(`carrier loss ${FREEZE_MS / 1000} s on the master: INIT, backup takes over, no flap when the carrier returns`, async () => {
    const l = lab(2, "fc");
    const [a, b] = l.hosts;
    const { na, nb, nodes } = await masterAndBackup(tmp, a, b);
    const w = await VipWatch.start([a, b], VIP4);
    const t0 = Date.now();
    execFileSync("ip", ["-n", l.bridgeNs, "link", "set", "ph0", "down"]); // a's eth0 loses its carrier
    const init = await na.p.waitState("INIT", 5000, t0);
    const took = await nb.p.waitState("MASTER", 8000, t0);
    expect(await waitFor(async () => (await state(na)) === "INIT", 2000)).toBe(true);
    const st = await status(na);
    expect(st.ledger.some((e) => /ifdown/.test(String(e.source)))).toBe(true);
    await sleep(Math.max(0, t0 + FREEZE_MS - Date.now()));
    const tUp = Date.now();
    execFileSync("ip", ["-n", l.bridgeNs, "link", "set", "ph0", "up"]);
    await na.p.waitState("BACKUP", 8000, tUp);
    await sleep(5000);
    // No preempt by default: b keeps the VIP, a is BACKUP with its ifdown demotion gone.
    expect(await oneMaster(nodes, 0), lastSeen(nodes)).toBe(1);
    expect((await status(na)).ledger.some((e) => /ifdown/.test(String(e.source)))).toBe(false);
    expect(flaps(nodes, t0)).toEqual(["0:MASTER->INIT", "0:INIT->BACKUP", "1:BACKUP->MASTER"]);
    expect(await allAlive(nodes)).toBe(true);
    const overlap = w.overlapMs(t0);
    expect(w.overlapMs(tUp)).toBe(0);
    expect(w.holders()).toEqual([1]);
    expect(w.gapMs(t0 + 100)).toBeLessThan(6000);
    console.log(`carrier: INIT ${(init.ts as number) - t0} ms after carrier loss, backup MASTER after ${(took.ts as number) - t0} ms; VIP on two hosts ${overlap} ms, on none ${w.gapMs(t0)} ms`);
  });
});
