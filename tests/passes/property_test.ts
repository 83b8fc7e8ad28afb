// Property: for random small RepMLP v1 blocks and RepMLPNets (built by the example builders), the
// pipeline reaches the deployed structure, with the formula's parameter count and the training
// graph's outputs. Shrinking points at the smallest failing configuration.
import assert from "node:assert/strict";
import fc from "fast-check";
import { runPipeline } from "../../compiler/mod.ts";
import { summarize } from "../../ir/mod.ts";
import {
  buildRepmlpBlock,
  buildRepmlpNet,
  exampleFeeds,
  type RepmlpBlockConfig,
  repmlpBlockDeployedParameters,
  type RepmlpNetConfig,
  repmlpNetParameters,
} from "../../examples/mod.ts";
import { assertDeployedStructure, deployedError } from "./_deployed.ts";

/** Kernel lists: distinct odd sizes in any order (the official conversion needs them sorted). */
const kernels = fc.shuffledSubarray([1, 3, 5], { minLength: 0, maxLength: 3 });

const v1Config: fc.Arbitrary<RepmlpBlockConfig> = fc.record({
  groups: fc.constantFrom(1, 2, 4),
  cPerGroup: fc.integer({ min: 1, max: 2 }),
  oPerGroup: fc.integer({ min: 1, max: 3 }),
  h: fc.integer({ min: 1, max: 4 }),
  w: fc.integer({ min: 1, max: 4 }),
  hp: fc.integer({ min: 1, max: 2 }),
  wp: fc.integer({ min: 1, max: 3 }),
  ks: kernels,
  r: fc.constantFrom(1, 2),
}).map(({ groups, cPerGroup, oPerGroup, h, w, hp, wp, ks, r }) => ({
  C: groups * cPerGroup,
  O: groups * oPerGroup,
  H: h * hp,
  W: w * wp,
  h,
  w,
  reparamConvK: ks,
  fc1Fc2Reduction: r,
  fc3Groups: groups,
})).filter((config) =>
  Math.floor((config.C * (config.H / config.h) * (config.W / config.w)) / config.fc1Fc2Reduction) >=
    1
);

const v2Config: fc.Arbitrary<RepmlpNetConfig> = fc.record({
  sharesets: fc.constantFrom(1, 2, 4),
  perSet: fc.constantFrom(1, 2),
  h: fc.integer({ min: 1, max: 3 }),
  w: fc.integer({ min: 1, max: 3 }),
  hp: fc.integer({ min: 1, max: 2 }),
  wp: fc.integer({ min: 1, max: 2 }),
  ks: kernels,
}).map(({ sharesets, perSet, h, w, hp, wp, ks }) => {
  const channels = Math.max(4, sharesets * perSet);
  return {
    inChannels: 3,
    numClass: 3,
    patchSize: [2, 2] as const,
    numBlocks: [1],
    channels: [channels],
    hs: [h],
    ws: [w],
    sharesetsNums: [sharesets],
    reparamConvK: ks,
    globalperceptronReduce: 4,
    imgH: 2 * h * hp,
    imgW: 2 * w * wp,
  };
});

Deno.test("random RepMLP v1 blocks deploy exactly", () => {
  fc.assert(
    fc.property(v1Config, fc.integer({ min: 1, max: 2 }), (config, batch) => {
      const training = buildRepmlpBlock(config, { batch, seed: 11 });
      const { graph } = runPipeline(training);
      const label = JSON.stringify(config);
      assertDeployedStructure(training, graph, label);
      assert.equal(summarize(graph).ops.conv2d, undefined, `${label}: a conv2d is left`);
      assert.equal(summarize(graph).parameters, repmlpBlockDeployedParameters(config), label);
      const error = deployedError(training, graph, exampleFeeds(training, 2));
      assert.ok(error <= 5e-7, `${label}: relative error ${error}`);
    }),
    { numRuns: 60, seed: 20240601 },
  );
});

Deno.test("random RepMLPNets deploy exactly", () => {
  fc.assert(
    fc.property(v2Config, fc.integer({ min: 1, max: 2 }), (config, batch) => {
      const training = buildRepmlpNet(config, { batch, seed: 5 });
      const { graph } = runPipeline(training);
      const label = JSON.stringify(config);
      assertDeployedStructure(training, graph, label);
      // With C == S every fc3 row holds all channels, so prebn1 folds too: its 2C affine goes.
      const [c] = config.channels, [s] = config.sharesetsNums;
      const expected = repmlpNetParameters(config, "folded") - (c === s ? 2 * c : 0);
      assert.equal(summarize(graph).parameters, expected, label);
      const error = deployedError(training, graph, exampleFeeds(training, 4));
      assert.ok(error <= 5e-7, `${label}: relative error ${error}`);
    }),
    { numRuns: 40, seed: 20240602 },
  );
});
