// Smoke test of the scale benchmark's quick mode (it drives the lab): it runs, measures
// ours and ucarp, and writes its JSON. Speed is judged in bench/, not here.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

import { requires } from "../helpers/require.js";

const repo = fileURLToPath(new URL("../../", import.meta.url));

describe("bench/scale.mjs --quick", () => {
  requires("netns", "ours", "tcpdump", "ucarp");
  it("measures our node and ucarp with 16 vhids and writes JSON", () => {
    const dir = mkdtempSync(join(tmpdir(), "carp-scaletest-"));
    try {
      const out = join(dir, "scale.json");
      const only = "ours,ucarp";
      const r = spawnSync(process.execPath, [join(repo, "bench/scale.mjs"), "--quick", "--seconds", "3", "--only", only, "--json", out], { encoding: "utf8", timeout: 90_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/\| ours \| 16 \|/);
      const res = JSON.parse(readFileSync(out, "utf8"));
      expect(res.rows.map((x: { impl: string }) => x.impl)).toEqual(only.split(","));
      for (const row of res.rows) {
        expect(row.error).toBeUndefined();
        // 16 vhids, one advert per second each: the capture saw them all advertising.
        expect(row.advertsPerSec).toBeGreaterThan(8);
        expect(row.rssMB).toBeGreaterThan(0);
        expect(row.intervalMedianMs).toBeGreaterThan(900);
        expect(row.intervalMedianMs).toBeLessThan(1100);
      }
      expect(res.rows[0].processes).toBeGreaterThanOrEqual(1);
      if (res.rows[1]) expect(res.rows[1].processes).toBe(16);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
