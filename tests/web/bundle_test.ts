// A compiled model.js bundles for the browser with esbuild and Rollup, with no externals and
// no plugins, and the bundle runs: an app importing each target's model.js is bundled, the
// weights are copied next to the bundle as docs/module-contract.md says, and the bundle's
// output is compared with the float64 interpreter. Progress is checked on the way.
import assert from "node:assert/strict";
import * as esbuild from "esbuild";
import { rollup } from "rollup";
import { assertClose } from "../_assert.ts";
import { join } from "../_path.ts";
import { reference, testBlock, TOLERANCE, writeModule } from "./_modules.ts";

const graph = testBlock();
const { x, y } = reference(graph);

/** A tiny app: loads the model, runs one input, reports progress. */
const APP = `import { load } from "./model/model.js";
export async function main(x, options = {}) {
  const progress = [];
  const model = await load({ ...options, onProgress: (p) => progress.push(p) });
  const y = await model.run(x);
  model.dispose();
  return { y, progress };
}
globalThis.refoldApp = { main };
`;

async function appDir(target: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `refold-bundle-${target}-` });
  await writeModule(graph, target, join(dir, "model"));
  await Deno.writeTextFile(join(dir, "app.js"), APP);
  await Deno.mkdir(join(dir, "dist"));
  await Deno.copyFile(join(dir, "model", "weights.bin"), join(dir, "dist", "weights.bin"));
  return dir;
}

type Progress = { loaded: number; total: number };

function checkProgress(progress: Progress[], bytes: number): void {
  assert.ok(progress.length >= 3, `expected progress per chunk, got ${progress.length} calls`);
  for (let i = 1; i < progress.length; i++) {
    assert.ok(progress[i].loaded >= progress[i - 1].loaded, "loaded never goes back");
  }
  assert.ok(progress.every((p) => p.total === bytes && p.loaded <= bytes), "total is the size");
  assert.deepEqual(progress.at(-1), { loaded: bytes, total: bytes });
}

/** Bundling may warn only about what the docs name (import.meta in a script bundle). */
function checkBundle(text: string): void {
  assert.doesNotMatch(text, /(?:from|import)\s*["']node:/, "a static node: import in the bundle");
  assert.doesNotMatch(text, /\brequire\(/, "require() in the bundle");
}

for (const target of ["js", "wasm"]) {
  Deno.test(`${target}: esbuild --bundle --platform=browser --format=esm, then run`, async () => {
    const dir = await appDir(target);
    try {
      const result = await esbuild.build({
        entryPoints: [join(dir, "app.js")],
        bundle: true,
        platform: "browser",
        format: "esm",
        outfile: join(dir, "dist", "app.js"),
        logLevel: "silent",
      });
      assert.deepEqual(result.warnings.map((w) => w.text), []);
      const text = await Deno.readTextFile(join(dir, "dist", "app.js"));
      checkBundle(text);
      const { main } = await import(join(dir, "dist", "app.js"));
      const out = await main(x);
      assertClose(out.y, y, TOLERANCE[target], `${target} bundled by esbuild vs interpreter`);
      checkProgress(out.progress, (await Deno.stat(join(dir, "dist", "weights.bin"))).size);
    } finally {
      await esbuild.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("webgpu: esbuild --bundle --platform=browser resolves everything", async () => {
  const dir = await appDir("webgpu");
  try {
    const result = await esbuild.build({
      entryPoints: [join(dir, "app.js")],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
    });
    assert.deepEqual(result.warnings.map((w) => w.text), []);
    checkBundle(result.outputFiles[0].text);
  } finally {
    await esbuild.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wasm: the default script bundle needs load({ weights }) and says so", async () => {
  const dir = await appDir("wasm");
  try {
    // What the issue ran: `esbuild app.js --bundle --platform=browser` (an IIFE script).
    const result = await esbuild.build({
      entryPoints: [join(dir, "app.js")],
      bundle: true,
      platform: "browser",
      write: false,
      logLevel: "silent",
    });
    assert.deepEqual(result.errors, []);
    const text = result.outputFiles[0].text;
    checkBundle(text);
    (0, eval)(text);
    const { main } = (globalThis as unknown as { refoldApp: { main: typeof mainType } }).refoldApp;
    await assert.rejects(() => main(x), /import\.meta\.url is not available.*load\(\{ weights/);
    const weights = new URL(`file://${join(dir, "dist", "weights.bin")}`);
    const out = await main(x, { weights });
    assertClose(out.y, y, TOLERANCE.wasm, "wasm in a script bundle vs interpreter");
    checkProgress(out.progress, (await Deno.stat(join(dir, "dist", "weights.bin"))).size);
  } finally {
    await esbuild.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
declare function mainType(
  x: Float32Array,
  options?: Record<string, unknown>,
): Promise<{ y: Float32Array; progress: Progress[] }>;

for (const target of ["js", "wasm", "webgpu"]) {
  Deno.test(`${target}: Rollup bundles it with no plugins`, async () => {
    const dir = await appDir(target);
    try {
      const warnings: string[] = [];
      const bundle = await rollup({
        input: join(dir, "app.js"),
        onwarn: (warning) => void warnings.push(warning.message),
      });
      const { output } = await bundle.generate({ format: "es" });
      await bundle.close();
      assert.deepEqual(warnings, []);
      assert.equal(output.length, 1, "one chunk");
      checkBundle(output[0].code);
      if (target === "webgpu") return;
      await Deno.writeTextFile(join(dir, "dist", "app.js"), output[0].code);
      const { main } = await import(join(dir, "dist", "app.js"));
      const out = await main(x);
      assertClose(out.y, y, TOLERANCE[target], `${target} bundled by Rollup vs interpreter`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
