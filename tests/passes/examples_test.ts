// Every example through the whole pipeline, against issue 3's correctness bar: no batchnorm left,
// no conv2d inside a RepMLP block, parameters equal to the deployed structure's formula, and
// max|y_deploy - y_train| / max|y_train| <= 5e-7 (small models, which reach 9e-8; a dropped
// BatchNorm epsilon moves them by 5e-6 or more. The big ones are checked for
// structure and parameters, since the float64 interpreter is too slow for them).
import assert from "node:assert/strict";
import { runPipeline } from "../../compiler/mod.ts";
import { summarize } from "../../ir/mod.ts";
import { exampleFeeds, EXAMPLES } from "../../examples/mod.ts";
import { assertDeployedStructure, deployedError } from "./_deployed.ts";

for (const [name, example] of Object.entries(EXAMPLES)) {
  Deno.test(`example ${name} deploys${example.small ? " and matches" : ""}`, () => {
    const training = example.build({ batch: example.small ? 2 : 1, seed: 3 });
    const { graph } = runPipeline(training);
    assertDeployedStructure(training, graph, name);
    // RepMLPNet: every BN folded where exact, prebn1 a per-channel affine (the official
    // conversion would keep the other BNs, which refold folds too).
    const expected = example.foldedParameters?.() ?? example.deployedParameters();
    assert.equal(summarize(graph).parameters, expected, `${name}: parameters`);
    if (example.small) {
      const error = deployedError(training, graph, exampleFeeds(training, 5));
      assert.ok(error <= 5e-7, `${name}: relative error ${error.toExponential(2)}`);
    }
  });
}
