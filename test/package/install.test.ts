// The published package as a user gets it: `npm pack` of this working tree (its prepack builds the
// prebuilt addons and dist/), then `npm i -g` of the tarball on a PATH with no compiler (only node, npm
// and sh; CC=false CXX=false), then the installed `carp`: --version, inspect -r of a capture in the
// repository, and `carp run` becoming MASTER with its VIP in a namespace with libpcap hidden.
// The tree is copied to a temp dir first, so packing never touches this checkout's build/ or dist/.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

import { decodeFrame } from "../../src/inspect/decode.js";
import { readCaptureSync } from "../../src/protocol/pcap.js";
import { labScope, REPO, waitFor } from "../helpers/netns.js";
import { requires } from "../helpers/require.js";

const VIP = "198.51.100.100";
const FIXTURE = join(REPO, "test/fixtures/carp-vectors.pcap");
const SLOW = 600_000;

const work = mkdtempSync(join(tmpdir(), "carp-package-test-"));
const { lab } = labScope("carp-package-lab-");
afterAll(() => rmSync(work, { recursive: true, force: true }));

const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { name: string; version: string };
const prefix = join(work, "global");
const carp = join(prefix, "bin", "carp");
const installed = join(prefix, "lib", "node_modules", pkg.name);
let tarball = "";
let entries: Array<{ path: string; size: number }> = [];
let installMs = 0;

/** A PATH with node, npm and sh only: no g++, cc, make or python3. */
function noCompilerEnv(): NodeJS.ProcessEnv {
  const bin = join(work, "bin");
  mkdirSync(bin, { recursive: true });
  for (const [name, target] of [["node", process.execPath], ["npm", which("npm")], ["sh", "/bin/sh"]]) {
    if (!existsSync(join(bin, name))) symlinkSync(target, join(bin, name));
  }
  return { ...process.env, PATH: bin, CC: "false", CXX: "false" };
}

function which(cmd: string): string {
  return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim();
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: opts.timeout ?? 60_000, cwd: opts.cwd, env: opts.env ?? process.env });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

beforeAll(() => {
  // The working tree as git would publish it: tracked and untracked files, minus the ignored ones.
  const src = join(work, "src");
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: REPO, encoding: "utf8" }).split("\0").filter((f) => f && f !== "node_modules");
  for (const f of files) if (existsSync(join(REPO, f))) cpSync(join(REPO, f), join(src, f), { recursive: true });
  symlinkSync(join(REPO, "node_modules"), join(src, "node_modules"));
  const packed = run("npm", ["pack", "--pack-destination", work], { cwd: src, timeout: SLOW });
  if (packed.code !== 0) throw new Error(`npm pack failed: ${packed.stderr.slice(-2000)}`);
  tarball = join(work, `${pkg.name}-${pkg.version}.tgz`);
  entries = run("tar", ["-tvzf", tarball]).stdout.trim().split("\n").map((l) => {
    const f = l.trim().split(/\s+/);
    return { size: Number(f[2]), path: f.slice(5).join(" ").replace(/^package\//, "") };
  });

  const env = noCompilerEnv();
  expect(run("sh", ["-c", "command -v g++ || command -v cc || command -v make"], { env }).code).not.toBe(0);
  const t0 = Date.now();
  const inst = run("npm", ["i", "-g", "--no-audit", "--no-fund", "--prefix", prefix, tarball], { env, timeout: SLOW });
  installMs = Date.now() - t0;
  if (inst.code !== 0) throw new Error(`npm i -g failed: ${inst.stderr.slice(-2000)}`);
  const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  console.log(
    `package: ${kb(statSync(tarball).size)} packed, ${kb(entries.reduce((s, e) => s + e.size, 0))} unpacked, ` +
      `${entries.length} files; npm i -g without a compiler took ${(installMs / 1000).toFixed(1)} s`,
  );
}, SLOW);

describe("the packed tarball", () => {
  test("has LICENSE, dist, both prebuilt addons and no test-only files or source maps", () => {
    const paths = new Set(entries.map((e) => e.path));
    for (const p of ["LICENSE", "README.md", "package.json", "dist/cli/main.js", "dist/index.js", "dist/inspect/analyzer.js",
      "prebuilds/linux-x64/carp_codec.node", "prebuilds/linux-x64/carp_io.node", "scripts/install.mjs", "binding.gyp"]) {
      expect(paths, p).toContain(p);
    }
    const testOnly = [...paths].filter((p) => /^(test|bench|\.ci)\/|asan-check|sanitize-smoke|^scripts\/(prebuild|demo)|\.tgz$|\.map$|^build\//.test(p));
    expect(testOnly).toEqual([]);
  });

  test("the prebuilt carp_io links no libpcap (it is dlopen()ed on first capture)", () => {
    const ldd = run("ldd", [join(installed, "prebuilds/linux-x64/carp_io.node")]);
    expect(ldd.code).toBe(0);
    expect(ldd.stdout).not.toMatch(/pcap/);
  });
});

describe("npm i -g of the tarball with no compiler", () => {
  test("installs without building: no build/ directory, the prebuilds are what loads", () => {
    expect(existsSync(join(installed, "build"))).toBe(false);
    const probe = `import(${JSON.stringify(join(installed, "dist/addon.js"))}).then((a) => {
      for (const n of ["carp_codec", "carp_io"]) { if (!a.loadAddon(n)) { console.error(a.addonError(n)); process.exit(1); } console.log(a.addonFile(n)); } })`;
    const r = run(process.execPath, ["-e", probe]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n")).toEqual([
      join(installed, "prebuilds/linux-x64/carp_codec.node"),
      join(installed, "prebuilds/linux-x64/carp_io.node"),
    ]);
  });

  test("the package's exports: the library API and the inspector's analyzer", () => {
    // Resolved as a dependency of a project whose node_modules holds node-carp.
    const proj = join(work, "proj");
    mkdirSync(join(proj, "node_modules"), { recursive: true });
    if (!existsSync(join(proj, "node_modules", pkg.name))) symlinkSync(installed, join(proj, "node_modules", pkg.name));
    const code = `const lib = await import("node-carp"); const insp = await import("node-carp/inspect");
      const { version } = (await import("node-carp/package.json", { with: { type: "json" } })).default;
      console.log(typeof lib.CarpNode, typeof lib.loadConfigFromArgv, typeof lib.Analyzer, typeof insp.Analyzer, version)`;
    const r = run(process.execPath, ["--input-type=module", "-e", code], { cwd: proj });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(`function function function function ${pkg.version}`);
    // Only the mapped entry points are public.
    const deep = run(process.execPath, ["--input-type=module", "-e", `await import("node-carp/dist/addon.js")`], { cwd: proj });
    expect(deep.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });

  test("carp --version", () => {
    const r = run(carp, ["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`carp ${pkg.version}`);
  });

  test("carp inspect -r decodes the repository's CARP vectors exactly as the source tree does", () => {
    const r = run(carp, ["inspect", "-r", FIXTURE, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const expected = readCaptureSync(readFileSync(FIXTURE)).packets
      .map((p) => decodeFrame(p.time, p.linktype, p.data))
      .flatMap((d) => ("row" in d ? [d.row] : []));
    expect(expected.length).toBe(6);
    expect(rows.map((x) => [x.kind, x.src, x.vhid, x.counter, x.hmac, x.checksum])).toEqual(
      expected.map((x) => [x.kind, x.src, x.vhid, x.counter, x.hmac, x.checksum]),
    );
    expect(rows.every((x) => x.kind === "carp" && x.checksum === "ok")).toBe(true);
  });

  test("the install script with --allow-scripts finds the prebuilds and builds nothing", () => {
    const again = join(work, "global2");
    const r = run("npm", ["i", "-g", "--no-audit", "--no-fund", `--allow-scripts=${pkg.name}`, "--foreground-scripts", "--prefix", again, tarball], {
      env: noCompilerEnv(),
      timeout: SLOW,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain("node scripts/install.mjs"); // it ran
    expect(r.stdout + r.stderr).not.toContain("node-carp:"); // and had nothing to say
    expect(existsSync(join(again, "lib/node_modules", pkg.name, "build"))).toBe(false);
  }, SLOW);

  test("no usable prebuild and no compiler: one line, the install still succeeds", () => {
    const copy = join(work, "copy");
    cpSync(installed, copy, { recursive: true });
    rmSync(join(copy, "prebuilds/linux-x64/carp_io.node"));
    const r = run(process.execPath, [join(copy, "scripts/install.mjs")], { env: noCompilerEnv() });
    expect(r.code).toBe(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^node-carp: no prebuilt carp_io for linux-x64; cannot build the native addons: CXX=false.*apt-get install g\+\+ make python3/);
  });
});

/** Shell prefix that hides every libpcap on this machine (private mount namespace, bind /dev/null). */
function hidePcap(): string {
  const libs = run("sh", ["-c", "ldconfig -p | awk '/libpcap/ {print $NF}'"]).stdout.trim().split("\n").filter(Boolean);
  const real = [...new Set(libs.map((l) => realpathSync(l)))];
  return real.map((l) => `mount --bind /dev/null ${l} && `).join("");
}

describe("the installed carp without libpcap", () => {
  requires("netns", "unshare");

  test("carp run becomes MASTER and adds its VIP; live capture says libpcap is missing; files still decode", async () => {
    const l = lab(1, "pk");
    const [h] = l.hosts;
    const hide = hidePcap();
    // Live capture fails with one line naming the package.
    const cap = h.tryExec("unshare", ["-m", "sh", "-c", `${hide}exec "$0" "$@"`, carp, "inspect", "-i", "eth0", "-c", "1"]);
    expect(cap.code).toBe(1);
    expect(cap.stderr.trim()).toBe("carp: cannot capture on eth0: libpcap not found: apt-get install libpcap0.8");
    const file = h.tryExec("unshare", ["-m", "sh", "-c", `${hide}exec "$0" "$@"`, carp, "inspect", "-r", FIXTURE, "--json"]);
    expect(file.code).toBe(0);
    expect(file.stdout.trim().split("\n")).toHaveLength(6);

    const ctl = join(work, `${h.ns}.sock`);
    const node = h.spawn("unshare", ["-m", "sh", "-c", `${hide}exec "$0" "$@"`, carp,
      "run", "-i", "eth0", "-s", h.ip4, "-v", "7", "-p", "s3cret", "-a", `${VIP}/24`, "-b", "1",
      "--log-format", "json", "-f", "none", "--control", ctl]);
    await node.waitState("MASTER", 15_000);
    expect(await waitFor(() => h.addresses().includes(VIP), 5000)).toBe(true);
    node.kill("SIGTERM");
    await node.exited;
    expect(await waitFor(() => !h.addresses().includes(VIP), 5000)).toBe(true);
  }, 60_000);
});
