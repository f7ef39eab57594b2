#!/usr/bin/env node
// Builds the C++ addon (native/) with node-gyp. libpcap headers are the one system dependency:
// when they are missing we install libpcap-dev with apt if we are root, or stop with one line.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quiet = { stdio: ["ignore", "inherit", "inherit"] };

function fail(msg) {
  process.stderr.write(`node-carp: ${msg}\n`);
  process.exit(1);
}

function havePcapHeaders() {
  return ["/usr/include/pcap.h", "/usr/include/pcap/pcap.h", "/usr/local/include/pcap.h"].some(existsSync);
}

if (!havePcapHeaders()) {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const apt = spawnSync("sh", ["-c", "command -v apt-get"], { encoding: "utf8" });
  if (!isRoot || apt.status !== 0) {
    fail("libpcap headers not found: install the libpcap-dev package (e.g. apt-get install libpcap-dev) and retry");
  }
  process.stderr.write("node-carp: installing libpcap-dev with apt-get\n");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  let r = spawnSync("apt-get", ["install", "-y", "libpcap-dev"], { ...quiet, env });
  if (r.status !== 0) {
    spawnSync("apt-get", ["update"], { ...quiet, env });
    r = spawnSync("apt-get", ["install", "-y", "libpcap-dev"], { ...quiet, env });
  }
  if (r.status !== 0 || !havePcapHeaders()) fail("could not install libpcap-dev with apt-get: install it by hand and retry");
}

function nodeGyp() {
  const local = join(root, "node_modules", ".bin", "node-gyp");
  if (existsSync(local)) return [local];
  if (process.env.npm_config_node_gyp) return [process.execPath, process.env.npm_config_node_gyp];
  try {
    const req = createRequire(import.meta.url);
    return [process.execPath, req.resolve("node-gyp/bin/node-gyp.js")];
  } catch {
    fail("node-gyp not found: run npm install (it is a dev dependency) or install node-gyp globally");
  }
}

// Build against the headers of the running Node when they are installed beside it (Debian's nodejs
// ships them), so no header download is needed; npm passes its own nodedir setting when it has one.
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
}

const [cmd, ...pre] = nodeGyp();
const r = spawnSync(cmd, [...pre, "rebuild", ...nodedirArgs()], { cwd: root, stdio: "inherit" });
if (r.status !== 0) fail("building the native addon failed (see the compiler output above)");
