/**
 * The library path of mod.ts, end to end: loadCheckpoint(bytes) -> buildArch
 * -> compileGraph -> the module a page would load. Its output must equal
 * PyTorch's eval output (float64) to float32 accuracy, for a training-form
 * and a deploy-form checkpoint, on the js and wasm targets.
 */
import assert from "node:assert/strict";
import { buildArch, compileFile, compileGraph, loadCheckpoint, PIPELINE } from "../../mod.ts";
import { assertClose } from "../_assert.ts";
import { join } from "../_path.ts";
import { CHECKPOINTS, definitionOf, MANIFEST, readF32, readF64 } from "./_fixtures.ts";

const CASES: [string, string][] = [
  ["repmlpnet", "repmlpnet.mixed.pth"],
  ["repmlp_res_light", "repmlp_res_light.deploy.pth"],
];

for (const [arch, file] of CASES) {
  for (const target of ["js", "wasm"]) {
    Deno.test(`${file} -> ${target} module equals PyTorch`, async () => {
      const fixture = MANIFEST.archs[arch];
      const entry = fixture.checkpoints.find((checkpoint) => checkpoint.file === file)!;
      const checkpoint = await loadCheckpoint(await Deno.readFile(`${CHECKPOINTS}${file}`));
      const built = await buildArch(definitionOf(arch), {
        batch: MANIFEST.batch,
        weights: checkpoint,
      });
      const passes = PIPELINE.map((pass) => pass.name).filter((p) => !built.skipPasses.includes(p));
      const { files } = await compileGraph(built.graph, { target, passes });
      const dir = await Deno.makeTempDir({ prefix: "refold-module-" });
      try {
        for (const { path, contents } of files) {
          if (typeof contents === "string") await Deno.writeTextFile(join(dir, path), contents);
          else await Deno.writeFile(join(dir, path), contents);
        }
        const { load } = await import(join(dir, "model.js"));
        const model = await load();
        const y = await model.run(readF32(fixture.input));
        model.dispose();
        // float32 kernels against PyTorch in float64: measured 4e-8 to 2e-7.
        assertClose(y, readF64(entry.expected), 1e-6, `${file} on ${target}`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
}

Deno.test("compileFile(path, { arch }) reads the checkpoint strictly", async () => {
  await assert.rejects(
    () => compileFile(`${CHECKPOINTS}repmlpnet.training.pth`, { arch: "repmlpnet-t224" }),
    /repmlpnet\.training\.pth: does not fit RepMLPNet-T224 \(training form\): \d+ missing keys/,
  );
  await assert.rejects(
    () => compileFile(`${CHECKPOINTS}repmlpnet.training.pth`),
    /a checkpoint holds weights but no graph: name its architecture with --arch NAME/,
  );
});
