#!/usr/bin/env node
// `npm pack` (prepack): builds both addons from source and copies them to prebuilds/<platform>-<arch>/,
// where src/addon.ts finds them in an installed package that was not built from source, then compiles
// the TypeScript into a clean dist/. N-API: one binary per platform serves every Node version >= 20.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { buildFromSource } from "./build-native.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const fail = (msg) => {
  process.stderr.write(`node-carp: ${msg}\n`);
  process.exit(1);
};

const built = buildFromSource();
if (built.code !== 0) fail(built.message);

const out = join(root, "prebuilds", `${process.platform}-${process.arch}`);
rmSync(join(root, "prebuilds"), { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const name of ["carp_codec", "carp_io"]) {
  const file = join(out, `${name}.node`);
  copyFileSync(join(root, "build", "Release", `${name}.node`), file);
  // Smaller tarball; the symbols node needs are dynamic ones and stay.
  spawnSync("strip", ["--strip-unneeded", file], { stdio: "ignore" });
  try {
    require(file);
  } catch (e) {
    fail(`prebuilt ${file} does not load: ${e.message.split("\n")[0]}`);
  }
}

rmSync(join(root, "dist"), { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.build.json")], {
  cwd: root,
  stdio: "inherit",
});
if (tsc.status !== 0) fail("compiling the TypeScript failed");
