// Child processes run inside network namespaces with plain `node`, which cannot load TypeScript.
// This transpiles src/ (no type check, just as vitest does) into a temp dir that links back to the
// repo's build/ (addons) and node_modules/, so a child can import dist/host/rawsock.js etc.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { nobodyRoot } from "../../helpers/nobody.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Returns { root, cleanup }: root/src/... holds the .js files, root/build links to the addons. */
export function transpileSrc(): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), "carp-io-src-"));
  const srcDir = join(repoRoot, "src");
  for (const file of walk(srcDir)) {
    const js = ts.transpileModule(readFileSync(file, "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    }).outputText;
    const out = join(root, "src", relative(srcDir, file)).replace(/\.ts$/, ".js");
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, js);
  }
  writeFileSync(join(root, "package.json"), '{"type":"module"}\n');
  // CARP_IO_TEST_BUILD points children at another build dir (e.g. an ASan build of carp_io).
  // The links point into a tree uid 65534 can read too (the permission tests drop root; a clone under /root
  // is 0700): the repository itself, or a copy of its build and runtime dependency (test/helpers/nobody.ts).
  const base = nobodyRoot();
  symlinkSync(process.env.CARP_IO_TEST_BUILD ?? join(base, "build"), join(root, "build"));
  symlinkSync(join(base, "node_modules"), join(root, "node_modules"));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
