// refold outside its checkout: a script in another folder imports mod.ts, and compile.ts runs
// from there, with no deno.json in sight (--no-config), as a user's project would. This works
// because the library imports npm packages by versioned npm: specifiers, which are checked here
// to agree with deno.json (one copy of each package in the checkout and outside it).
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { join } from "../_path.ts";
import { ROOT } from "./_run.ts";

const LIBRARY = ["mod.ts", "compile.ts", "ir", "compiler", "formats", "backends", "cli", "web"];
const MODEL = join(ROOT, "examples", "models", "repmlp_block");

function* sources(path: string): Generator<string> {
  const info = Deno.statSync(path);
  if (info.isFile) {
    if (path.endsWith(".ts")) yield path;
    return;
  }
  for (const entry of Deno.readDirSync(path)) yield* sources(join(path, entry.name));
}

async function denoIn(cwd: string, args: string[]) {
  const result = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  return {
    code: result.code,
    stdout: text.decode(result.stdout),
    stderr: text.decode(result.stderr),
  };
}

async function modelFolder(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "refold-outside-" });
  for (const file of ["model.json", "model.safetensors"]) {
    await Deno.copyFile(join(MODEL, file), join(dir, file));
  }
  return dir;
}

Deno.test("library code imports packages as npm:name@version, the versions of deno.json", () => {
  const imports: Record<string, string> = JSON.parse(
    Deno.readTextFileSync(join(ROOT, "deno.json")),
  ).imports;
  const problems: string[] = [];
  for (const top of LIBRARY) {
    // cli/node/ builds the Node CLI inside the checkout; esbuild resolves its bare imports.
    for (const file of sources(join(ROOT, top))) {
      if (file.includes("/cli/node/")) continue;
      const text = Deno.readTextFileSync(file);
      const specifiers = text.matchAll(
        /(?:from\s+|import\s*\(\s*|reference types=)"([^".][^"]*)"/g,
      );
      for (const [, specifier] of specifiers) {
        if (specifier.startsWith("node:")) continue;
        const npm = /^npm:((?:@[^/@]+\/)?[^/@]+)@([^/]+)/.exec(specifier);
        if (!npm) problems.push(`${file.slice(ROOT.length + 1)}: bare "${specifier}"`);
        else if (imports[npm[1]] !== `npm:${npm[1]}@${npm[2]}`) {
          problems.push(
            `${file.slice(ROOT.length + 1)}: ${specifier} but deno.json has ${imports[npm[1]]}`,
          );
        }
      }
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("a script in another folder imports mod.ts and compiles", async () => {
  const dir = await modelFolder();
  try {
    await Deno.writeTextFile(
      join(dir, "use.ts"),
      `import { compileFile } from ${JSON.stringify(pathToFileURL(join(ROOT, "mod.ts")).href)};
const result = await compileFile("model.json", { target: "wasm" });
console.log(result.files.map((file) => file.path).join(" "));
`,
    );
    const result = await denoIn(dir, ["run", "-A", "--no-config", "use.ts"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), "model.js model.d.ts weights.bin package.json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compile.ts runs from another folder", async () => {
  const dir = await modelFolder();
  try {
    const result = await denoIn(dir, [
      "run",
      "-A",
      "--no-config",
      join(ROOT, "compile.ts"),
      "model.json",
      "--target",
      "js",
      "--out",
      "out",
    ]);
    assert.equal(result.code, 0, result.stderr);
    const written = [...Deno.readDirSync(join(dir, "out"))].map((entry) => entry.name).sort();
    assert.deepEqual(written, [
      ".refold-manifest.json",
      "model.d.ts",
      "model.js",
      "package.json",
      "weights.bin",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
