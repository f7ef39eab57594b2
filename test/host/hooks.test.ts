// Real scripts in a temp dir: ucarp argv, environment, per-vhid serialization, non-blocking caller,
// timeout kill (including the script's children), exit status reporting, --neutral and -z behaviour.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAddress } from "../../src/daemon/config.js";
import { HookRunner, hookInvocations, scriptFor, type HookConfig, type HookResult } from "../../src/host/hooks.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "carp-hooks-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

function cfg(over: Partial<HookConfig> = {}): HookConfig {
  return {
    interface: "eth0",
    vhid: 42,
    addresses: [parseAddress("10.1.1.252", "t"), parseAddress("2001:db8::7/64", "t")],
    neutral: false,
    shutdownScript: false,
    hookMode: "per-vip",
    hookTimeoutMs: 5000,
    ...over,
  };
}

describe("which script runs", () => {
  const c = cfg({ upscript: "/up", downscript: "/down" });
  it("follows ucarp", () => {
    expect(scriptFor(c, { from: "BACKUP", to: "MASTER", reason: "" }, false)).toBe("/up");
    expect(scriptFor(c, { from: "INIT", to: "BACKUP", reason: "" }, true)).toBe("/down");
    expect(scriptFor({ ...c, neutral: true }, { from: "INIT", to: "BACKUP", reason: "" }, true)).toBeUndefined();
    expect(scriptFor({ ...c, neutral: true }, { from: "MASTER", to: "BACKUP", reason: "" }, false)).toBe("/down");
    expect(scriptFor(c, { from: "MASTER", to: "INIT", reason: "" }, false)).toBe("/down");
    expect(scriptFor(c, { from: "BACKUP", to: "INIT", reason: "" }, false)).toBeUndefined();
  });
  it("builds ucarp argv per VIP, or one call with every VIP", () => {
    const t = { from: "BACKUP" as const, to: "MASTER" as const, reason: "master timed out" };
    const per = hookInvocations({ ...c, xparam: "extra" }, t, "/up");
    expect(per.map((i) => i.args)).toEqual([
      ["eth0", "10.1.1.252", "extra"],
      ["eth0", "2001:db8::7", "extra"],
    ]);
    const withEnv = hookInvocations(c, { ...t, env: { CARP_MASTER_SRC: "192.0.2.9", CARP_VHID: "evil" } }, "/up");
    expect(withEnv[0].env).toMatchObject({ CARP_MASTER_SRC: "192.0.2.9", CARP_VHID: "42", CARP_VIP: "10.1.1.252" });
    const all = hookInvocations({ ...c, hookMode: "all" }, t, "/up");
    expect(all.length).toBe(1);
    expect(all[0].args).toEqual(["eth0", "10.1.1.252 2001:db8::7"]);
    expect(all[0].env.CARP_VIPS).toBe("10.1.1.252/32 2001:db8::7/64");
  });
});

describe("HookRunner with real scripts", () => {
  it("passes argv and environment like ucarp plus CARP_* variables", async () => {
    const out = join(dir, "argv.txt");
    const up = script("up.sh", `printf '%s|' "$#" "$@" >> ${out}; echo "V=$CARP_VHID S=$CARP_STATE P=$CARP_PREV_STATE R=$CARP_REASON I=$CARP_INTERFACE VIPS=$CARP_VIPS" >> ${out}`);
    const r = new HookRunner();
    const res = await r.transition(cfg({ upscript: up, xparam: "x1" }), { from: "BACKUP", to: "MASTER", reason: "master timed out" });
    expect(res.map((x) => x.code)).toEqual([0, 0]);
    expect(readFileSync(out, "utf8").split("\n").filter(Boolean)).toEqual([
      "3|eth0|10.1.1.252|x1|V=42 S=MASTER P=BACKUP R=master timed out I=eth0 VIPS=10.1.1.252/32 2001:db8::7/64",
      "3|eth0|2001:db8::7|x1|V=42 S=MASTER P=BACKUP R=master timed out I=eth0 VIPS=10.1.1.252/32 2001:db8::7/64",
    ]);
    // Without xparam the third argument is absent, not empty.
    const out2 = join(dir, "argc.txt");
    const up2 = script("up2.sh", `echo "$#" >> ${out2}`);
    await r.transition(cfg({ upscript: up2, addresses: [parseAddress("10.1.1.252", "t")] }), { from: "BACKUP", to: "MASTER", reason: "" });
    expect(readFileSync(out2, "utf8").trim()).toBe("2");
  });

  it("never blocks the caller, runs one vhid's hooks in order, drops a queued hook a newer transition superseded", async () => {
    const log = join(dir, "order.txt");
    const up = script("slow-up.sh", `echo "start up $CARP_VHID" >> ${log}; sleep 0.3; echo "end up $CARP_VHID" >> ${log}`);
    const down = script("down.sh", `echo "start down $CARP_VHID" >> ${log}; echo "end down $CARP_VHID" >> ${log}`);
    const r = new HookRunner();
    const c = cfg({ upscript: up, downscript: down, addresses: [parseAddress("10.1.1.252", "t")] });
    const t0 = Date.now();
    const p1 = r.transition(c, { from: "BACKUP", to: "MASTER", reason: "a" });
    const p2 = r.transition(c, { from: "MASTER", to: "BACKUP", reason: "b" });
    const p3 = r.transition(c, { from: "BACKUP", to: "MASTER", reason: "c" });
    expect(Date.now() - t0).toBeLessThan(50); // returned immediately
    expect(r.pending(c)).toBe(3);
    expect(existsSync(log)).toBe(false); // nothing ran synchronously
    const [r1, r2, r3] = await Promise.all([p1, p2, p3]);
    expect(r.pending(c)).toBe(0);
    // Three transitions in one tick: only the newest runs; the others are reported, never started.
    expect(readFileSync(log, "utf8").trim().split("\n")).toEqual(["start up 42", "end up 42"]);
    expect(r1).toMatchObject([{ to: "MASTER", code: null, superseded: true, error: "superseded by a newer transition: not run" }]);
    expect(r2).toMatchObject([{ to: "BACKUP", code: null, superseded: true }]);
    expect(r3.map((x) => [x.code, x.superseded])).toEqual([[0, undefined]]);

    // A running hook finishing within the grace is left alone; the queued one behind it is dropped.
    rmSync(log);
    const q1 = r.transition(c, { from: "BACKUP", to: "MASTER", reason: "a" });
    for (let i = 0; i < 100 && !existsSync(log); i++) await new Promise((z) => setTimeout(z, 10));
    const q2 = r.transition(c, { from: "MASTER", to: "BACKUP", reason: "b" });
    const q3 = r.transition(c, { from: "BACKUP", to: "MASTER", reason: "c" });
    const [s1, s2, s3] = await Promise.all([q1, q2, q3]);
    expect(readFileSync(log, "utf8").trim().split("\n")).toEqual(["start up 42", "end up 42", "start up 42", "end up 42"]);
    expect([s1[0].code, s1[0].superseded, s2[0].superseded, s3[0].code]).toEqual([0, undefined, true, 0]);
  });

  it("a hung hook of one transition delays the next transition's hook by the 1 s grace only; its group is killed", async () => {
    const pidFile = join(dir, "hung-down.pids");
    const upLog = join(dir, "after-hung.txt");
    // The hung initial downscript: a background child in its group plus a leader waiting on it.
    const down = script("hung-down.sh", `sleep 60 & echo "$$ $!" > ${pidFile}; wait`);
    const up = script("next-up.sh", `date +%s%3N > ${upLog}`);
    const results: HookResult[] = [];
    const r = new HookRunner({ onResult: (x) => results.push(x) });
    const c = cfg({ upscript: up, downscript: down, hookTimeoutMs: 30_000, addresses: [parseAddress("10.1.1.9", "t")] });
    const pDown = r.transition(c, { from: "INIT", to: "BACKUP", reason: "start" });
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) await new Promise((z) => setTimeout(z, 20));
    const [leader, child] = readFileSync(pidFile, "utf8").trim().split(" ").map(Number);
    const t0 = Date.now();
    const [upRes] = await r.transition(c, { from: "BACKUP", to: "MASTER", reason: "master timed out" });
    const upStartedAfter = Number(readFileSync(upLog, "utf8").trim()) - t0;
    expect(upRes.code).toBe(0);
    expect(upStartedAfter).toBeGreaterThanOrEqual(900); // the grace
    expect(upStartedAfter).toBeLessThan(3000); // not the 30 s timeout
    const [downRes] = await pDown;
    expect(downRes).toMatchObject({ superseded: true, timedOut: false, signal: "SIGTERM", to: "BACKUP" });
    expect(downRes.error).toBe("superseded by a newer transition: killed after 1000 ms (SIGTERM)");
    expect(results.map((x) => [x.to, !!x.superseded])).toEqual([["BACKUP", true], ["MASTER", false]]);
    // The superseded hook's whole process group is gone (a zombie child awaiting reaping counts as gone).
    const gone = (pid: number) => {
      try {
        return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
      } catch {
        return true;
      }
    };
    for (let i = 0; i < 40 && !(gone(leader) && gone(child)); i++) await new Promise((z) => setTimeout(z, 50));
    expect(gone(leader)).toBe(true);
    expect(gone(child)).toBe(true);
    console.log(`hung downscript superseded: next upscript started ${upStartedAfter} ms after its transition`);
  });

  it("a superseded hook that ignores SIGTERM is SIGKILLed 0.5 s later", async () => {
    const stubborn = script("stubborn-down.sh", `trap '' TERM; while :; do sleep 0.05; done`);
    const up = script("quick-up.sh", `exit 0`);
    const r = new HookRunner({ supersedeGraceMs: 200 });
    const c = cfg({ upscript: up, downscript: stubborn, hookTimeoutMs: 30_000, addresses: [parseAddress("10.1.1.9", "t")] });
    const pDown = r.transition(c, { from: "INIT", to: "BACKUP", reason: "start" });
    await new Promise((z) => setTimeout(z, 100));
    const t0 = Date.now();
    await r.transition(c, { from: "BACKUP", to: "MASTER", reason: "" });
    expect(Date.now() - t0).toBeLessThan(2500);
    const [d] = await pDown;
    expect(d).toMatchObject({ superseded: true, signal: "SIGKILL" });
  });

  it("runs different vhids independently (a slow hook of one does not delay another)", async () => {
    const slow = script("slow.sh", `sleep 1`);
    const fastLog = join(dir, "fast.txt");
    const fast = script("fast.sh", `echo done >> ${fastLog}`);
    const r = new HookRunner();
    const one = cfg({ vhid: 1, upscript: slow, addresses: [parseAddress("10.1.1.1", "t")] });
    const two = cfg({ vhid: 2, upscript: fast, addresses: [parseAddress("10.1.1.2", "t")] });
    const ps = r.transition(one, { from: "BACKUP", to: "MASTER", reason: "" });
    const t0 = Date.now();
    await r.transition(two, { from: "BACKUP", to: "MASTER", reason: "" });
    expect(Date.now() - t0).toBeLessThan(800);
    expect(readFileSync(fastLog, "utf8").trim()).toBe("done");
    await ps;
    await r.idle();
  });

  it("kills a script (and its children) on timeout and reports exit status", async () => {
    const pidFile = join(dir, "child.pid");
    const hang = script("hang.sh", `sleep 30 & echo $! > ${pidFile}; wait`);
    const fail = script("fail.sh", `echo oops >&2; exit 3`);
    const results: HookResult[] = [];
    const r = new HookRunner({ onResult: (x) => results.push(x), killGraceMs: 200 });
    const c = cfg({ upscript: hang, downscript: fail, hookTimeoutMs: 300, addresses: [parseAddress("10.1.1.9", "t")] });
    const t0 = Date.now();
    const [res] = await r.transition(c, { from: "BACKUP", to: "MASTER", reason: "" });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(res.timedOut).toBe(true);
    expect(res.code).toBeNull();
    expect(res.signal).toBe("SIGTERM");
    const childPid = Number(readFileSync(pidFile, "utf8"));
    let alive = true;
    // A killed child is reparented and may stay a zombie until something reaps it: zombie = dead.
    const running = (pid: number) => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 40 && alive; i++) {
      alive = running(childPid);
      if (alive) await new Promise((z) => setTimeout(z, 50));
    }
    expect(alive).toBe(false); // the background sleep died with its process group
    const [f] = await r.transition(c, { from: "MASTER", to: "BACKUP", reason: "" });
    expect(f.code).toBe(3);
    expect(f.timedOut).toBe(false);
    expect(f.stderr.trim()).toBe("oops");
    expect(results.map((x) => x.code)).toEqual([null, 3]);
  });

  it("escalates to SIGKILL when the script ignores SIGTERM", async () => {
    const stubborn = script("stubborn.sh", `trap '' TERM; while :; do sleep 0.05; done`);
    const r = new HookRunner({ killGraceMs: 200 });
    const [res] = await r.transition(cfg({ upscript: stubborn, hookTimeoutMs: 200, addresses: [parseAddress("10.1.1.9", "t")] }), {
      from: "BACKUP", to: "MASTER", reason: "",
    });
    expect(res.timedOut).toBe(true);
    expect(res.signal).toBe("SIGKILL");
  });

  it("reports a missing or non-executable script as an error value", async () => {
    const r = new HookRunner();
    const [a] = await r.transition(cfg({ upscript: join(dir, "nope.sh"), addresses: [parseAddress("10.1.1.9", "t")] }), {
      from: "BACKUP", to: "MASTER", reason: "",
    });
    expect(a.error).toMatch(/ENOENT/);
    const p = join(dir, "noexec.sh");
    writeFileSync(p, "#!/bin/sh\nexit 0\n");
    chmodSync(p, 0o644);
    const [b] = await r.transition(cfg({ vhid: 9, upscript: p, addresses: [parseAddress("10.1.1.9", "t")] }), {
      from: "BACKUP", to: "MASTER", reason: "",
    });
    expect(b.error).toMatch(/EACCES/);
  });

  it("--neutral skips only the initial downscript; -z runs the downscript at exit unless BACKUP", async () => {
    const log = join(dir, "neutral.txt");
    const down = script("ndown.sh", `echo "$CARP_PREV_STATE>$CARP_STATE $CARP_REASON" >> ${log}`);
    const r = new HookRunner();
    const c = cfg({ downscript: down, neutral: true, shutdownScript: true, addresses: [parseAddress("10.1.1.9", "t")] });
    expect(await r.transition(c, { from: "INIT", to: "BACKUP", reason: "start" })).toEqual([]);
    await r.transition(c, { from: "MASTER", to: "BACKUP", reason: "preempted" });
    expect(await r.shutdown(c, "BACKUP")).toEqual([]);
    await r.shutdown(c, "MASTER");
    expect(readFileSync(log, "utf8").trim().split("\n")).toEqual(["MASTER>BACKUP preempted", "MASTER>BACKUP shutdown"]);
    const noZ = { ...c, shutdownScript: false };
    expect(await r.shutdown(noZ, "MASTER")).toEqual([]);
  });
});
