#!/usr/bin/env node
// npm "install" hook. In the published package the addons come prebuilt (prebuilds/<platform>-<arch>/):
// when they load here there is nothing to do. Otherwise build from source (scripts/build-native.mjs).
// In a package that ships prebuilds a failed or impossible source build is one line, not a failed
// install (the TypeScript codec still works, e.g. `carp inspect -r`); in a git clone (no prebuilds)
// the build must succeed.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { buildFromSource } from "./build-native.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const platform = `${process.platform}-${process.arch}`;
const say = (msg) => process.stderr.write(`node-carp: ${msg}\n`);

function prebuildError() {
  for (const name of ["carp_codec", "carp_io"]) {
    const file = join(root, "prebuilds", platform, `${name}.node`);
    if (!existsSync(file)) return `no prebuilt ${name} for ${platform}`;
    try {
      require(file);
    } catch (e) {
      return `prebuilt ${name} for ${platform} does not load (${e.message.split("\n")[0]})`;
    }
  }
  return null;
}

const shipsPrebuilds = existsSync(join(root, "prebuilds"));
const why = shipsPrebuilds ? prebuildError() : "no prebuilds (source checkout)";
if (why === null) process.exit(0); // the prebuilt addons load: nothing to build

const { code, message } = buildFromSource({ apt: !shipsPrebuilds });
if (code === 0) process.exit(0);
if (shipsPrebuilds) {
  say(`${why}; ${message}; carp run and live capture need the addons, carp inspect -r works without`);
  process.exit(0);
}
say(message);
process.exit(1);
