/**
 * verifyDeployed, the backend boundary: what the pass pipeline leaves is
 * accepted (every example), and each kind of training-time leftover is
 * refused with one line naming the node in IR numbering and the pass that
 * removes it, through both code-generating backends.
 */
import assert from "node:assert/strict";
import { runPipeline } from "../../compiler/mod.ts";
import { EXAMPLES } from "../../examples/mod.ts";
import { type Graph, GraphBuilder, type Node, RefoldError, uniform } from "../../ir/mod.ts";
import { verifyDeployed } from "../../backends/plan/mod.ts";
import { wasmBackend } from "../../backends/wasm/mod.ts";
import { webgpuBackend } from "../../backends/webgpu/mod.ts";

function graphOf(name: string, build: (b: GraphBuilder, x: Node) => Node): Graph {
  const b = new GraphBuilder(name);
  const x = b.input("x", [1, 3, 2, 2]);
  b.output("y", build(b, x));
  return b.build();
}

const param = (b: GraphBuilder, name: string, low = -1) =>
  b.weight(name, [3], uniform(3, name.length, low, low + 1));

const CASES: { graph: Graph; message: string }[] = [
  {
    graph: graphOf(
      "folded",
      (b, x) => b.add(x, b.transpose(b.weight("w", [2, 2], uniform(4, 1)), [1, 0])),
    ),
    message: 'graph "folded" is not deployed: %2 = transpose(f32[2,2]) {perm=[1,0]} : f32[2,2]: ' +
      "it is computed from weights alone; canonicalize folds it into a weight",
  },
  {
    graph: graphOf("bn", (b, x) =>
      b.batchnorm(x, {
        gamma: param(b, "g"),
        beta: param(b, "bb"),
        mean: param(b, "mmm"),
        variance: param(b, "vvvv", 0.5),
      })),
    message: 'graph "bn" is not deployed: %5 = batchnorm(f32[1,3,2,2], f32[3], f32[3], f32[3], ' +
      "f32[3]) {axis=1, epsilon=0.00001} : f32[1,3,2,2]: its statistics are constants; " +
      "fold-batchnorm or lower-batchnorm removes it",
  },
  {
    graph: graphOf("flat", (b, x) => b.flatten(x, 1)),
    message: 'graph "flat" is not deployed: %1 = flatten(f32[1,3,2,2]) {axis=1} : f32[1,12]: ' +
      "flatten is not deployed form; canonicalize makes it a reshape",
  },
];

Deno.test("verifyDeployed: training-time leftovers are refused, naming the node and the pass", async () => {
  for (const { graph, message } of CASES) {
    assert.throws(() => verifyDeployed(graph, "wasm"), (error: Error) => {
      assert.ok(error instanceof RefoldError);
      assert.equal(error.message, `wasm: ${message}`);
      return true;
    });
    await assert.rejects(() => wasmBackend.emit(graph), { message: `wasm: ${message}` });
    await assert.rejects(() => webgpuBackend.emit(graph), { message: `webgpu: ${message}` });
  }
});

Deno.test("verifyDeployed: a BatchNorm with computed statistics is deployed form", () => {
  const graph = graphOf("computed", (b, x) => {
    const v = b.input("v", [3]);
    return b.batchnorm(x, { gamma: v, beta: param(b, "b"), mean: param(b, "m"), variance: v });
  });
  verifyDeployed(graph, "wasm");
});

Deno.test("verifyDeployed: every example, deployed by the pipeline, is accepted", () => {
  for (const [name, example] of Object.entries(EXAMPLES)) {
    if (!example.small) continue;
    for (const batch of [1, 2]) {
      const training = example.build({ batch });
      assert.throws(() => verifyDeployed(training, name), RefoldError, `${name} training`);
      verifyDeployed(runPipeline(training).graph, name);
    }
  }
});
