// Compiled modules in headless Chromium: js, wasm on 1 and 2 threads, and webgpu (SwiftShader)
// run in a cross-origin isolated page, bundled by esbuild for the browser, and their outputs
// are compared with the float64 interpreter. The 2-thread case must really run 2 threads;
// the same page served without the isolation headers must fall back to 1.
import assert from "node:assert/strict";
import * as esbuild from "esbuild";
import { serveDirectory } from "../../web/server.ts";
import { assertClose } from "../_assert.ts";
import { dirname, fromFileUrl, join } from "../_path.ts";
import { launchChromium } from "./_browser.ts";
import { MODULE_TARGETS, reference, testBlock, TOLERANCE, writeModule } from "./_modules.ts";

const PAGE = join(dirname(fromFileUrl(import.meta.url)), "page");

interface CaseResult {
  y: number[];
  repeatable: boolean;
  progress: { loaded: number; total: number }[];
  threads: number;
  engine: string | null;
  precision: string | null;
  workers: number;
  isolated: boolean;
}

/** The site: the bundled harness, each target's weights beside it, and the input. */
async function buildSite(dir: string, x: Float32Array): Promise<string> {
  const graph = testBlock();
  for (const target of MODULE_TARGETS) await writeModule(graph, target, join(dir, target));
  await Deno.copyFile(join(PAGE, "harness.js"), join(dir, "harness.js"));
  const site = join(dir, "site");
  await Deno.mkdir(site);
  try {
    const result = await esbuild.build({
      entryPoints: [join(dir, "harness.js")],
      bundle: true,
      platform: "browser",
      format: "esm",
      outfile: join(site, "app.js"),
      logLevel: "silent",
    });
    assert.deepEqual(result.warnings.map((w) => w.text), []);
  } finally {
    await esbuild.stop();
  }
  await Deno.copyFile(join(PAGE, "index.html"), join(site, "index.html"));
  for (const target of MODULE_TARGETS) {
    await Deno.copyFile(join(dir, target, "weights.bin"), join(site, `${target}.weights.bin`));
  }
  await Deno.writeFile(join(site, "x.bin"), new Uint8Array(x.buffer));
  return site;
}

Deno.test("compiled modules run in headless Chromium and match the interpreter", async (t) => {
  const graph = testBlock();
  const { x, y } = reference(graph);
  const dir = await Deno.makeTempDir({ prefix: "refold-browser-" });
  const site = await buildSite(dir, x);
  const server = serveDirectory(site);
  const plain = serveDirectory(site, { isolate: false });
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(server.url);
    await page.waitForSelector("body[data-ready=true]", { state: "attached", timeout: 30_000 });
    const run = (target: string, threads = 1) =>
      page.evaluate(
        (c) => (globalThis as unknown as { refoldHarness: Harness }).refoldHarness.runCase(c),
        { target, threads },
      ) as Promise<CaseResult>;

    const results: Record<string, CaseResult> = {};
    for (
      const [name, target, threads] of [
        ["js", "js", 1],
        ["wasm", "wasm", 1],
        ["wasm 2 threads", "wasm", 2],
        ["webgpu", "webgpu", 1],
      ] as const
    ) {
      await t.step(name, async () => {
        const result = await run(target, threads);
        results[name] = result;
        assertClose(result.y, y, TOLERANCE[target], `${name} in Chromium vs interpreter`);
        assert.ok(result.repeatable, "a second run gives the same bits");
        const size = (await Deno.stat(join(site, `${target}.weights.bin`))).size;
        assert.deepEqual(result.progress.at(-1), { loaded: size, total: size });
        assert.ok(result.progress.every((p) => p.total === size), "total known from the start");
        assert.equal(result.isolated, true, "the page is cross-origin isolated");
      });
    }
    await t.step("2 threads really ran, bit-identical to 1", () => {
      const two = results["wasm 2 threads"];
      assert.equal(two.threads, 2, "model.threads");
      assert.equal(two.workers, 1, "one worker started beside the main thread");
      assert.equal(results["wasm"].workers, 0);
      assert.deepEqual(two.y, results["wasm"].y);
      assert.equal(results["webgpu"].precision, "f32");
    });
    await t.step("without COOP/COEP the wasm model falls back to 1 thread", async () => {
      await page.goto(plain.url);
      await page.waitForSelector("body[data-ready=true]", { state: "attached", timeout: 30_000 });
      const result = await run("wasm", 2);
      assert.equal(result.isolated, false);
      assert.equal(result.threads, 1);
      assert.equal(result.workers, 0);
      assert.deepEqual(result.y, results["wasm"].y);
    });
    assert.deepEqual(errors, [], "errors in the page");
  } finally {
    await browser.close();
    await server.shutdown();
    await plain.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

interface Harness {
  runCase(c: { target: string; threads: number }): Promise<CaseResult>;
}
