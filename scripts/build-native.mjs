#!/usr/bin/env node
// Builds the C++ addons (native/) from source with node-gyp into build/Release. Needs only a C++
// toolchain (g++, make, python3): libpcap is loaded at run time (native/io/pcap_dl.h), no headers.
// Exit 1 with one line when the build fails, 3 when the toolchain is missing (scripts/install.mjs
// tells the two apart).
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequire } from "node:module";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const TOOLCHAIN_HINT = "apt-get install g++ make python3";

function runs(cmdline) {
  const [cmd, ...args] = cmdline.trim().split(/\s+/);
  const r = spawnSync(cmd, [...args, "--version"], { stdio: "ignore" });
  return !r.error && r.status === 0;
}

/** Names of the build tools that are missing or unusable (honours CXX and CC as make does). */
export function missingTools(env = process.env) {
  const missing = [];
  if (!runs(env.CXX || "g++")) missing.push(env.CXX ? `CXX=${env.CXX}` : "g++");
  if (env.CC && !runs(env.CC)) missing.push(`CC=${env.CC}`);
  if (!runs("make")) missing.push("make");
  if (!runs("python3")) missing.push("python3");
  return missing;
}

function nodeGyp() {
  const local = join(root, "node_modules", ".bin", "node-gyp");
  if (existsSync(local)) return [local];
  if (process.env.npm_config_node_gyp) return [process.execPath, process.env.npm_config_node_gyp];
  try {
    const req = createRequire(import.meta.url);
    return [process.execPath, req.resolve("node-gyp/bin/node-gyp.js")];
  } catch {
    return null;
  }
}

// Build against the headers of the running Node when they are installed beside it (Debian's nodejs
// ships them), so no header download is needed; npm passes its own nodedir setting when it has one.
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
}

/**
 * A fresh Debian machine has node and npm but maybe no compiler: as root with apt-get, install the
 * toolchain (like `npm run demo` installs its tools). Only for a source checkout: the published package
 * ships prebuilt addons and never installs system packages.
 */
function aptInstallToolchain() {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isRoot || spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status !== 0) return false;
  process.stderr.write("node-carp: installing g++ make python3 with apt-get (needed to build the addons)\n");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const quiet = { stdio: ["ignore", "ignore", "inherit"], env };
  // Wait for the dpkg lock (a fresh cloud machine often runs unattended-upgrades at first boot).
  const pkgs = ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", "g++", "make", "python3"];
  let r = spawnSync("apt-get", pkgs, quiet);
  if (r.status !== 0) {
    spawnSync("apt-get", ["update", "-q"], quiet);
    r = spawnSync("apt-get", pkgs, quiet);
  }
  return r.status === 0;
}

/** Runs the source build; returns { code, message } (code 0 = built). apt: may install the toolchain. */
export function buildFromSource({ stdio = "inherit", apt = false } = {}) {
  let missing = missingTools();
  if (missing.length > 0 && apt && !process.env.CC && !process.env.CXX && aptInstallToolchain()) missing = missingTools();
  if (missing.length > 0) {
    return { code: 3, message: `cannot build the native addons: ${missing.join(", ")} not usable (${TOOLCHAIN_HINT})` };
  }
  const gyp = nodeGyp();
  if (!gyp) return { code: 1, message: "node-gyp not found: run npm install (it is a dev dependency) or install node-gyp globally" };
  const [cmd, ...pre] = gyp;
  const r = spawnSync(cmd, [...pre, "rebuild", ...nodedirArgs()], { cwd: root, stdio });
  if (r.status !== 0) return { code: 1, message: "building the native addons failed (see the compiler output above)" };
  return { code: 0, message: "" };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { code, message } = buildFromSource({ apt: true });
  if (code !== 0) process.stderr.write(`node-carp: ${message}\n`);
  process.exit(code);
}
