// Adversarial ONNX input to compile.ts (see adversarial_test.ts), and refold's own
// --target onnx output, whose grouped FCs are batched MatMuls, compiled again.
import assert from "node:assert/strict";
import { EXAMPLES } from "../../examples/mod.ts";
import { writeModel } from "../../formats/mod.ts";
import { interpret, sizeOf, uniform } from "../../ir/mod.ts";
import { assertClose } from "../_assert.ts";
import { join } from "../_path.ts";
import { floats, int64s, onnxModel } from "../onnx/_helpers.ts";
import { type Case, compile, runCases } from "./_adversarial.ts";

const relu = (name = "relu") => ({ op: "Relu", inputs: ["x"], outputs: ["y"], name });

const cases: Case[] = [
  // Absurd sizes are refused when the node is built, before anything allocates them.
  {
    what: "ONNX ConstantOfShape of 1e15 elements",
    files: {
      "m.onnx": onnxModel({
        inputs: [["x", [1, 4]]],
        outputs: ["y"],
        initializers: [int64s("s", [100000, 100000, 100000])],
        nodes: [
          { op: "ConstantOfShape", inputs: ["s"], outputs: ["c"], name: "fill" },
          { op: "Add", inputs: ["x", "c"], outputs: ["y"] },
        ],
      }),
    },
    args: ["D/m.onnx"],
    message: 'D/m.onnx: node #0 "fill" (ConstantOfShape, opset 17): shape [100000,100000,100000] ' +
      "has 1000000000000000 elements, more than 2^30",
  },
  {
    what: "ONNX Expand to a negative shape",
    files: {
      "m.onnx": onnxModel({
        inputs: [["x", [1, 4]]],
        outputs: ["y"],
        initializers: [floats("c", [1], [1]), int64s("s", [-3])],
        nodes: [
          { op: "Expand", inputs: ["c", "s"], outputs: ["e"], name: "grow" },
          { op: "Add", inputs: ["x", "e"], outputs: ["y"] },
        ],
      }),
    },
    args: ["D/m.onnx"],
    message: 'D/m.onnx: node #0 "grow" (Expand, opset 17): shape [-3] is not a shape: ' +
      "dimensions must be integers >= 0",
  },
  {
    what: "ONNX input of 1e15 elements",
    files: {
      "m.onnx": onnxModel({ inputs: [["x", [1, 1e5, 1e5, 1e5]]], outputs: ["y"], nodes: [relu()] }),
    },
    args: ["D/m.onnx"],
    message: 'D/m.onnx: input "x" has shape [1,100000,100000,100000], more than 2^30 elements',
  },
  // A negative running variance would fold into NaN weights.
  {
    what: "ONNX BatchNormalization with a negative running variance",
    files: {
      "m.onnx": onnxModel({
        inputs: [["x", [1, 2]]],
        outputs: ["y"],
        initializers: ["g", "b", "m"].map((n) => floats(n, [2], [1, 1])).concat(
          floats("v", [2], [1, -1]),
        ),
        nodes: [{ op: "BatchNormalization", inputs: ["x", "g", "b", "m", "v"], outputs: ["y"] }],
      }),
    },
    args: ["D/m.onnx"],
    message: 'D/m.onnx: node #0 "batchnormalization_0" (BatchNormalization, opset 17): ' +
      'running variance "v" is -1 at index 1; a variance is never negative',
  },
  // ONNX: op types are looked up as own keys, values are defined once, NaN names its node.
  ...["toString", "constructor"].map((op) => ({
    what: `ONNX op type "${op}"`,
    files: {
      "m.onnx": onnxModel({ inputs: [["x", [1, 4]]], outputs: ["y"], nodes: [{ ...relu(), op }] }),
    },
    args: ["D/m.onnx"],
    message: `D/m.onnx: node #0 "relu" (${op}, opset 17): unsupported op "${op}" ` +
      "(docs/onnx.md lists the ops refold maps)",
  })),
  {
    what: "ONNX value defined twice",
    files: {
      "m.onnx": onnxModel({
        inputs: [["x", [1, 4]]],
        outputs: ["y"],
        nodes: [relu("a"), { ...relu("b"), op: "Sigmoid" }],
      }),
    },
    args: ["D/m.onnx"],
    message: 'D/m.onnx: node #1 "b" (Sigmoid, opset 17): output "y" is already defined ' +
      "earlier; ONNX names each value once",
  },
  {
    what: "ONNX input declared twice",
    files: {
      "m.onnx": onnxModel({
        inputs: [["x", [1, 4]], ["x", [1, 4]]],
        outputs: ["y"],
        nodes: [relu()],
      }),
    },
    args: ["D/m.onnx"],
    message: 'D/m.onnx: input "x" is declared twice',
  },
  {
    what: "ONNX NaN weight",
    files: {
      "m.onnx": onnxModel({
        inputs: [["x", [1, 2]]],
        outputs: ["y"],
        initializers: [floats("w", [2, 2], [1, 2, NaN, 4])],
        nodes: [{ op: "MatMul", inputs: ["x", "w"], outputs: ["y"], name: "mm" }],
      }),
    },
    args: ["D/m.onnx"],
    message: 'D/m.onnx: node #0 "mm" (MatMul, opset 17): its B "w" holds NaN at flat index 1',
  },
  {
    what: "ONNX Gemm with alpha NaN",
    files: {
      "m.onnx": onnxModel({
        inputs: [["x", [1, 2]]],
        outputs: ["y"],
        initializers: [floats("w", [2, 2], [1, 2, 3, 4])],
        nodes: [{
          op: "Gemm",
          inputs: ["x", "w"],
          outputs: ["y"],
          name: "fc",
          attrs: { alpha: { f: NaN } },
        }],
      }),
    },
    args: ["D/m.onnx"],
    message: 'D/m.onnx: node #0 "fc" (Gemm, opset 17): alpha NaN and beta 1 must be finite',
  },
  // Names from the model cannot drive the terminal.
  {
    what: "control characters in a node name",
    files: {
      "m.onnx": onnxModel({
        inputs: [["x", [1, 4]]],
        outputs: ["y"],
        nodes: [{ ...relu("a\u001b[2J\rb\u2028c"), op: "Softmax" }],
      }),
    },
    args: ["D/m.onnx"],
    message: 'D/m.onnx: node #0 "a\\u001b[2J\\u000db\\u2028c" (Softmax, opset 17): unsupported ' +
      'op "Softmax" (docs/onnx.md lists the ops refold maps)',
  },
];

runCases(cases);

Deno.test("CLI: refold's own --target onnx output compiles again and matches", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold-adv-" });
  try {
    const training = EXAMPLES["repmlp-block"].build();
    await writeModel(training, join(dir, "model.json"));
    const first = await compile(["model.json", "--target", "onnx", "--out", "onnx"], dir);
    assert.equal(first.code, 0, first.stderr);
    // Its grouped FCs are batched MatMuls with a 3-D constant B.
    const second = await compile(["onnx/model.onnx", "--target", "js", "--out", "js"], dir);
    assert.equal(second.code, 0, second.stderr);
    const { load } = await import(join(dir, "js", "model.js"));
    const model = await load();
    const [input] = model.inputs;
    const x = uniform(sizeOf(input.shape), 5);
    const expected = interpret(training, { [input.name]: x });
    assertClose(await model.run(x), expected[model.outputs[0].name], 3e-7, "re-imported export");
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
