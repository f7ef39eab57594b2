#!/usr/bin/env -S node --max-semi-space-size=1 --single-threaded-gc
// The `carp` command: dispatches to one module per subcommand. Subcommand modules export
// `run(argv: string[]): Promise<number>` (the exit code) and throw UsageError/RuntimeError for
// problems the user can fix; those become one line on stderr here.
// The shebang caps V8's young generation at 1 MB per semi-space: the daemon allocates little, and the
// default (up to 16 MB) costs ~15 MB of RSS with 255 vhids (bench/scale.mjs). --single-threaded-gc: no
// GC helper threads (a scavenge does not wait for a helper the busy host has not scheduled; ~1 MB less).
// V8's optimizing compiler stays on for `carp run`: --no-opt saved ~7 MB of RSS with 255 vhids, but
// unoptimised code verifies HMACs 16x slower (81 k/s against 1.3 M/s here), so a flood of forged adverts
// would saturate the daemon long before it saturates the link.
import { UsageError, exitCodeFor, oneLine } from "./errors.js";

type Sub = { run(argv: string[]): Promise<number>; summary: string };

const subcommands: Record<string, () => Promise<Sub>> = {
  run: () => import("./run.js"),
  check: () => import("./check.js"),
  status: () => import("./status.js"),
  set: () => import("./set.js"),
  events: () => import("./events.js"),
  inspect: () => import("./inspect.js"),
  send: () => import("./send.js"),
  demo: () => import("./demo.js"),
};

async function usage(): Promise<string> {
  const lines = ["usage: carp <command> [options]", "", "commands:"];
  for (const [name, load] of Object.entries(subcommands)) {
    const summary = await load().then((m) => m.summary, () => "(unavailable)");
    lines.push(`  ${name.padEnd(8)} ${summary}`);
  }
  lines.push("", "Run `carp <command> --help` for the options of one command.");
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "-h" || cmd === "--help" || cmd === "help") {
    process.stdout.write((await usage()) + "\n");
    return cmd ? 0 : 2;
  }
  if (cmd === "--version" || cmd === "-V") {
    const { createRequire } = await import("node:module");
    const pkg = createRequire(import.meta.url)("../../package.json") as { version: string };
    process.stdout.write(`carp ${pkg.version}\n`);
    return 0;
  }
  const load = subcommands[cmd];
  if (!load) throw new UsageError(`unknown command '${cmd}' (try carp --help)`);
  const sub = await load();
  return sub.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`carp: ${oneLine(e)}\n`);
    if (process.env.CARP_DEBUG === "1" && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = exitCodeFor(e);
  },
);
