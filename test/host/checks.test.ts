// Health-check probes against real processes and files; the fall/rise debounce.
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Probe, probeFile, probeProcess, runScript, type ProbeResult } from "../../src/host/checks.js";
import { Debounce } from "../../src/daemon/checks.js";

const dir = mkdtempSync(join(tmpdir(), "carp-probe-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("script probes", () => {
  it("exit 0 is healthy; the last output line is the detail; a shell string and an argv list", async () => {
    expect(await runScript("echo one; echo 'two words'", 2000)).toMatchObject({ ok: true, detail: "two words" });
    const r = await runScript(["/bin/sh", "-c", "echo bad >&2; exit 3"], 2000);
    expect(r).toMatchObject({ ok: false, detail: "exit 3: bad" });
    // argv: no shell, so `$HOME` stays literal.
    expect(await runScript(["/bin/echo", "$HOME"], 2000)).toMatchObject({ ok: true, detail: "$HOME" });
    expect(await runScript(["/nonexistent/check"], 2000)).toMatchObject({ ok: false, detail: "cannot run /nonexistent/check: ENOENT" });
  });

  it("a hanging script is killed with its whole process group at the timeout", async () => {
    const marker = join(dir, "grandchild-alive");
    const t0 = Date.now();
    // A background grandchild in the same group would write the marker after 1.5 s unless killed too.
    const r = await runScript(`(sleep 1.5; touch ${marker}) & echo started; sleep 30`, 300);
    expect(r.ok).toBe(false);
    expect(r.detail).toBe("timed out after 300 ms: started");
    expect(Date.now() - t0).toBeLessThan(1500);
    await new Promise((res) => setTimeout(res, 1800));
    expect(existsSync(marker)).toBe(false);
  });
});

describe("file and process probes", () => {
  it("file: absent = healthy, present = failing, a number inside = that demotion", async () => {
    const f = join(dir, "maint");
    expect(await probeFile(f)).toMatchObject({ ok: true });
    writeFileSync(f, "");
    expect(await probeFile(f)).toMatchObject({ ok: false, detail: `${f} exists` });
    writeFileSync(f, "50\n");
    expect(await probeFile(f)).toMatchObject({ ok: false, demotion: 50 });
  });

  it("process: by /proc/PID/comm", async () => {
    expect((await probeProcess("node")).ok).toBe(true); // this test runner
    expect(await probeProcess("no-such-proc-xyz")).toMatchObject({ ok: false, detail: "no no-such-proc-xyz process running" });
  });
});

describe("Probe", () => {
  it("runs again `interval` after each run ends and never twice at once", async () => {
    const got: ProbeResult[] = [];
    const p = new Probe({ name: "t", kind: "script", script: "sleep 0.2", intervalMs: 100, timeoutMs: 1000 }, (r) => got.push(r));
    p.start();
    await new Promise((res) => setTimeout(res, 1000));
    p.stop();
    // Each run takes 200 ms + 100 ms pause: about 3 runs in 1 s, never the 10 an interval timer would start.
    expect(got.length).toBeGreaterThanOrEqual(2);
    expect(got.length).toBeLessThanOrEqual(4);
    expect(got.every((r) => r.ok)).toBe(true);
  });
});

describe("fall/rise debounce", () => {
  it("first result counts at once, then fall failures / rise successes in a row", () => {
    const d = new Debounce(2, 3);
    expect([d.feed(true), d.up]).toEqual([true, true]);
    expect(d.feed(false)).toBe(false);
    expect(d.feed(true)).toBe(false); // run broken
    expect(d.feed(false)).toBe(false);
    expect([d.feed(false), d.up]).toEqual([true, false]);
    expect(d.feed(true)).toBe(false);
    expect(d.feed(true)).toBe(false);
    expect([d.feed(true), d.up]).toEqual([true, true]);
  });
});
