/**
 * Deep graphs: a chain of 50,000 elementwise nodes (25,000 x relu(h + x))
 * compiles on both code-generating targets and computes what the
 * interpreter computes. Every walk over the graph is iterative; fusion cuts
 * the chain into kernels of at most MAX_EXPR_SIZE expression nodes, so no
 * kernel's expression is deeper than that either.
 */
import assert from "node:assert/strict";
import { type Graph, GraphBuilder, interpret, type Node } from "../../ir/mod.ts";
import { MAX_EXPR_SIZE } from "../../backends/plan/mod.ts";
import { compileModel } from "../../backends/wasm/compile.ts";
import { planWebGpu } from "../../backends/webgpu/mod.ts";
import { runCompiled } from "../wasm/_run.ts";
import { HAS_GPU, runOnDevice } from "../webgpu/_helpers.ts";

const PAIRS = 25_000;

function deepChain(): Graph {
  const b = new GraphBuilder("deep");
  const x = b.input("x", [1, 8]);
  let h: Node = x;
  for (let i = 0; i < PAIRS; i++) h = b.relu(b.add(h, x));
  b.output("y", h);
  return b.build();
}

// Multiples of 1/4 below 2^20: every sum is exact in float32, so the outputs must match exactly
// (a lane that starts negative stays at 0, the others climb to 25,000 x).
const feeds = { x: Float32Array.of(-1.25, 0.5, 2, -0.75, 1, -2, 0.25, 1.5) };

Deno.test("deep graph: a 50,000-node chain compiles and runs on wasm", async () => {
  const graph = deepChain();
  // binaryen's cleanup passes are skipped to keep the test fast; it still parses and validates.
  const compiled = compileModel(graph, { threadMinFlops: Infinity, optimize: false });
  const kernels = compiled.program.kernels.length;
  // Each kernel fuses as many (add, relu) pairs as MAX_EXPR_SIZE allows.
  assert.ok(kernels <= Math.ceil(PAIRS / Math.floor((MAX_EXPR_SIZE - 3) / 3)) + 1, `${kernels}`);
  const expected = interpret(graph, feeds).y;
  const actual = await runCompiled(compiled, feeds, "relaxed-simd");
  assert.deepEqual([...actual.y], [...expected]);
});

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
