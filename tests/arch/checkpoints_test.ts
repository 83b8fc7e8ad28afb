/**
 * Every torch.save fixture (reduced-size configs of each architecture, in
 * training and deploy form, plain, DDP, {"model": ...}, torch.compile, f16,
 * mixed bf16/f64, non-contiguous, safetensors and shards) loads strictly, and
 * the graph built from it computes PyTorch's eval output:
 * - the training-time graph in the float64 interpreter, to 1e-13 (the same f32
 *   weights and input, both sides in float64: only summation order differs);
 * - the deployed graph (the pipeline, skipping what the layout says) in the
 *   float64 interpreter, to 3e-7 (the folded weights are rounded to f32;
 *   measured: at most 6e-8), or, for a network whose own float32 noise floor
 *   is higher (the reduced MobileOne-S0: PyTorch's converted float32 model is
 *   4.3e-6 off its float64 training model), to twice that floor.
 */
import assert from "node:assert/strict";
import { buildArch } from "../../arch/mod.ts";
import { PIPELINE, runPipeline } from "../../compiler/mod.ts";
import { openCheckpoint } from "../../formats/mod.ts";
import { interpret } from "../../ir/mod.ts";
import { compareArrays } from "../_assert.ts";
import { CHECKPOINTS, definitionOf, MANIFEST, readF32, readF64 } from "./_fixtures.ts";

function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  return compareArrays(actual, expected).relative;
}

for (const [name, fixture] of Object.entries(MANIFEST.archs)) {
  for (const checkpoint of fixture.checkpoints) {
    Deno.test(`${checkpoint.file} loads as ${name} (${checkpoint.layout}) and matches PyTorch`, async () => {
      const opened = await openCheckpoint(`${CHECKPOINTS}${checkpoint.file}`);
      let built;
      try {
        assert.equal(opened.wrapper, checkpoint.wrapper);
        built = await buildArch(definitionOf(name), { batch: MANIFEST.batch, weights: opened });
      } finally {
        opened.close();
      }
      assert.equal(built.layout.name, checkpoint.layout);
      const feeds = { x: readF32(fixture.input) };
      const expected = readF64(checkpoint.expected);
      const training = Object.values(interpret(built.graph, feeds))[0];
      const trainingError = relativeError(training, expected);
      assert.ok(trainingError < 1e-13, `training graph: relative error ${trainingError}`);

      const passes = PIPELINE.map((pass) => pass.name).filter((pass) =>
        !built.skipPasses.includes(pass)
      );
      const { graph } = runPipeline(built.graph, { passes });
      const deployedError = relativeError(Object.values(interpret(graph, feeds))[0], expected);
      const tolerance = Math.max(3e-7, 2 * (fixture.deployDrift ?? 0));
      assert.ok(deployedError < tolerance, `deployed graph: relative error ${deployedError}`);
    });
  }
}

Deno.test("the fixtures cover every family's key sets in every form", () => {
  const seen = new Set<string>();
  for (const fixture of Object.values(MANIFEST.archs)) {
    for (const checkpoint of fixture.checkpoints) {
      seen.add(`${fixture.family}/${checkpoint.layout}`);
    }
  }
  assert.deepEqual([...seen].sort(), [
    "mobileone/deploy",
    "mobileone/training",
    "repmlp-resnet/deploy",
    "repmlp-resnet/training",
    "repmlpnet/deploy",
    "repmlpnet/training",
    "repvgg/deploy",
    "repvgg/training",
    "res50-torchvision/torchvision",
    "res50/deploy",
    "res50/training",
  ]);
});
