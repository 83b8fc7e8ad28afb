/**
 * --input-shape for models exported with symbolic height and width, and the one error
 * that lists every op refold does not map.
 */
import assert from "node:assert/strict";
import { importOnnx } from "../../formats/onnx/mod.ts";
import { interpret, RefoldError, sizeOf, uniform } from "../../ir/mod.ts";
import { assertClose } from "../_assert.ts";
import { join } from "../_path.ts";
import { runCli } from "../cli/_run.ts";
import { floats, onnxModel } from "./_helpers.ts";

function refoldError(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (!(error instanceof RefoldError)) throw error;
    assert.ok(!error.message.includes("\n"), `not one line: ${error.message}`);
    return error.message;
  }
  assert.fail("expected a RefoldError");
}

/** A 3x3 conv over an input of symbolic batch, height and width. */
function symbolicConv(): Uint8Array {
  const weight = Array.from({ length: 2 * 3 * 9 }, (_, i) => Math.sin(i));
  return onnxModel({
    inputs: [["x", ["N", 3, "H", "W"]]],
    outputs: ["y"],
    initializers: [floats("w", [2, 3, 3, 3], weight)],
    nodes: [{
      op: "Conv",
      inputs: ["x", "w"],
      outputs: ["y"],
      attrs: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] },
    }],
  });
}

Deno.test("--input-shape fixes symbolic dimensions; the graph computes at that shape", () => {
  const bytes = symbolicConv();
  assert.match(
    refoldError(() => importOnnx(bytes, { file: "m.onnx" })),
    /input "x" has a symbolic dimension 2 \("H"\)/,
  );
  const graph = importOnnx(bytes, { file: "m.onnx", inputShapes: { x: [2, 3, 7, 5] } });
  assert.deepEqual(graph.inputs[0].type.shape, [2, 3, 7, 5]);
  assert.deepEqual(graph.outputs[0].node.type.shape, [2, 2, 7, 5]);
  // The conv at one pixel, by hand: the kernel centre lands on (1, 1).
  const x = uniform(sizeOf([2, 3, 7, 5]), 3);
  const y = interpret(graph, { x }).y;
  let expected = 0;
  for (let c = 0; c < 3; c++) {
    for (let ky = 0; ky < 3; ky++) {
      for (let kx = 0; kx < 3; kx++) {
        expected += Math.fround(Math.sin((c * 3 + ky) * 3 + kx)) * x[c * 35 + ky * 5 + kx];
      }
    }
  }
  assertClose([y[1 * 5 + 1]], [expected], 1e-12, "y[0,0,1,1]");
});

Deno.test("--input-shape must agree with the model, --batch and the input names", () => {
  const bytes = symbolicConv();
  const error = (inputShapes: Record<string, number[]>, batch?: number) =>
    refoldError(() => importOnnx(bytes, { file: "m.onnx", inputShapes, batch }));
  assert.equal(
    error({ x: [1, 3, 8] }),
    'm.onnx: input "x" has 4 dimensions; --input-shape gives 3 ([1,3,8])',
  );
  assert.equal(
    error({ x: [1, 4, 8, 8] }),
    'm.onnx: input "x" has dimension 1 fixed at 3; --input-shape gives 4',
  );
  assert.equal(
    error({ x: [1, 3, 8, 8] }, 2),
    'm.onnx: input "x" gets batch 2 from --batch but 1 from --input-shape [1,3,8,8]',
  );
  assert.equal(
    error({ x: [1, 3, 8, 8], image: [1, 3, 8, 8] }),
    'm.onnx: --input-shape names "image", which is no input of the model (inputs: "x")',
  );
  assert.equal(
    importOnnx(bytes, { file: "m.onnx", inputShapes: { x: [4, 3, 8, 8] }, batch: 4 })
      .inputs[0].type.shape[0],
    4,
  );
});

Deno.test("every unsupported op is listed in one error", () => {
  const bytes = onnxModel({
    inputs: [["x", [1, 4]]],
    outputs: ["y"],
    nodes: [
      { op: "Softmax", inputs: ["x"], outputs: ["a"], name: "s1" },
      { op: "Relu", inputs: ["a"], outputs: ["b"] },
      { op: "Softmax", inputs: ["b"], outputs: ["c"], name: "" },
      { op: "FusedGemm", domain: "com.microsoft", inputs: ["c"], outputs: ["d"], name: "fg" },
      { op: "Hardmax", inputs: ["d"], outputs: ["y"], name: "h" },
    ],
  });
  assert.equal(
    refoldError(() => importOnnx(bytes, { file: "m.onnx" })),
    'm.onnx: 4 nodes use ops refold does not map: Softmax (nodes #0 "s1", #2), ' +
      'com.microsoft.FusedGemm (node #3 "fg"), Hardmax (node #4 "h") ' +
      "(docs/onnx.md lists the ops refold maps)",
  );
});

Deno.test("compile.ts --input-shape compiles a model with symbolic height and width", async () => {
  const dir = await Deno.makeTempDir({ prefix: "refold-shape-" });
  try {
    await Deno.writeFile(join(dir, "m.onnx"), symbolicConv());
    const out = join(dir, "out");
    const args = [join(dir, "m.onnx"), "--out", out, "--emit-ir"];
    const refused = await runCli(args);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /symbolic dimension 2 \("H"\)/);
    const result = await runCli([...args, "--input-shape", "x=1,3,9,4"]);
    assert.equal(result.code, 0, result.stderr);
    const ir = await Deno.readTextFile(join(out, "model.ir"));
    assert.match(ir, /input "x" : f32\[1,3,9,4\]/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
