// Every WebGPU test module, run in one isolate. `deno test --parallel` gives each test module an
// isolate on a thread of its own; when several of them hold WebGPU (Deno's wgpu, here over Mesa's
// EGL and llvmpipe) at once, the C heap gets corrupted and the test process aborts at exit with
// "corrupted size vs. prev_size in fastbins" (exit 134) after every test passed. deno.json
// excludes tests/webgpu/ from test collection, so those modules run only through this one, and
// the test below keeps it that way. Run them alone with `deno test -A tests/webgpu_test.ts`.
import assert from "node:assert/strict";
import "./webgpu/blocks_test.ts";
import "./webgpu/deep_graph_test.ts";
import "./webgpu/emit_test.ts";
import "./webgpu/examples_test.ts";
import "./webgpu/f16_test.ts";
import "./webgpu/families_test.ts";
import "./webgpu/kernels_test.ts";
import "./webgpu/limits_test.ts";
import "./webgpu/weight_file_test.ts";
import { dirname, fromFileUrl, join } from "./_path.ts";

const TESTS = dirname(fromFileUrl(import.meta.url));

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* sourceFiles(path);
    else if (/\.ts$/.test(entry.name)) yield path;
  }
}

Deno.test("WebGPU tests: every tests/webgpu/ test module is imported here", () => {
  const imported = [
    ...Deno.readTextFileSync(fromFileUrl(import.meta.url)).matchAll(
      /^import "\.\/webgpu\/([a-z0-9_]+_test\.ts)";$/gm,
    ),
  ].map((match) => match[1]).sort();
  const present = [...Deno.readDirSync(join(TESTS, "webgpu"))]
    .map((entry) => entry.name).filter((name) => name.endsWith("_test.ts")).sort();
  assert.deepEqual(imported, present);
});

Deno.test("WebGPU tests: no test file outside tests/webgpu/ opens a GPU", () => {
  // Helpers count too: a test module that imports one runs in an isolate of its own.
  const offenders = [...sourceFiles(TESTS)].filter((file) =>
    !file.startsWith(join(TESTS, "webgpu") + "/") && !file.endsWith("/webgpu_test.ts") &&
    /navigator\.gpu|webgpu\/_helpers\.ts/.test(Deno.readTextFileSync(file))
  ).map((file) => file.slice(TESTS.length + 1));
  assert.deepEqual(offenders, []);
});
