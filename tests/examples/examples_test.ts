/**
 * Every example builds, verifies, prints and parses back identically, counts
 * the parameters of its PyTorch module, and (when small) runs in the
 * reference interpreter to finite outputs of sane magnitude.
 */
import assert from "node:assert/strict";
import { exampleFeeds, EXAMPLES } from "../../examples/mod.ts";
import {
  type Graph,
  interpret,
  parseGraph,
  printGraph,
  summarize,
  topoOrder,
  verifyGraph,
} from "../../ir/mod.ts";
import { snapshotFile } from "../_snapshot.ts";

const snap = snapshotFile(import.meta.url);

function weightsByName(graph: Graph): Map<string, Float32Array> {
  const weights = new Map<string, Float32Array>();
  for (const node of topoOrder(graph)) {
    if (node.op === "weight") weights.set(node.attrs.name, node.data!);
  }
  return weights;
}

for (const [name, example] of Object.entries(EXAMPLES)) {
  Deno.test(`example ${name}: builds, verifies, round-trips, counts parameters`, () => {
    const graph = example.build();
    verifyGraph(graph, name);
    assert.deepEqual(graph.inputs.map((input) => input.attrs.name), ["x"]);
    const isBlock = example.family === "repmlp-block" || example.family === "repmlp-resnet-block";
    assert.deepEqual(graph.outputs.map((output) => output.name), [isBlock ? "y" : "logits"]);
    assert.equal(summarize(graph).parameters, example.trainingParameters());

    const text = printGraph(graph);
    const weights = weightsByName(graph);
    const parsed = parseGraph(text, { weights: (weight) => weights.get(weight) });
    assert.equal(printGraph(parsed), text);
    assert.equal(summarize(parsed).parameters, summarize(graph).parameters);
  });

  if (!example.small) continue;
  Deno.test(`example ${name}: interprets to finite outputs of sane magnitude`, () => {
    const graph = example.build({ batch: 2 });
    const [output] = Object.values(interpret(graph, exampleFeeds(graph)));
    let max = 0;
    for (const value of output) {
      assert.ok(Number.isFinite(value), `${name}: non-finite output`);
      max = Math.max(max, Math.abs(value));
    }
    assert.ok(max > 0.05 && max < 50, `${name}: max |y| = ${max}`);
    // Two inputs of the batch must give different outputs: the example is not a constant.
    const half = output.length / 2;
    let diff = 0;
    for (let i = 0; i < half; i++) diff = Math.max(diff, Math.abs(output[i] - output[half + i]));
    assert.ok(diff > 1e-3 * max, `${name}: output barely depends on the input (${diff})`);
  });
}

Deno.test("batch and seed change what they should", () => {
  const example = EXAMPLES["repmlp-block"];
  const a = example.build({ batch: 3 }), b = example.build({ batch: 3 });
  assert.deepEqual(a.inputs[0].type.shape, [3, 8, 12, 12]);
  assert.deepEqual(a.outputs[0].node.type.shape, [3, 8, 12, 12]);
  const [wa, wb] = [weightsByName(a), weightsByName(b)];
  assert.deepEqual(wa.get("fc3.weight"), wb.get("fc3.weight"));
  const other = weightsByName(example.build({ seed: 7 }));
  assert.notDeepEqual(other.get("fc3.weight"), wa.get("fc3.weight"));
});

Deno.test("the printed v1 block is the official forward, op for op", async () => {
  await snap.match("repmlp-block", printGraph(EXAMPLES["repmlp-block"].build()));
  await snap.match("repmlp-block-no-gp", printGraph(EXAMPLES["repmlp-block-no-gp"].build()));
});

snap.checkOrphans();
