// Malformed ONNX whose meaning refold used to guess silently: each is now refused with one line
// naming the problem (or, for a batch baked into the model, kept as declared).
import assert from "node:assert/strict";
import { importOnnx } from "../../formats/onnx/mod.ts";
import { decodeModel, encodeModel, type TensorProto } from "../../formats/onnx/proto.ts";
import { RefoldError } from "../../ir/mod.ts";
import { floats, onnxModel } from "./_helpers.ts";

function refusal(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (!(error instanceof RefoldError)) throw error;
    return error.message;
  }
  return assert.fail("expected a RefoldError");
}

/** y = x + w over [1, 2], with the given initializers and extra graph inputs. */
function addModel(initializers: TensorProto[], options: { irVersion?: number; w?: boolean } = {}) {
  const bytes = onnxModel({
    inputs: options.w ? [["x", [1, 2]], ["w", [2]]] : [["x", [1, 2]]],
    outputs: ["y"],
    initializers,
    nodes: [{ op: "Add", inputs: ["x", "w"], outputs: ["y"], name: "add" }],
  });
  if (options.irVersion === undefined) return bytes;
  const model = decodeModel(bytes, "m.onnx");
  return encodeModel({ ...model, ir_version: options.irVersion });
}

Deno.test("ONNX: an initializer declared twice is refused (the last one used to win)", () => {
  const bytes = addModel([floats("w", [2], [1, 2]), floats("w", [2], [3, 4])]);
  assert.equal(
    refusal(() => importOnnx(bytes, { file: "m.onnx" })),
    'm.onnx: initializer "w" is declared twice; ONNX names each value once',
  );
});

Deno.test("ONNX: an input that is also an initializer is an input with a default (IR >= 4)", () => {
  const w = floats("w", [2], [1, 2]);
  assert.equal(
    refusal(() => importOnnx(addModel([w], { w: true, irVersion: 8 }), { file: "m.onnx" })),
    'm.onnx: input "w" is also an initializer, which at IR version 8 makes it an input with a ' +
      "default value, not a constant; re-export without keep_initializers_as_inputs (or drop " +
      "it from the graph inputs) to compile it as a weight",
  );
  // Before IR version 4 every initializer is listed among the inputs: it is a constant.
  const old = importOnnx(addModel([w], { w: true, irVersion: 3 }), { file: "m.onnx" });
  assert.deepEqual(old.inputs.map((input) => input.attrs.name), ["x"]);
  assert.deepEqual([...old.outputs[0].node.inputs[1].data!], [1, 2]);
});

Deno.test("ONNX: a zero-size initializer is refused, not dropped as a neutral element", () => {
  // x [2,1] + w [1,0] broadcasts to an empty [2,0]: the Add used to vanish (y = x).
  const bytes = onnxModel({
    inputs: [["x", [2, 1]]],
    outputs: ["y"],
    initializers: [floats("w", [1, 0], [])],
    nodes: [{ op: "Add", inputs: ["x", "w"], outputs: ["y"], name: "add" }],
  });
  assert.equal(
    refusal(() => importOnnx(bytes, { file: "m.onnx" })),
    'm.onnx: node #0 "add" (Add, opset 17): its input 1 "w" is empty (shape [1,0]); refold ' +
      "does not compute on zero-size tensors",
  );
  assert.match(
    refusal(() => importOnnx(addModel([floats("w", [0], [])]), { file: "m.onnx" })),
    /its input 1 "w" is empty \(shape \[0\]\)/,
  );
});

Deno.test("ONNX: a negative dim_value is refused, not taken as symbolic", () => {
  for (const dims of [[1, -3], [-2, 3]]) {
    const bytes = onnxModel({
      inputs: [["x", dims]],
      outputs: ["y"],
      nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }],
    });
    const axis = dims.findIndex((dim) => dim < 0);
    assert.equal(
      refusal(() => importOnnx(bytes, { file: "m.onnx" })),
      `m.onnx: input "x" has dimension ${axis} = ${dims[axis]}; a dimension is never negative`,
    );
  }
});

// The CLI side (no --batch: the declared batch) is in tests/cli/batch_test.ts.
Deno.test("ONNX: a batch baked into the input stays as declared unless batch is given", () => {
  const bytes = onnxModel({
    inputs: [["x", [2, 3]]],
    outputs: ["y"],
    nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }],
  });
  assert.deepEqual(importOnnx(bytes, { file: "m.onnx" }).inputs[0].type.shape, [2, 3]);
  assert.deepEqual(importOnnx(bytes, { file: "m.onnx", batch: 5 }).inputs[0].type.shape, [5, 3]);
  const symbolic = onnxModel({
    inputs: [["x", ["N", 3]]],
    outputs: ["y"],
    nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }],
  });
  assert.deepEqual(importOnnx(symbolic, { file: "m.onnx" }).inputs[0].type.shape, [1, 3]);
});
