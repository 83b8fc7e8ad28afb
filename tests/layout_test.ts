// The import direction of the layout: ir/ imports nothing above it, compiler/ only ir/,
// backends/ never compiler/, formats/ neither compiler/ nor backends/, arch/ (architectures by
// name: builders plus checkpoints) neither compiler/ nor backends/.
import assert from "node:assert/strict";
import { dirname, fromFileUrl, join } from "./_path.ts";

const ROOT = join(dirname(fromFileUrl(import.meta.url)), "..");

const RULES: { dir: string; allowed: string[] }[] = [
  { dir: "ir", allowed: ["ir"] },
  { dir: "compiler", allowed: ["ir", "compiler"] },
  { dir: "formats", allowed: ["ir", "formats"] },
  { dir: "backends", allowed: ["ir", "backends", "formats"] },
  { dir: "arch", allowed: ["ir", "formats", "examples", "arch"] },
];

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (/\.(ts|js)$/.test(entry.name)) yield path;
  }
}

for (const { dir, allowed } of RULES) {
  Deno.test(`${dir}/ imports only from ${allowed.join(", ")}`, () => {
    const violations: string[] = [];
    let root: string;
    try {
      root = join(ROOT, dir);
      Deno.statSync(root);
    } catch {
      return;
    }
    for (const file of sourceFiles(root)) {
      const text = Deno.readTextFileSync(file);
      for (const match of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
        const target = join(dirname(file), match[1]);
        const top = target.slice(ROOT.length + 1).split("/")[0];
        if (!allowed.includes(top)) {
          violations.push(`${file.slice(ROOT.length + 1)} -> ${match[1]}`);
        }
      }
    }
    assert.deepEqual(violations, [], "imports against the layout's direction");
  });
}
