// A frozen master (SIGSTOP, 5 s here; CARP_FREEZE_S=10 for the 10 s): an observer's UDP stream
// to the VIP (one datagram every 10 ms) must reach the new master within master-down + 50 ms of the
// freeze (+ a generous margin for two busy cores), and the frozen host must receive none of it once
// the new master has taken over. Run with and without --vmac; the numbers are printed for the report.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { createLab, sleep, type Lab, type LabHost } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const tmp = mkdtempSync(join(tmpdir(), "carp-vmfz-"));
const labs: Lab[] = [];
afterAll(async () => {
  await Promise.all(labs.map((l) => l.destroy()));
  rmSync(tmp, { recursive: true, force: true });
});

const VIP = "198.51.100.119";
const FREEZE_S = Number(process.env.CARP_FREEZE_S ?? 5);
// b's master-down: 3 × advbase 1 + advskew 20/256.
const MASTER_DOWN_MS = 3000 + (20 / 256) * 1000;

const RECV = `import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
s.bind(("0.0.0.0",9999))
print("ready",flush=True)
while True:
    d,_=s.recvfrom(64)
    print("%.6f %s"%(time.time(),d.decode()),flush=True)`;
const SEND = (secs: number) => `import socket,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
end=time.time()+${secs}
i=0
while time.time()<end:
    s.sendto(str(i).encode(),("${VIP}",9999)); i+=1; time.sleep(0.01)`;

const received = (lines: string[]) => lines.filter((l) => /^\d+\.\d+ \d+$/.test(l)).map((l) => Number(l.split(" ")[0]) * 1000);

async function scenario(vmac: boolean) {
  const l = createLab({ hosts: 3, prefix: vmac ? "fv" : "fn" });
  labs.push(l);
  const [a, b, obs] = l.hosts;
  const run = (h: LabHost, skew: number) =>
    h.carp([
      "run", "-i", "eth0", "-v", "19", "-p", "frz", "-a", `${VIP}/24`, "--semantics", "freebsd", "-b", "1", "-k", String(skew),
      ...(vmac ? ["--vmac", "--fix-sysctls"] : []), "--log-format", "json", "-f", "none", "--control", join(tmp, `${h.ns}.sock`),
    ]);
  const ra = a.spawn("python3", ["-u", "-c", RECV]);
  const rb = b.spawn("python3", ["-u", "-c", RECV]);
  const na = run(a, 10);
  await na.waitState("MASTER", 8000);
  const nb = run(b, 20);
  await nb.waitState("BACKUP", 5000);
  await sleep(1500);
  const tx = obs.spawn("python3", ["-c", SEND(FREEZE_S + 4)]);
  await sleep(1000);
  const t0 = Date.now();
  process.kill(na.child.pid!, "SIGSTOP");
  const takeover = await nb.waitState("MASTER", MASTER_DOWN_MS + 3000, t0);
  await sleep(Math.max(0, t0 + FREEZE_S * 1000 - Date.now()));
  const thaw = Date.now();
  process.kill(na.child.pid!, "SIGCONT");
  await tx.exited;
  await sleep(300);
  const atA = received(ra.lines);
  const atB = received(rb.lines);
  const takeoverAt = takeover.ts as number;
  const firstAtB = atB.find((t) => t > t0);
  const aAfterTakeover = atA.filter((t) => t > takeoverAt + 50 && t < thaw);
  const r = {
    vmac,
    freezeS: FREEZE_S,
    takeoverAfterFreezeMs: Math.round(takeoverAt - t0),
    firstAtNewMasterAfterFreezeMs: firstAtB === undefined ? null : Math.round(firstAtB - t0),
    masterDownMs: Math.round(MASTER_DOWN_MS),
    frozenHostReceivedAfterTakeover: aAfterTakeover.length,
    frozenHostLastAfterTakeoverMs: aAfterTakeover.length ? Math.round(aAfterTakeover[aAfterTakeover.length - 1] - takeoverAt) : null,
    firstAtNewMasterAfterTakeoverMs: firstAtB === undefined ? null : Math.round(firstAtB - takeoverAt),
    newMasterReceivedDuringFreeze: atB.filter((t) => t > t0 && t < thaw).length,
  };
  console.log(`freeze ${JSON.stringify(r)}`);
  for (const p of [na, nb, ra, rb]) p.kill("SIGTERM");
  await Promise.all([na.exited, nb.exited]);
  return r;
}

describe("frozen master (SIGSTOP)", () => {
  requires("netns");
  test("with --vmac: traffic reaches the new master within master-down + 50 ms (+ margin), none reaches the frozen host after the takeover", async () => {
    const r = await scenario(true);
    expect(r.firstAtNewMasterAfterFreezeMs).not.toBeNull();
    // master-down + 50 ms is the goal (reported); the bound leaves room for two busy cores.
    expect(r.firstAtNewMasterAfterFreezeMs!).toBeLessThan(r.masterDownMs + 50 + 1000);
    expect(r.frozenHostReceivedAfterTakeover).toBe(0);
  }, 60_000);

  test("without --vmac (for comparison): the same measurement, reported", async () => {
    const r = await scenario(false);
    expect(r.firstAtNewMasterAfterFreezeMs).not.toBeNull();
    expect(r.newMasterReceivedDuringFreeze).toBeGreaterThan(0);
  }, 60_000);
});
