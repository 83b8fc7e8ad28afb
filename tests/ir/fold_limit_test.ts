// Constant folding is bounded: a node computed from weights alone may fold into a constant no
// larger than MAX_FOLDED_VALUES, or than its largest input (scaling a big weight is fine), so a
// few bytes of weights cannot make canonicalize allocate gigabytes.
import assert from "node:assert/strict";
import { runPipeline } from "../../compiler/mod.ts";
import { GraphBuilder, MAX_FOLDED_VALUES, RefoldError } from "../../ir/mod.ts";

function broadcastGraph(rows: number, columns: number) {
  const b = new GraphBuilder("g");
  const x = b.input("x", [rows, columns]);
  const column = b.weight("col", [rows, 1], new Float32Array(rows).fill(1));
  const row = b.weight("row", [1, columns], new Float32Array(columns).fill(2));
  b.output("y", b.add(x, b.add(column, row)));
  return b.build();
}

Deno.test("folding: a broadcast of two small weights into 2^21 values is refused", () => {
  const graph = broadcastGraph(2 ** 10, 2 ** 11);
  assert.throws(() => runPipeline(graph, { passes: ["canonicalize"] }), (error: unknown) => {
    assert.ok(error instanceof RefoldError);
    assert.equal(
      error.message,
      "pass canonicalize: folding add(f32[1024,1], f32[1,2048]) : f32[1024,2048] would make a " +
        `constant of 2097152 values from inputs of at most 2048; refold folds constants of up ` +
        `to ${MAX_FOLDED_VALUES} values unless an input is as large`,
    );
    return true;
  });
});

Deno.test("folding: at the limit, and a big weight scaled, fold as before", () => {
  const graph = broadcastGraph(2 ** 10, 2 ** 10);
  const { graph: folded } = runPipeline(graph, { passes: ["canonicalize"] });
  const [, constant] = folded.outputs[0].node.inputs;
  assert.equal(constant.op, "weight");
  assert.equal(constant.data![0], 3);
  const b = new GraphBuilder("g");
  const big = b.weight("big", [2 ** 21], new Float32Array(2 ** 21).fill(1));
  b.output("y", b.add(b.input("x", [2 ** 21]), b.mul(big, b.weight("s", [1], Float32Array.of(3)))));
  const scaled = runPipeline(b.build(), { passes: ["canonicalize"] }).graph;
  assert.equal(scaled.outputs[0].node.inputs[1].data![5], 3);
});
