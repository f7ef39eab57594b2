// Smoke test of `carp demo --ci` as a user runs it: a child process, real namespaces, our daemon,
// ucarp when installed; asserts the phases, the measured takeover, and that nothing is left behind.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { listNamespaces } from "../../src/lab/names.js";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const cli = join(repo, "dist/cli/main.js");
// Not under the carpdemo- prefix: the --cleanup test removes everything with that prefix.
const work = mkdtempSync(join(tmpdir(), "carp-demotest-"));

beforeAll(() => {
  // The demo runs the built CLI (as `npm run demo` does); build what is there. tsc still emits when
  // some unrelated file has a type error, so the exit status is not checked, the output is.
  spawnSync(process.execPath, [join(repo, "node_modules/typescript/bin/tsc"), "-p", join(repo, "tsconfig.build.json")], { stdio: "ignore" });
  expect(existsSync(join(repo, "dist/cli/demo.js"))).toBe(true);
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

function leftovers(prefix: string): string[] {
  return [...listNamespaces(prefix), ...readdirSync(tmpdir()).filter((n) => n.startsWith(prefix))];
}

describe("carp demo --ci", () => {
  it("runs every phase, measures the takeover near the master-down time, and cleans up", async () => {
    const reportFile = join(work, "report.json");
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [cli, "demo", "--ci", "--duration", "2", "--report", reportFile], { encoding: "utf8", timeout: 90_000 });
    const out = r.stdout;
    expect(r.status, `${out}\n${r.stderr}`).toBe(0);
    expect(Date.now() - t0).toBeLessThan(60_000);
    const phases = ["topology", "election", "steady", "failover", "preempt", "handover", "cleanup"];
    let at = -1;
    for (const p of phases) {
      const i = out.indexOf(`ok   ${p}:`);
      expect(i, `phase ${p} in:\n${out}`).toBeGreaterThan(at);
      at = i;
    }
    expect(out).not.toContain("FAIL");
    expect(out).toMatch(/VIP 198\.51\.100\.100 answered \(ARP, from the observer\) by: h2/);
    expect(out).toContain("result: all phases passed");

    const report = JSON.parse(readFileSync(reportFile, "utf8"));
    expect(report.ok).toBe(true);
    expect(report.prefix).toMatch(/^carpdemo-\d+-$/);
    const failover = report.phases.find((p: { phase: string }) => p.phase === "failover");
    // h2's master-down time is 3 × 1 + 50/256 = 3.195 s; the measured gap must be close to it.
    expect(failover.measured.masterDownMs).toBeCloseTo(3195.3, 0);
    expect(failover.measured.takeoverMs).toBeGreaterThan(3000);
    expect(failover.measured.takeoverMs).toBeLessThan(4300);
    const handover = report.phases.find((p: { phase: string }) => p.phase === "handover");
    expect(handover.measured.handoverMs).toBeLessThan(1500);
    expect(report.adverts.h1).toBeGreaterThan(2);
    expect(report.adverts.h2).toBeGreaterThan(1);
    expect(leftovers(report.prefix)).toEqual([]);
  });

  it("removes its namespaces when interrupted with Ctrl-C (SIGINT)", async () => {
    const child = spawn(process.execPath, [cli, "demo", "--ci", "--duration", "30"], { stdio: ["ignore", "pipe", "pipe"] });
    const prefix = `carpdemo-${child.pid}-`;
    let out = "";
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("== steady")) resolve();
      });
      child.on("exit", () => reject(new Error(`demo exited early:\n${out}\n${err}`)));
    });
    expect(listNamespaces(prefix).length).toBeGreaterThanOrEqual(4);
    child.kill("SIGINT");
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    expect(code).toBe(130);
    expect(err).toMatch(/SIGINT: namespaces removed/);
    expect(leftovers(prefix)).toEqual([]);
  });

  it("rejects bad options with exit 2 and one line", () => {
    const r = spawnSync(process.execPath, [cli, "demo", "--duration", "soon"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/--duration/);
    const u = spawnSync(process.execPath, [cli, "demo", "--bogus"], { encoding: "utf8" });
    expect(u.status).toBe(2);
  });

  it("--cleanup removes what a crashed run left (namespaces, processes in them, temp dir)", async () => {
    const prefix = `carpdemo-${process.pid}99-`;
    spawnSync("ip", ["netns", "add", `${prefix}sw`]);
    spawnSync("ip", ["netns", "add", `${prefix}h1`]);
    const sleeper = spawn("ip", ["netns", "exec", `${prefix}h1`, "sleep", "300"], { stdio: "ignore" });
    const dir = mkdtempSync(join(tmpdir(), prefix));
    expect(listNamespaces(prefix)).toHaveLength(2);
    const r = spawnSync(process.execPath, [cli, "demo", "--cleanup"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${prefix}h1`);
    expect(leftovers(prefix)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    // The process inside the namespace was ended too.
    const sig = sleeper.signalCode ?? (await new Promise((r) => sleeper.on("exit", (_c, s) => r(s))));
    expect(sig).toBe("SIGTERM");
  });
});
