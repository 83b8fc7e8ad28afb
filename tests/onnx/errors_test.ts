/**
 * Bad ONNX input: every problem is one RefoldError line naming the file (and
 * the node, op type and opset where there is one), never a crash.
 */
import assert from "node:assert/strict";
import { importOnnx, loadOnnx } from "../../formats/onnx/mod.ts";
import { DataType } from "../../formats/onnx/proto.ts";
import { RefoldError, seededRandom } from "../../ir/mod.ts";
import { join } from "../_path.ts";
import { FIXTURES, floats, int64s, type NodeSpec, onnxModel } from "./_helpers.ts";

/** Runs `action` and returns the RefoldError message, failing on success or on other errors. */
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

const one = (op: string, inputs: string[], attrs?: NodeSpec["attrs"]): NodeSpec => ({
  op,
  inputs,
  outputs: ["y"],
  attrs,
});

function relu(options: { opset?: number; shape?: (number | string)[] } = {}) {
  return onnxModel({
    opset: options.opset,
    inputs: [["x", options.shape ?? [1, 4]]],
    outputs: ["y"],
    nodes: [one("Relu", ["x"])],
  });
}

Deno.test("truncated files are one-line errors naming the file", () => {
  const bytes = Deno.readFileSync(FIXTURES + "repmlp_block.default_op17.onnx");
  for (let cut = 1; cut < 8; cut++) {
    const message = refoldError(() =>
      importOnnx(bytes.subarray(0, Math.floor(bytes.length * cut / 8)), { file: "cut.onnx" })
    );
    assert.match(message, /^cut\.onnx: /);
  }
  assert.equal(
    refoldError(() => importOnnx(bytes.subarray(0, 1000), { file: "cut.onnx" })),
    "cut.onnx: not a valid ONNX protobuf (index out of range; truncated or corrupt file?)",
  );
});

Deno.test("garbage bytes and random corruption never crash", () => {
  const random = seededRandom(7);
  for (const length of [0, 1, 10, 100, 5000]) {
    const bytes = Uint8Array.from({ length }, () => Math.floor(random() * 256));
    assert.match(refoldError(() => importOnnx(bytes, { file: "junk.onnx" })), /^junk\.onnx: /);
  }
  assert.equal(
    refoldError(() => importOnnx(new TextEncoder().encode("hello"), { file: "hello.onnx" })),
    "hello.onnx: not a valid ONNX protobuf (invalid wire type 4 at offset 3; truncated or corrupt file?)",
  );
  // Flipped bytes in a real model: either it still imports or it is a RefoldError.
  const model = Deno.readFileSync(FIXTURES + "repmlpnet.nofold_op13.onnx");
  let failures = 0;
  for (let trial = 0; trial < 150; trial++) {
    const bytes = model.slice();
    for (let flips = 0; flips < 3; flips++) {
      bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    }
    try {
      importOnnx(bytes, { file: "flipped.onnx" });
    } catch (error) {
      if (!(error instanceof RefoldError)) throw error;
      assert.ok(!error.message.includes("\n"));
      assert.ok(!error.message.includes("internal error"), error.message);
      failures++;
    }
  }
  assert.ok(failures > 0);
});

Deno.test("opsets outside 11 to 18 are refused", () => {
  for (const opset of [9, 10, 19]) {
    assert.equal(
      refoldError(() => importOnnx(relu({ opset }), { file: "old.onnx" })),
      `old.onnx: opset ${opset} is not supported (refold reads opsets 11 to 18)`,
    );
  }
  for (const opset of [11, 18]) importOnnx(relu({ opset }), { file: "ok.onnx" });
});

Deno.test("an unsupported op names the node, the op type and the opset", () => {
  const bytes = onnxModel({
    inputs: [["x", [1, 4]]],
    outputs: ["y"],
    nodes: [one("Relu", ["x"]), { op: "Softmax", inputs: ["y0"], outputs: ["y"], name: "head" }],
  });
  const fixed = onnxModel({
    inputs: [["x", [1, 4]]],
    outputs: ["y"],
    nodes: [
      { op: "Relu", inputs: ["x"], outputs: ["h"] },
      { op: "Softmax", inputs: ["h"], outputs: ["y"], name: "head" },
    ],
  });
  assert.match(refoldError(() => importOnnx(bytes, { file: "m.onnx" })), /^m\.onnx: node #1/);
  assert.equal(
    refoldError(() => importOnnx(fixed, { file: "m.onnx" })),
    'm.onnx: node #1 "head" (Softmax, opset 17): unsupported op "Softmax" (docs/onnx.md lists the ops refold maps)',
  );
  const custom = onnxModel({
    inputs: [["x", [1, 4]]],
    outputs: ["y"],
    nodes: [{ op: "FusedGemm", domain: "com.microsoft", inputs: ["x"], outputs: ["y"], name: "" }],
  });
  assert.equal(
    refoldError(() => importOnnx(custom, { file: "m.onnx" })),
    "m.onnx: node #0 (FusedGemm, opset 17): op com.microsoft.FusedGemm is not supported (only the default ONNX domain)",
  );
});

Deno.test("dynamic shapes: only the batch may be symbolic", () => {
  assert.equal(
    refoldError(() => importOnnx(relu({ shape: [1, 3, "height", 4] }), { file: "d.onnx" })),
    'd.onnx: input "x" has a symbolic dimension 2 ("height"); refold needs static shapes except the batch',
  );
  const graph = importOnnx(relu({ shape: ["N", 4] }), { file: "d.onnx", batch: 3 });
  assert.deepEqual(graph.inputs[0].type.shape, [3, 4]);
  assert.deepEqual(importOnnx(relu({ shape: ["N", 4] }), { file: "d.onnx" }).inputs[0].type.shape, [
    1,
    4,
  ]);
  const computed = onnxModel({
    inputs: [["x", [2, 6]], ["s", [2]]],
    outputs: ["y"],
    nodes: [{ op: "Reshape", inputs: ["x", "s"], outputs: ["y"], name: "r" }],
  });
  assert.equal(
    refoldError(() => importOnnx(computed, { file: "d.onnx" })),
    'd.onnx: node #0 "r" (Reshape, opset 17): its shape is computed from tensor values at run time; refold needs it constant (given static input shapes)',
  );
  assert.match(
    refoldError(() => importOnnx(relu(), { file: "d.onnx", batch: 0 })),
    /batch must be a positive integer/,
  );
});

Deno.test("external data: missing file, short file, escaping path", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const model = (location: string, length?: number) =>
      onnxModel({
        inputs: [["x", [1, 4]]],
        outputs: ["y"],
        initializers: [{
          name: "w",
          dims: [4],
          data_type: DataType.FLOAT,
          data_location: 1,
          external_data: [
            { key: "location", value: location },
            { key: "offset", value: "4" },
            ...(length === undefined ? [] : [{ key: "length", value: String(length) }]),
          ],
        }],
        nodes: [one("Add", ["x", "w"])],
      });
    const file = join(dir, "m.onnx");
    assert.equal(
      refoldError(() => importOnnx(model("weights.bin"), { file })),
      `${file}: initializer "w": external data file "weights.bin" not found in ${dir}`,
    );
    Deno.writeFileSync(join(dir, "weights.bin"), new Uint8Array(12));
    assert.equal(
      refoldError(() => importOnnx(model("weights.bin"), { file })),
      `${file}: initializer "w": external data file "weights.bin" has 12 bytes, the tensor needs 16 at offset 4`,
    );
    assert.match(
      refoldError(() => importOnnx(model("weights.bin", 8), { file })),
      /external data length 8 does not match its 16-byte shape/,
    );
    assert.match(
      refoldError(() => importOnnx(model("../weights.bin"), { file })),
      /external data location "..\/weights.bin" leaves the model's directory/,
    );
    const data = new Float32Array([0, 1, 2, 3, 4]);
    Deno.writeFileSync(join(dir, "weights.bin"), new Uint8Array(data.buffer));
    const graph = importOnnx(model("weights.bin", 16), { file });
    const weight = graph.outputs[0].node.inputs[1];
    assert.deepEqual([...weight.data!], [1, 2, 3, 4]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("malformed graphs and unsupported uses name the node", () => {
  const cases: [Parameters<typeof onnxModel>[0], string][] = [
    [
      {
        inputs: [["x", [1, 2, 3, 3]]],
        outputs: ["y"],
        initializers: ["s", "b", "m", "v"].map((n) => floats(n, [2], [1, 1])),
        nodes: [{
          op: "BatchNormalization",
          inputs: ["x", "s", "b", "m", "v"],
          outputs: ["y", "rm", "rv"],
          name: "bn",
        }],
      },
      'node #0 "bn" (BatchNormalization, opset 17): training-mode BatchNormalization; export with model.eval() and training=torch.onnx.TrainingMode.PRESERVE or EVAL',
    ],
    [
      { inputs: [["x", [1, 4]]], outputs: ["y"], nodes: [one("Add", ["x", "nowhere"])] },
      'node #0 "add_0" (Add, opset 17): input "nowhere" is not produced by an earlier node or initializer',
    ],
    [
      {
        inputs: [["x", [1, 2, 8]]],
        outputs: ["y"],
        initializers: [floats("w", [2, 2, 3], new Array(12).fill(1))],
        nodes: [one("Conv", ["x", "w"])],
      },
      'node #0 "conv_0" (Conv, opset 17): only 2-D convolution on NCHW tensors is supported; the input is [1,2,8]',
    ],
    [
      {
        inputs: [["x", [1, 1, 4, 4]]],
        outputs: ["y"],
        initializers: [int64s("p", [0, 0, 1, 1, 0, 0, 1, 1])],
        nodes: [
          { op: "Pad", inputs: ["x", "p"], outputs: ["p1"], name: "pad" },
          one("Relu", ["p1"]),
        ],
      },
      'node #1 "relu_1" (Relu, opset 17): its input comes from node #0 "pad" (Pad, opset 17), a non-zero Pad; refold folds zero padding only into a following AveragePool or Conv',
    ],
    [
      {
        inputs: [["a", [2, 3]], ["b", [3, 4]]],
        outputs: ["y"],
        nodes: [one("Gemm", ["a", "b"])],
      },
      'node #0 "gemm_0" (Gemm, opset 17): B is computed at run time; refold maps Gemm only with a constant weight',
    ],
    [
      {
        inputs: [["x", [2, 6]]],
        outputs: ["y"],
        initializers: [int64s("s", [5, -1])],
        nodes: [one("Reshape", ["x", "s"])],
      },
      'node #0 "reshape_0" (Reshape, opset 17): target shape [5,-1] does not hold the input\'s shape [2,6]',
    ],
    [
      {
        inputs: [["x", [2, 6]]],
        outputs: ["y"],
        nodes: [{ op: "Shape", inputs: ["x"], outputs: ["s"] }, one("Add", ["x", "s"])],
      },
      'node #1 "add_1" (Add, opset 17): its input 1 "s" is an int tensor; refold takes integer tensors only in shape computations',
    ],
    [
      { inputs: [["x", [2, 6]]], outputs: ["z"], nodes: [one("Relu", ["x"])] },
      'graph output "z" is never computed',
    ],
  ];
  for (const [spec, expected] of cases) {
    assert.equal(
      refoldError(() => importOnnx(onnxModel(spec), { file: "g.onnx" })),
      `g.onnx: ${expected}`,
    );
  }
  const intInput = onnxModel({ inputs: [["x", [2]]], outputs: ["y"], nodes: [one("Relu", ["x"])] });
  const patched = intInput.slice();
  // The only FLOAT elem_type tags are in the value infos: make the input INT64.
  const at = patched.findIndex((byte, i) => byte === 0x08 && patched[i + 1] === DataType.FLOAT);
  patched[at + 1] = DataType.INT64;
  assert.equal(
    refoldError(() => importOnnx(patched, { file: "i.onnx" })),
    'i.onnx: input "x" has element type INT64; refold takes float32 inputs',
  );
});

Deno.test("a missing file is one line", async () => {
  await assert.rejects(
    () => loadOnnx("/nonexistent/model.onnx"),
    (error: Error) =>
      error instanceof RefoldError && error.message === "/nonexistent/model.onnx: file not found",
  );
});

Deno.test("a node with the wrong number of inputs is an error, not silently truncated", () => {
  const bytes = onnxModel({
    inputs: [["x", [1, 4]]],
    outputs: ["y"],
    nodes: [{ op: "Relu", inputs: ["x", "x", "x"], outputs: ["y"], name: "act" }],
  });
  assert.equal(
    refoldError(() => importOnnx(bytes, { file: "m.onnx" })),
    'm.onnx: node #0 "act" (Relu, opset 17): takes 1 inputs, got 3',
  );
});

Deno.test("every mapped op has an input arity", async () => {
  const { MAPPERS } = await import("../../formats/onnx/import.ts");
  const { INPUT_ARITY } = await import("../../formats/onnx/arity.ts");
  assert.deepEqual(Object.keys(MAPPERS).filter((op) => !(op in INPUT_ARITY)), []);
});
