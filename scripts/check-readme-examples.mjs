#!/usr/bin/env node
// `npm run typecheck:readme`: typechecks README.md's library examples as a user's code would compile.
// Every ```ts / ```js block that imports "node-carp" is written to a temp folder (.mts / .mjs with checkJs)
// and compiled with the project's tsc, with "node-carp" and its subpaths (package.json "exports") mapped to
// the sources they are built from. Errors are printed as README.md:LINE; exit 1 on any, 0 otherwise.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const fail = (msg) => {
  console.error(`typecheck:readme: ${msg}`);
  process.exit(1);
};

// Fenced blocks: language, first content line (1-based README line), text.
const lines = readFileSync(join(root, "README.md"), "utf8").split("\n");
const blocks = [];
for (let i = 0; i < lines.length; i++) {
  const open = /^```(ts|typescript|js|javascript)\s*$/.exec(lines[i]);
  if (!open) continue;
  const end = lines.findIndex((l, j) => j > i && l.startsWith("```"));
  if (end < 0) fail(`README.md:${i + 1}: code block never closed`);
  const text = lines.slice(i + 1, end).join("\n");
  if (/from\s+["']node-carp(\/[^"']*)?["']/.test(text)) blocks.push({ js: open[1].startsWith("j"), line: i + 2, text });
  i = end;
}
if (blocks.length === 0) fail('no ```ts or ```js block importing "node-carp" in README.md');

// "node-carp" and "node-carp/x" as package.json exports them, pointed at the TypeScript sources.
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const toSrc = (p) => join(root, p.replace(/^\.\/dist\//, "src/").replace(/\.(d\.ts|js)$/, ".ts"));
const target = (e) => (typeof e === "string" ? e : e && (e.types ?? e.import ?? e.default ?? target(Object.values(e)[0])));
const paths = { "node-carp": [toSrc(pkg.types ?? pkg.main)] };
const exp = typeof pkg.exports === "object" && pkg.exports !== null && !Array.isArray(pkg.exports) ? pkg.exports : {};
for (const [key, value] of Object.entries(exp)) {
  const t = target(value);
  if (key.startsWith(".") && typeof t === "string" && /\.(js|d\.ts)$/.test(t) && !key.includes("*")) paths[`node-carp${key.slice(1)}`] = [toSrc(t)];
}

const dir = mkdtempSync(join(tmpdir(), "carp-readme-"));
try {
  const files = blocks.map((b, n) => {
    const file = join(dir, `example-${n + 1}.${b.js ? "mjs" : "mts"}`);
    writeFileSync(file, `${b.text}\nexport {};\n`);
    return { ...b, file };
  });
  const base = JSON.parse(readFileSync(join(root, "tsconfig.json"), "utf8")).compilerOptions;
  const compilerOptions = {
    ...base,
    noEmit: true,
    declaration: false,
    sourceMap: false,
    allowJs: true,
    checkJs: true,
    rootDir: "/",
    outDir: undefined,
    typeRoots: [join(root, "node_modules/@types")],
    paths,
  };
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: files.map((f) => f.file) }));
  const tsc = join(root, "node_modules/typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(dir, "tsconfig.json"), "--pretty", "false"], { cwd: dir, encoding: "utf8" });
  if (r.error) fail(`could not run tsc: ${r.error.message}`);
  // Only the examples' own errors are the README's; errors inside src/ are `npm run typecheck`'s.
  const ours = [];
  for (const l of r.stdout.split("\n")) {
    const m = /^(.+?)\((\d+),(\d+)\): error (TS\d+: .*)$/.exec(l);
    const f = m && files.find((x) => x.file === resolve(dir, m[1]));
    if (f) ours.push(`README.md:${f.line + Number(m[2]) - 1}:${m[3]}: ${m[4]}`);
  }
  if (ours.length > 0) {
    for (const o of ours) console.error(o);
    fail(`${ours.length} type error(s) in README.md's library examples`);
  }
  if (r.status !== 0 && !/error TS/.test(r.stdout)) fail(`tsc failed: ${(r.stderr || r.stdout).trim().split("\n")[0]}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
