// The 50,000-node chain of tests/backends/deep_graph_test.ts, planned and run on WebGPU.
import assert from "node:assert/strict";
import { interpret } from "../../ir/mod.ts";
import { planWebGpu } from "../../backends/webgpu/mod.ts";
import { deepChain, feeds } from "../backends/_deep_chain.ts";
import { HAS_GPU, runOnDevice } from "./_helpers.ts";

Deno.test({
  name: "deep graph: a 50,000-node chain plans (and runs) on WebGPU",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const graph = deepChain();
    const { plan } = planWebGpu(graph);
    assert.equal(plan.shaders.length <= 3, true, `${plan.shaders.length} distinct shaders`);
    if (!HAS_GPU) return;
    const actual = await runOnDevice(graph, feeds);
    assert.deepEqual([...actual.y], [...interpret(graph, feeds).y]);
  },
});
