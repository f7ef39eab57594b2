#!/usr/bin/env node
// `npm run bench`: every benchmark from one entry point, each in its own child process (so one
// crash or a missing tool does not stop the rest), output echoed live and collected into
//   <out>/latest.{json,md}   (or quick.{json,md} with --quick)
// --quick shrinks every benchmark so CI can smoke-test that they run (the numbers then mean nothing).
// Children get CARP_BENCH_QUICK=1 in quick mode, for benchmarks that want to shrink themselves.
//   node bench/run.mjs [--quick] [--only codec,scale,...] [--out bench/results]
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = join(here, "..");
const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const quick = argv.includes("--quick");
const only = arg("only")?.split(",");
const outDir = arg("out", join(here, "results"));
const root = process.getuid?.() === 0;
const scaleJson = join(tmpdir(), `carp-bench-scale-${process.pid}.json`);

const codecInline = (file, maxTime) =>
  `const m = await import(${JSON.stringify(pathToFileURL(join(here, file)).href)}); await m.runCodecBench(m.codecSuites, { maxTime: ${maxTime} });`;

/** name, command line (full / quick), whether it needs root. */
const benches = [
  { name: "codec", full: ["bench/codec.bench.mjs"], quick: ["--input-type=module", "-e", codecInline("codec.bench.mjs", 0.05)] },
  { name: "native-codec", full: ["bench/native-codec.bench.mjs"], quick: ["bench/native-codec.bench.mjs"] },
  { name: "inspect", full: ["bench/inspect.mjs"], quick: ["bench/inspect.mjs", "20000", "20"] },
  { name: "io-flood", full: ["bench/io-flood.mjs"], quick: ["bench/io-flood.mjs", "--seconds", "1"], root: true },
  { name: "failover", full: ["bench/failover.mjs"], quick: ["bench/failover.mjs", "--quick"], root: true },
  { name: "scale", full: ["bench/scale.mjs", "--json", scaleJson], quick: ["bench/scale.mjs", "--quick", "--json", scaleJson], root: true },
];

function runOne(b) {
  const file = join(repo, b.full[0]);
  if (!existsSync(file)) return Promise.resolve({ name: b.name, status: "missing", detail: `${b.full[0]} not found` });
  if (b.root && !root) return Promise.resolve({ name: b.name, status: "skipped", detail: "needs root (network namespaces)" });
  const args = quick ? b.quick : b.full;
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: repo,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...(quick ? { CARP_BENCH_QUICK: "1" } : {}) },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
      process.stdout.write(d);
    });
    child.stderr.on("data", (d) => {
      stderr += d;
      process.stderr.write(d);
    });
    child.on("exit", (code, sig) => {
      const r = {
        name: b.name,
        command: `node ${args.join(" ")}`,
        status: code === 0 ? "ok" : "failed",
        exitCode: code ?? sig,
        seconds: Math.round((Date.now() - t0) / 100) / 10,
        stdout,
        ...(code === 0 ? {} : { stderrTail: stderr.trim().split("\n").slice(-5).join("\n") }),
      };
      if (b.name === "scale" && existsSync(scaleJson)) {
        r.data = JSON.parse(readFileSync(scaleJson, "utf8"));
        rmSync(scaleJson, { force: true });
      }
      resolve(r);
    });
  });
}

const started = new Date();
const results = [];
for (const b of benches) {
  if (only && !only.includes(b.name)) continue;
  process.stdout.write(`\n===== ${b.name}${quick ? " (quick)" : ""} =====\n`);
  const r = await runOne(b);
  if (r.status !== "ok" && r.status !== "failed") process.stdout.write(`${r.status}: ${r.detail}\n`);
  results.push(r);
}

const env = { node: process.version, cpu: cpus()[0]?.model ?? "?", cores: cpus().length, kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim() };
const doc = { date: started.toISOString(), quick, env, results };
const md = [
  `# node-carp benchmarks — ${started.toISOString().slice(0, 16).replace("T", " ")} UTC${quick ? " (quick mode: smoke test, numbers not meaningful)" : ""}`,
  "",
  `node ${env.node}, ${env.cores} × ${env.cpu}, Linux ${env.kernel}`,
  "",
  "| benchmark | status | seconds |",
  "|---|---|---:|",
  ...results.map((r) => `| ${r.name} | ${r.status}${r.detail ? ` (${r.detail})` : ""} | ${r.seconds ?? ""} |`),
];
for (const r of results) {
  if (!r.stdout) continue;
  md.push("", `## ${r.name}`, "", `\`${r.command}\``, "");
  // scale prints a markdown table already; everything else is shown as text.
  if (r.name === "scale") md.push(r.stdout.trim());
  else md.push("```", r.stdout.trim(), "```");
}
mkdirSync(outDir, { recursive: true });
const base = join(outDir, quick ? "quick" : "latest");
writeFileSync(`${base}.json`, JSON.stringify(doc, null, 2) + "\n");
writeFileSync(`${base}.md`, md.join("\n") + "\n");
process.stdout.write(`\nwrote ${base}.json and ${base}.md\n`);
const failed = results.filter((r) => r.status === "failed");
for (const f of failed) process.stdout.write(`FAILED: ${f.name} (exit ${f.exitCode})\n`);
process.exitCode = failed.length ? 1 : 0;
