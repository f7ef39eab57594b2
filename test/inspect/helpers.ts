// Helpers for the inspector tests: run the BUILT CLI as a child process (building it first when the
// sources are newer), and write small generated captures.
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { encodeCarp } from "../../src/protocol/carp.js";
import { CarpAuth } from "../../src/protocol/hmac.js";
import { buildIpv4, buildIpv6 } from "../../src/protocol/ip.js";
import { buildEthernet, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from "../../src/protocol/link.js";
import { encodePcap, type WritablePacket } from "../../src/protocol/pcap.js";

export const repoRoot = resolve(import.meta.dirname, "../..");
export const vectors = resolve(repoRoot, "test/fixtures");
export const cliMain = join(repoRoot, "dist/cli/main.js");

function newest(dir: string): number {
  let t = 0;
  for (const f of readdirSync(dir)) if (f.endsWith(".ts")) t = Math.max(t, statSync(join(dir, f)).mtimeMs);
  return t;
}

/** Builds dist/ when our sources are newer than the built CLI (tsc emits even if other files have errors). */
export function ensureBuilt(): void {
  const built = join(repoRoot, "dist/cli/inspect.js");
  const fresh = () => {
    const src = Math.max(newest(join(repoRoot, "src/inspect")), newest(join(repoRoot, "src/cli")));
    return existsSync(built) && statSync(built).mtimeMs >= src && existsSync(join(repoRoot, "dist/cli/send.js"));
  };
  if (fresh()) return;
  // Test files run in parallel: one builds, the others wait for it (a directory is an atomic lock).
  const lock = join(tmpdir(), "carp-inspect-build.lock");
  const end = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > end) throw new Error(`build lock ${lock} held too long`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (!fresh()) spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: repoRoot, encoding: "utf8" });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  if (!existsSync(built)) throw new Error("could not build dist/cli/inspect.js");
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function carpCli(args: string[], opts: { input?: Buffer; timeout?: number } = {}): CliResult {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [cliMain, ...args], {
    encoding: "utf8",
    input: opts.input as unknown as string,
    timeout: opts.timeout ?? 60_000,
    maxBuffer: 256 << 20,
  });
  return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

export function jsonLines(s: string): Record<string, any>[] {
  return s.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, any>);
}

export function tmpDir(prefix = "carp-inspect-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface AdvertSpec {
  vhid: number;
  src: string;
  dst?: string;
  advbase?: number;
  advskew?: number;
  demote?: number;
  counter: bigint;
  ttl?: number;
  srcMac?: string;
  pass?: string;
  v4?: string[];
  v6?: string[];
  /** Override the HMAC key context: sign with this VIP set instead (simulates a misconfigured peer). */
  semantics?: "freebsd" | "openbsd" | "ucarp";
  badSum?: boolean;
}

export function advertFrame(a: AdvertSpec): Buffer {
  const auth = CarpAuth.create({ vhid: a.vhid, v4: a.v4 ?? [], v6: a.v6 ?? [], password: a.pass ?? "", semantics: a.semantics }) as CarpAuth;
  if ("error" in auth) throw new Error(String((auth as { error: string }).error));
  const carp = encodeCarp({ vhid: a.vhid, advbase: a.advbase ?? 1, advskew: a.advskew ?? 0, demote: a.demote ?? 0, counter: a.counter, hmac: auth.sign(a.counter) });
  if (a.badSum) carp[7] ^= 0x11;
  const v6 = a.src.includes(":");
  const ip = v6
    ? buildIpv6({ src: a.src, dst: a.dst ?? "ff02::12", nextHeader: 112, payload: carp, hopLimit: a.ttl ?? 255 })
    : buildIpv4({ src: a.src, dst: a.dst ?? "224.0.0.18", proto: 112, payload: carp, ttl: a.ttl ?? 255, tos: 0x10 });
  const mac = a.srcMac ?? `00:00:5e:00:01:${a.vhid.toString(16).padStart(2, "0")}`;
  return buildEthernet(v6 ? "33:33:00:00:00:12" : "01:00:5e:00:00:12", mac, v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, ip);
}

export function writePcap(dir: string, name: string, packets: WritablePacket[], linktype = 1): string {
  const p = join(dir, name);
  writeFileSync(p, encodePcap(packets, linktype));
  return p;
}
