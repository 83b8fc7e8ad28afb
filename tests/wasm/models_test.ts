// Whole models on the wasm backend: every small example, deployed by the compiler pipeline,
// must match its training-time graph within 2e-6 (relative to the output's largest value;
// float32 reaches 7.6e-7 on the deepest, a dropped BatchNorm epsilon moves them by 5e-6 or more),
// with the relaxed-simd and the plain-SIMD module; plus hand-built deployed graphs at shapes
// the examples do not cover (C != O, several partitions and share-sets, batch > 1).
import { runPipeline } from "../../compiler/mod.ts";
import { EXAMPLES } from "../../examples/mod.ts";
import { checkGraph } from "./_run.ts";
import { lightBlockGraph, v1BlockGraph, v2UnitGraph } from "./_deployed.ts";

for (const [name, example] of Object.entries(EXAMPLES)) {
  if (!example.small) continue;
  Deno.test(`models: ${name} deployed matches training-time`, async () => {
    const training = example.build({ batch: 2 });
    const deployed = runPipeline(training).graph;
    await checkGraph(deployed, { reference: training, tolerance: 2e-6 });
  });
}

Deno.test("models: hand-built deployed blocks", async () => {
  await checkGraph(v1BlockGraph({
    batch: 3,
    channels: 6,
    outChannels: 10,
    height: 10,
    width: 9,
    h: 5,
    w: 3,
    groups: 2,
    reduction: 3,
  }));
  await checkGraph(lightBlockGraph({
    batch: 2,
    channels: 8,
    outChannels: 8,
    height: 14,
    width: 14,
    h: 7,
    w: 7,
    groups: 4,
    reduction: 1,
    wide: 24,
  }));
  await checkGraph(
    v2UnitGraph({ batch: 2, channels: 16, height: 12, width: 8, h: 6, w: 4, sharesets: 4 }),
  );
});
