// The CI version of bench/soak.mjs: 60 s (FAULT_SOAK_S) with a failover every 10 s between two of our
// daemons; no crash, every failover done, the VIP never on both hosts for long, RSS and fd growth bounded.
// The 10-minute run: node bench/soak.mjs (or --minutes N).
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { REPO } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const SECONDS = Number(process.env.FAULT_SOAK_S ?? 60);

interface Report {
  failovers: number;
  missed: string[];
  alive: boolean[];
  vipOnBothMs: number;
  daemons: Array<{ host: string; start: { rssKiB: number; fds: number }; end: { rssKiB: number; fds: number }; growth: { rssKiB: number; fds: number } }>;
  problems: string[];
}

describe("soak", () => {
  requires("netns", "ours");
  test(`${SECONDS} s, a failover every 10 s: no crash, RSS and fds bounded`, async () => {
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(REPO, "bench/soak.mjs"), "--seconds", String(SECONDS), "--json", "--max-rss-growth-mb", "16", "--max-fd-growth", "4"], { encoding: "utf8", timeout: (SECONDS + 90) * 1000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    const line = out.stdout.trim().split("\n").at(-1) ?? "";
    expect(line.startsWith("{"), `${out.stdout} ${out.stderr}`).toBe(true);
    const r = JSON.parse(line) as Report;
    expect(r.problems).toEqual([]);
    expect(out.code).toBe(0);
    expect(r.alive).toEqual([true, true]);
    expect(r.missed).toEqual([]);
    expect(r.failovers).toBeGreaterThanOrEqual(Math.floor(SECONDS / 10) - 1);
    expect(r.vipOnBothMs).toBeLessThanOrEqual(200);
    for (const d of r.daemons) {
      expect(d.growth.rssKiB).toBeLessThanOrEqual(16 * 1024);
      expect(d.growth.fds).toBeLessThanOrEqual(4);
    }
    console.log(`soak ${SECONDS} s: ${r.failovers} failovers; ${r.daemons.map((d) => `${d.host} RSS ${(d.start.rssKiB / 1024).toFixed(1)}->${(d.end.rssKiB / 1024).toFixed(1)} MiB fds ${d.start.fds}->${d.end.fds}`).join("; ")}; VIP on both ${r.vipOnBothMs} ms`);
  }, (SECONDS + 120) * 1000);
});
