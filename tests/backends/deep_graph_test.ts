/**
 * Deep graphs: a chain of 50,000 elementwise nodes (25,000 x relu(h + x))
 * compiles on both code-generating targets (WebGPU: tests/webgpu/deep_graph_test.ts) and computes what the
 * interpreter computes. Every walk over the graph is iterative; fusion cuts
 * the chain into kernels of at most MAX_EXPR_SIZE expression nodes, so no
 * kernel's expression is deeper than that either.
 */
import assert from "node:assert/strict";
import { interpret } from "../../ir/mod.ts";
import { MAX_EXPR_SIZE } from "../../backends/plan/mod.ts";
import { compileModel } from "../../backends/wasm/compile.ts";
import { runCompiled } from "../wasm/_run.ts";
import { deepChain, feeds, PAIRS } from "./_deep_chain.ts";

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
