// antiReplay configuration (YAML, --anti-replay) and the counter file kept across restarts (replay.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { parseYamlConfig } from "../../src/daemon/config-yaml.js";
import { loadConfigFromArgv } from "../../src/daemon/config-ucarp.js";
import { REPLAY_RESERVE, ReplayStore, readReplayFile } from "../../src/daemon/replay.js";
import { replayWarnings } from "../../src/cli/check.js";

const dir = mkdtempSync(join(tmpdir(), "carp-replay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("antiReplay options", () => {
  it("YAML: global default, per-vhid override, freebsd semantics only, and a non-boolean is an error", () => {
    const r = parseYamlConfig(`antiReplay: true
vhids:
  - { vhid: 1, interface: e0, password: pw, addresses: [192.0.2.1] }
  - { vhid: 2, interface: e0, password: pw, addresses: [192.0.2.2], antiReplay: false }`);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value.vhids.map((v) => v.antiReplay)).toEqual([true, false]);
    const o = parseYamlConfig(`vhids: [{ vhid: 1, interface: e0, password: pw, addresses: [192.0.2.1], semantics: openbsd, antiReplay: true }]`);
    expect(o.ok).toBe(false);
    if (!o.ok) expect(o.error).toMatch(/antiReplay: needs freebsd semantics \(OpenBSD sends a constant cookie/);
    const b = parseYamlConfig(`vhids: [{ vhid: 1, interface: e0, password: pw, addresses: [192.0.2.1], antiReplay: "yes" }]`);
    expect(b.ok).toBe(false);
  });

  it("--anti-replay needs --semantics freebsd on a ucarp-style command line", () => {
    const base = ["-i", "eth0", "-v", "1", "-p", "pw", "-a", "192.0.2.1", "-s", "192.0.2.10"];
    const ok = loadConfigFromArgv([...base, "--semantics", "freebsd", "--anti-replay"]);
    expect(ok.ok && "vhids" in ok.value && ok.value.vhids[0].antiReplay).toBe(true);
    const no = loadConfigFromArgv([...base, "--anti-replay"]);
    expect(no.ok).toBe(false);
    if (!no.ok) expect(no.error).toMatch(/^--anti-replay: needs freebsd semantics \(ucarp sends random counters/);
    const off = loadConfigFromArgv(base);
    expect(off.ok && "vhids" in off.value && off.value.vhids[0].antiReplay).toBe(false);
  });
});

describe("the counter file", () => {
  it("is written once per REPLAY_RESERVE counters, and a restart refuses up to the last value written", () => {
    const file = join(dir, "a.sock.replay.json");
    const s = new ReplayStore(file);
    expect(s.floors("eth0/1")).toBeUndefined();
    let writes = 0;
    let last = -1;
    for (let c = 1000n; c < 1000n + 10n * REPLAY_RESERVE; c++) {
      s.update("eth0/1", c, null);
      const ceiling = readReplayFile(file).get("eth0/1")?.ceiling;
      if (ceiling !== undefined && Number(ceiling) !== last) {
        writes++;
        last = Number(ceiling);
      }
    }
    expect(writes).toBe(10); // 640 counters, one write per 64
    expect(s.error).toBeNull();
    const again = new ReplayStore(file);
    const f = again.floors("eth0/1")!;
    const high = 1000n + 10n * REPLAY_RESERVE - 1n;
    expect(f.send).toBeGreaterThanOrEqual(high); // never reuses a counter it may have sent
    expect(f.accept).toBeLessThanOrEqual(high); // never refuses a counter it has not seen
    expect(high - f.accept).toBeLessThan(REPLAY_RESERVE); // the replay gap after a restart
  });

  it("keeps a warning for carp check; an unreadable or foreign file is empty", () => {
    const file = join(dir, "b.sock.replay.json");
    const s = new ReplayStore(file);
    s.update("eth0/3", 5n, "vhid 3@eth0: adverts from 198.51.100.9 did not carry rising counters");
    const cfg = { control: join(dir, "b.sock"), vhids: [{ interface: "eth0", vhid: 3, antiReplay: true }] } as unknown as Parameters<typeof replayWarnings>[0];
    expect(replayWarnings(cfg)).toEqual([expect.stringMatching(/^antiReplay: vhid 3@eth0: adverts from 198\.51\.100\.9 did not carry rising counters \(OpenBSD/)]);
    writeFileSync(file, "{ not json");
    expect(readReplayFile(file).size).toBe(0);
    writeFileSync(file, JSON.stringify({ vhids: { "eth0/3": { ceiling: "-5" }, "eth0/4": { ceiling: "99999999999999999999999" } } }));
    expect(readReplayFile(file).size).toBe(0);
    expect(readFileSync(file, "utf8")).toContain("eth0/3");
  });
});
