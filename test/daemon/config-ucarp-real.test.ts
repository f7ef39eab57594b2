// The real ucarp 1.5.2 binary decides which command lines "work": each line runs for a moment inside a
// private network namespace (veth only, nothing leaves it) and must be accepted by our parser exactly when
// ucarp accepts it. Lines use no -B (daemonize) so every ucarp we start is the child we time out.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigFromArgv } from "../../src/daemon/config-ucarp.js";
import { decodeCarp } from "../../src/protocol/carp.js";
import { CarpAuth } from "../../src/protocol/hmac.js";
import { readCaptureSync } from "../../src/protocol/pcap.js";
import { createNs, type TestNs } from "../host/netns-helper.js";

let ns: TestNs;
let haveUcarp = true;
beforeAll(() => {
  try {
    execFileSync("sh", ["-c", "command -v ucarp"]);
  } catch {
    haveUcarp = false;
  }
  ns = createNs("cucp");
  ns.ip("addr", "add", "198.51.100.1/24", "dev", "va");
});
afterAll(() => ns?.destroy());

/** Runs ucarp for 800 ms; "accepted" if it reached a state, "rejected" on a usage or config error. */
function realUcarp(argv: string[]): Promise<"accepted" | "rejected"> {
  return new Promise((resolve) => {
    execFile("ip", ["netns", "exec", ns.name, "ucarp", ...argv], { timeout: 800, killSignal: "SIGKILL" }, (_e, out, err) => {
      const text = String(out) + String(err);
      if (/\[ERROR\]|invalid option|unrecognized option|ambiguous|doesn't allow|requires an argument/.test(text)) resolve("rejected");
      else if (/Switching to state/.test(text)) resolve("accepted");
      else resolve("rejected");
    });
  });
}

const base = ["-i", "va", "-s", "198.51.100.1", "-p", "pw", "-a", "198.51.100.50"];
const CASES: string[][] = [
  [...base, "-v", "1"],
  [...base, "--vhid=42", "-P", "-n", "-S", "-M", "-D"],
  [...base, "-v", "2", "-PnSM"],
  [...base, "-v", "3", "--mcast=239.0.0.1"],
  [...base, "-v", "3", "--mcastip", "239.0.0.1"],
  [...base, "-v", "4", "--advb=2", "--advsk=10"],
  [...base, "-v", "4", "--adv=2"],
  [...base, "-v", "0x10"],
  [...base, "-v", "300"],
  [...base, "-v", "0"],
  [...base, "-v", "5", "-b", "0"],
  [...base, "-v", "5", "-b", "0", "-k", "5"],
  [...base, "-v", "5", "-k", "255"],
  [...base, "-v", "5", "-r", "0"],
  [...base, "-v", "5", "-f", "none", "-x", "param"],
  [...base, "-v", "5", "--preempt=yes"],
  [...base, "-v", "5", "--nosuchflag"],
  [...base, "-v", "5", "-q"],
  ["-i", "va", "-s", "198.51.100.1", "-a", "198.51.100.50", "-v", "6", "-p", "12345678901234567890"],
  ["-i", "va", "-s", "198.51.100.1", "-a", "198.51.100.50", "-v", "6", "-p", "1234567890123456789"],
  ["-i", "va", "-s", "198.51.100.1", "-p", "pw", "-v", "7", "-a", "198.51.100.300"],
  ["-i", "va", "-s", "198.51.100.1", "-p", "pw", "-v", "7"],
  ["-i", "va", "-s", "198.51.100.1", "-v", "7", "-a", "198.51.100.50"],
];

describe("argv acceptance matches the real ucarp", () => {
  it.each(CASES.map((c) => [c.join(" "), c]))("%s", async (_name, argv) => {
    expect(haveUcarp, "ucarp must be installed").toBe(true);
    const real = await realUcarp(argv as string[]);
    const ours = loadConfigFromArgv(argv as string[]).ok ? "accepted" : "rejected";
    expect(ours).toBe(real);
  });
});

describe("two -a on the real ucarp", () => {
  it("ucarp 1.5.2 keeps only the last -a: its adverts are signed with that address (so ours refuses two)", async () => {
    expect(haveUcarp, "ucarp must be installed").toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "carp-ucarp-two-"));
    try {
      const file = join(dir, "two.pcap");
      const dump = spawn("ip", ["netns", "exec", ns.name, "tcpdump", "-U", "-n", "-i", "va", "-c", "2", "-w", file, "ip proto 112"], { stdio: "ignore" });
      const dumped = new Promise<void>((r) => dump.on("exit", () => r()));
      await new Promise((r) => setTimeout(r, 700)); // tcpdump is listening
      // advbase 0 / advskew 5: a 20 ms interval, so ucarp becomes master and advertises at once.
      const argv = ["-i", "va", "-s", "198.51.100.1", "-p", "pw", "-v", "8", "-b", "0", "-k", "5", "-a", "198.51.100.50", "-a", "198.51.100.51"];
      execFile("ip", ["netns", "exec", ns.name, "ucarp", ...argv], { timeout: 1500, killSignal: "SIGKILL" }, () => {});
      const killer = setTimeout(() => dump.kill("SIGTERM"), 4000);
      await dumped;
      clearTimeout(killer);
      const pkts = readCaptureSync(readFileSync(file)).packets;
      expect(pkts.length).toBeGreaterThanOrEqual(1);
      const d = pkts[0].data;
      const h = decodeCarp(d, 14 + (d[14] & 0x0f) * 4);
      if ("error" in h) throw new Error(h.error);
      const signs = (vip: string) => {
        const a = CarpAuth.create({ vhid: 8, v4: [vip], v6: [], password: "pw", semantics: "ucarp" }) as CarpAuth;
        return a.sign(h.counter).equals(h.hmac);
      };
      expect(signs("198.51.100.51")).toBe(true);
      expect(signs("198.51.100.50")).toBe(false);
      // Our parser refuses the line rather than sign with either address on its own.
      const ours = loadConfigFromArgv(argv);
      expect(ours.ok ? "accepted" : ours.error).toMatch(/^--addr: 2 IPv4 addresses, but ucarp hashes one/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);
});
