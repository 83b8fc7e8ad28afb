/**
 * Graphs that the wasm and the WebGPU benchmark both time, built in one
 * place so that the two report on the same models.
 */
import { runPipeline } from "../compiler/mod.ts";
import {
  buildMobileone,
  buildRepmlpBlock,
  buildRepvgg,
  EXAMPLES,
  MOBILEONE_CONFIGS,
  type RepmlpBlockConfig,
  REPVGG_CONFIGS,
} from "../examples/mod.ts";
import type { Graph } from "../ir/mod.ts";

/** Case (b): a RepMLP v1 block, C=O=128, H=W=14, h=w=7, k=(1,3,5), fc3 in 4 groups. */
export const V1_BLOCK: RepmlpBlockConfig = {
  C: 128,
  O: 128,
  H: 14,
  W: 14,
  h: 7,
  w: 7,
  reparamConvK: [1, 3, 5],
  fc1Fc2Reduction: 1,
  fc3Groups: 4,
};

/** Case (b), deployed at batch 1. */
export function v1BlockGraph(): Graph {
  return runPipeline(buildRepmlpBlock(V1_BLOCK, { batch: 1 })).graph;
}

/** Case (c): a whole example model of examples/mod.ts, deployed at batch 1. */
export function exampleGraph(name: string): Graph {
  return runPipeline(EXAMPLES[name].build({ batch: 1 })).graph;
}

/** Case (d): a re-parameterized conv network by its official name, deployed at batch 1, 224x224. */
export function convNetGraph(name: "RepVGG-A0" | "MobileOne-S0"): Graph {
  const training = name === "RepVGG-A0"
    ? buildRepvgg(REPVGG_CONFIGS[name], { batch: 1 })
    : buildMobileone(MOBILEONE_CONFIGS[name], { batch: 1 });
  return runPipeline(training).graph;
}
