/**
 * The small example models, training-time graph through the compiler
 * pipeline, deployed graph on the device: outputs match the reference
 * interpreter on the training graph within 1e-6 relative (float32 reaches
 * 2e-7 on llvmpipe; a dropped BatchNorm epsilon moves outputs by 5e-6 or more).
 */
import { runPipeline } from "../../compiler/mod.ts";
import { exampleFeeds, EXAMPLES } from "../../examples/mod.ts";
import { interpret } from "../../ir/mod.ts";
import { assertClose } from "../_assert.ts";
import { HAS_GPU, runOnDevice } from "./_helpers.ts";

// One of each RepMLP family (ResNet layers are in blocks_test.ts): llvmpipe compiles every
// distinct shader, so the rest are left to the wasm and js backends' tests.
const CHOSEN = ["repmlp-block", "repmlp-block-c-ne-o", "light-block", "repmlpnet-tiny"];

for (const name of CHOSEN) {
  Deno.test({
    name: `example ${name}: deployed on WebGPU matches the training-time graph`,
    ignore: !HAS_GPU,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const training = EXAMPLES[name].build({ batch: 2 });
      const deployed = runPipeline(training).graph;
      const feeds = exampleFeeds(training);
      const expected = interpret(training, feeds);
      const actual = await runOnDevice(deployed, feeds);
      for (const { name: output } of training.outputs) {
        assertClose(actual[output], expected[output], 1e-6, `${name} ${output}`);
      }
    },
  });
}
