// --verify bites: its default tolerance lies between what correct passes do (under 1e-7 on
// every small example) and what the classic BatchNorm bug does (a dropped epsilon moves outputs
// by 5e-6 to 4e-5, which the old default 1e-5 let through on 7 of the 11 small examples), and
// each pass is compared with the input graph too, so errors cannot build up unseen.
import assert from "node:assert/strict";
import { DEFAULT_VERIFY_TOLERANCE, type Pass, runPasses, runPipeline } from "../../compiler/mod.ts";
import { EXAMPLES } from "../../examples/mod.ts";
import { type Graph, GraphBuilder, makeWeight, rebuild, RefoldError } from "../../ir/mod.ts";
import { PIPELINE_WITHOUT_EPSILON } from "./_broken_passes.ts";

const SMALL = Object.entries(EXAMPLES).filter(([, example]) => example.small);

Deno.test("--verify: the default tolerance is 10x above every correct pass on the examples", () => {
  assert.equal(DEFAULT_VERIFY_TOLERANCE, 1e-6);
  for (const [name, example] of SMALL) {
    const { reports } = runPipeline(example.build({ batch: 1, seed: 3 }), { verify: true });
    for (const report of reports) {
      assert.ok(report.totalRelError! <= DEFAULT_VERIFY_TOLERANCE / 10, `${name} ${report.pass}`);
    }
  }
});

Deno.test("--verify: a fold-batchnorm that drops epsilon fails on every small example", () => {
  for (const [name, example] of SMALL) {
    assert.throws(
      () =>
        runPasses(example.build({ batch: 1, seed: 3 }), PIPELINE_WITHOUT_EPSILON, { verify: true }),
      (error: unknown) =>
        error instanceof RefoldError &&
        /^--verify: pass fold-batchnorm changed output "\w+" by /.test(error.message),
      name,
    );
  }
});

/** A pass that scales the weight "w" by 1 + 6e-7: each run is under the tolerance. */
const drift: Pass = {
  name: "drift",
  summary: "moves y = x * w by 6e-7 of its value",
  run: (graph: Graph) =>
    rebuild(
      graph,
      (node) =>
        node.op === "weight"
          ? makeWeight(node.attrs.name, node.type.shape, node.data!.map((v) => v * (1 + 6e-7)))
          : undefined,
    ),
};

Deno.test("--verify: errors under the tolerance per pass cannot add up unseen", () => {
  const b = new GraphBuilder("drifting");
  const w = b.weight("w", [4], Float32Array.of(1, -2, 3, -4));
  b.output("y", b.mul(b.input("x", [2, 4]), w));
  const graph = b.build();
  const { reports } = runPasses(graph, [drift], { verify: true });
  assert.ok(reports[0].maxRelError! > 4e-7 && reports[0].maxRelError! < 8e-7);
  assert.throws(
    () => runPasses(graph, [drift, drift, drift], { verify: true }),
    (error: unknown) =>
      error instanceof RefoldError &&
      /^--verify: pass drift left the passes before it having moved output "y" by .*relative 1\.\d+e-6\), above the tolerance 1\.00e-6 \(4x the model.s float32 noise floor 1\.\d+e-7, or 1e-6 at least\)$/
        .test(error.message),
  );
});
