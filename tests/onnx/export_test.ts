/**
 * ONNX export: every IR op is written so that onnxruntime-web computes what
 * the reference interpreter computes; grouped linear layers become one
 * batched MatMul, never a grouped Conv; names and outputs survive.
 */
import assert from "node:assert/strict";
import { exportOnnx, loadOnnx } from "../../formats/onnx/mod.ts";
import { decodeModel, type ModelProto, toInt } from "../../formats/onnx/proto.ts";
import {
  type Graph,
  GraphBuilder,
  interpret,
  makeNode,
  type Node,
  RefoldError,
  sizeOf,
  uniform,
} from "../../ir/mod.ts";
import { assertClose } from "../_assert.ts";
import { FIXTURES, runOrt } from "./_helpers.ts";

/** Exports `graph`, runs it in ONNX Runtime and compares every output with the interpreter. */
async function roundTrip(graph: Graph, options = {}): Promise<ModelProto> {
  const bytes = exportOnnx(graph, options);
  const feeds: Record<string, Float32Array> = {};
  graph.inputs.forEach((input, i) => {
    feeds[input.attrs.name] = uniform(sizeOf(input.type.shape), 50 + i);
  });
  const expected = interpret(graph, feeds);
  const ortFeeds = Object.fromEntries(
    graph.inputs.map((input) => [input.attrs.name, {
      data: feeds[input.attrs.name],
      shape: input.type.shape,
    }]),
  );
  const actual = await runOrt(bytes, ortFeeds);
  for (const { name } of graph.outputs) {
    assertClose(actual[name], expected[name], 1e-6, `${graph.name}: ${name}`);
  }
  return decodeModel(bytes, graph.name);
}

function opCounts(model: ModelProto): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of model.graph!.node!) counts[node.op_type!] = (counts[node.op_type!] ?? 0) + 1;
  return counts;
}

const w = (b: GraphBuilder, name: string, shape: number[], seed: number, low = -1, high = 1) =>
  b.weight(name, shape, uniform(sizeOf(shape), seed, low, high));

Deno.test("grouped linear is one batched MatMul with a [g, K/g, N/g] weight", async () => {
  const b = new GraphBuilder("grouped");
  const x = b.input("x", [6, 32]);
  const x3 = b.input("x3", [2, 3, 32]);
  const weight = w(b, "fc3.weight", [16, 8], 1);
  b.output("y", b.linear(x, weight, w(b, "fc3.bias", [16], 2), { groups: 4 }));
  b.output("y3", b.linear(x3, weight, undefined, { groups: 4 }));
  const model = await roundTrip(b.build());
  assert.deepEqual(opCounts(model), { Reshape: 4, Transpose: 4, MatMul: 2, Add: 1 });
  const initializers = model.graph!.initializer!;
  const grouped = initializers.filter((init) => init.name === "fc3.weight_grouped");
  assert.equal(grouped.length, 1, "the rearranged weight is written once and shared");
  assert.deepEqual(grouped[0].dims!.map(toInt), [4, 8, 4]);
  assert.ok(!initializers.some((init) => init.name === "fc3.weight"), "no unused initializer");
});

Deno.test("linear: Gemm on 2-D inputs, MatMul on others, computed weights", async () => {
  const b = new GraphBuilder("linear");
  const x2 = b.input("x2", [4, 6]);
  const x3 = b.input("x3", [2, 4, 6]);
  const computed = b.input("w", [6, 3]), computedGrouped = b.input("wg", [2, 3]);
  const weight = w(b, "fc.weight", [5, 6], 3), bias = w(b, "fc.bias", [5], 4);
  b.output("gemm", b.linear(x2, weight, bias));
  b.output("matmul", b.linear(x3, weight, bias));
  b.output("computed", b.linear(x2, b.transpose(computed, [1, 0])));
  b.output(
    "computed_grouped",
    b.linear(x2, b.transpose(computedGrouped, [1, 0]), undefined, { groups: 3 }),
  );
  const model = await roundTrip(b.build());
  assert.equal(opCounts(model).Gemm, 2);
});

Deno.test("every other op round-trips through ONNX Runtime", async () => {
  const b = new GraphBuilder("ops");
  const x = b.input("x", [2, 4, 6, 6]);
  const bn = {
    gamma: w(b, "bn.weight", [4], 5, 0.5, 1.5),
    beta: w(b, "bn.bias", [4], 6),
    mean: w(b, "bn.running_mean", [4], 7),
    variance: w(b, "bn.running_var", [4], 8, 0.5, 1.5),
  };
  const conv = b.conv2d(x, w(b, "conv.weight", [4, 2, 3, 3], 9), w(b, "conv.bias", [4], 10), {
    pads: [1, 0, 0, 1],
    stride: 2,
    groups: 2,
  });
  const normed = b.batchnorm(conv, bn, { epsilon: 1e-3 });
  const pooled = b.avgpool(b.relu(normed), 2, { stride: 1, padding: 1, countIncludePad: false });
  const maxed = b.maxpool(b.sigmoid(x), 3, { stride: 2, padding: 1 });
  const g = b.globalAvgpool(b.gelu(maxed));
  const flat = b.flatten(b.sub(b.mul(g, b.div(g, w(b, "two", [], 11, 2, 2.5))), g), 1);
  b.output("pooled", pooled);
  b.output("flat", b.concat([flat, b.reshape(b.transpose(flat, [1, 0]), [2, 4])], 1));
  b.output("erf", b.add(makeNode("erf", [x], {}), x));
  // BatchNorm1d on a 3-D tensor, over its last axis: not BatchNormalization's axis.
  const seq = b.reshape(x, [2, 36, 4]);
  b.output("bn_last", b.batchnorm(seq, bn, { axis: 2 }));
  const model = await roundTrip(b.build());
  const ops = opCounts(model);
  assert.equal(ops.Conv, 1);
  assert.equal(ops.BatchNormalization, 2);
});

Deno.test("outputs: inputs, weights and shared nodes under several names", async () => {
  const b = new GraphBuilder("outputs");
  const x = b.input("x", [3]);
  const y = b.relu(x);
  b.output("same_as_input", x);
  b.output("first", y);
  b.output("second", y);
  b.output("constant", w(b, "x", [3], 12));
  const model = await roundTrip(b.build(), { opset: 13 });
  assert.deepEqual(model.graph!.output!.map((o) => o.name), [
    "same_as_input",
    "first",
    "second",
    "constant",
  ]);
  assert.equal(toInt(model.opset_import![0].version), 13);
  assert.throws(() => exportOnnx(b.build(), { opset: 12 }), RefoldError);
});

Deno.test("training-time fixtures round-trip unchanged", async () => {
  for (const file of ["repmlpnet.preserve_op17.onnx", "repmlp_resnet.preserve_op17.onnx"]) {
    const graph = await loadOnnx(FIXTURES + file);
    const model = await roundTrip(graph);
    const names = new Set(model.graph!.initializer!.map((init) => init.name));
    const weights = new Set<string>();
    const visit = (node: Node) => {
      if (node.op === "weight") weights.add((node.attrs as { name: string }).name);
      node.inputs.forEach(visit);
    };
    graph.outputs.forEach(({ node }) => visit(node));
    for (const name of weights) {
      assert.ok(names.has(name) || names.has(`${name}_T`), `${file}: ${name} lost its name`);
    }
  }
});
