// Bounded resources: a small ONNX file must not make the importer allocate gigabytes or spend
// minutes. Each folded constant is capped (MAX_FOLDED_VALUES unless an input is as large), all
// folding of one import together too (MAX_FOLDED_TOTAL plus twice the initializers), and every
// size is checked before anything is allocated. Each case here used to take seconds to minutes
// and gigabytes (or end in "Invalid array length"); each must now fail fast, naming the node.
import assert from "node:assert/strict";
import { importOnnx, MAX_FOLDED_TOTAL } from "../../formats/onnx/mod.ts";
import { MAX_FOLDED_VALUES, RefoldError } from "../../ir/mod.ts";
import { floats, int64s, type NodeSpec, onnxModel } from "./_helpers.ts";

/** The RefoldError `action` throws, and how long it took. */
function timedRefusal(action: () => unknown): { message: string; ms: number } {
  const start = performance.now();
  try {
    action();
  } catch (error) {
    if (!(error instanceof RefoldError)) throw error;
    return { message: error.message, ms: performance.now() - start };
  }
  return assert.fail("expected a RefoldError");
}

/** y = relu(x), plus `nodes` in a branch no output reads (folding runs on them anyway). */
function withDeadBranch(nodes: NodeSpec[], initializers = [int64s("big", [2 ** 30])]) {
  return onnxModel({
    inputs: [["x", [1, 4]]],
    outputs: ["y"],
    initializers,
    nodes: [...nodes, { op: "Relu", inputs: ["x"], outputs: ["y"] }],
  });
}

const PER_CONSTANT = `refold folds constants of up to ${MAX_FOLDED_VALUES} values unless an ` +
  "input is as large";

Deno.test("folding: ConstantOfShape of 2^30 values in an unused branch is refused at once", () => {
  const { message, ms } = timedRefusal(() =>
    importOnnx(
      withDeadBranch([{ op: "ConstantOfShape", inputs: ["big"], outputs: ["c"], name: "fill" }]),
      { file: "m.onnx" },
    )
  );
  assert.equal(
    message,
    'm.onnx: node #0 "fill" (ConstantOfShape, opset 17): folding it would make a constant of ' +
      `1073741824 values from inputs of at most 0; ${PER_CONSTANT}`,
  );
  assert.ok(ms < 1000, `${ms} ms`);
});

Deno.test("folding: Range to 2^30 is refused before its values are made", () => {
  const bounds = [int64s("start", [0], []), int64s("limit", [2 ** 30], []), int64s("one", [1], [])];
  const { message, ms } = timedRefusal(() =>
    importOnnx(
      withDeadBranch([{
        op: "Range",
        inputs: ["start", "limit", "one"],
        outputs: ["r"],
        name: "count",
      }], bounds),
      { file: "m.onnx" },
    )
  );
  assert.match(
    message,
    /"count" \(Range, opset 17\): folding it would make a constant of 1073741824/,
  );
  assert.ok(ms < 1000, `${ms} ms`);
});

Deno.test("folding: Where, Expand, Gather and binary ops check their result size first", () => {
  const small = floats("v", [1], [1]), flag = int64s("flag", [1], [1]);
  const wide = int64s("wide", new Array(2 ** 15).fill(1), [1, 2 ** 15]);
  const tall = int64s("tall", new Array(2 ** 15).fill(2), [2 ** 15, 1]);
  const cases: [string, NodeSpec, ReturnType<typeof floats>[]][] = [
    ["Expand", { op: "Expand", inputs: ["v", "shape"], outputs: ["o"] }, [
      small,
      int64s("shape", [2 ** 15, 2 ** 15]),
    ]],
    ["Where", { op: "Where", inputs: ["flag", "wide", "tall"], outputs: ["o"] }, [
      flag,
      wide,
      tall,
    ]],
    ["Add", { op: "Add", inputs: ["wide", "tall"], outputs: ["o"] }, [wide, tall]],
    ["Equal", { op: "Equal", inputs: ["wide", "tall"], outputs: ["o"] }, [wide, tall]],
    // 64 copies of a 2^16-value row: 2^22 values from inputs of 2^16.
    ["Gather", { op: "Gather", inputs: ["rows", "indices"], outputs: ["o"] }, [
      int64s("rows", new Array(2 ** 16).fill(3), [2, 2 ** 15]),
      int64s("indices", new Array(64).fill(0)),
    ]],
  ];
  for (const [op, node, initializers] of cases) {
    const { message, ms } = timedRefusal(() =>
      importOnnx(withDeadBranch([{ ...node, name: "n" }], initializers), { file: "m.onnx" })
    );
    assert.match(message, new RegExp(`"n" \\(${op}, opset 17\\): folding it would make`), op);
    assert.ok(ms < 1000, `${op}: ${ms} ms`);
  }
});

Deno.test("folding: many moderate constants together hit the per-model limit", () => {
  // 40 ConstantOfShape of 2^19 values each: every one is allowed, together they are 2^24.3.
  const nodes: NodeSpec[] = Array.from({ length: 40 }, (_, i) => ({
    op: "ConstantOfShape",
    inputs: ["half"],
    outputs: [`c${i}`],
    name: `fill${i}`,
  }));
  const { message } = timedRefusal(() =>
    importOnnx(withDeadBranch(nodes, [int64s("half", [2 ** 19])]), { file: "m.onnx" })
  );
  assert.equal(
    message,
    'm.onnx: node #32 "fill32" (ConstantOfShape, opset 17): constant folding would pass ' +
      `${MAX_FOLDED_TOTAL + 2} values in this model (${MAX_FOLDED_TOTAL} plus twice its ` +
      "initializers); refusing to fold more",
  );
});

Deno.test("folding: weights may be transposed and scaled at any size", () => {
  // A Gemm's B transposed (MatMul layout) and scaled by alpha: as large as the weight itself.
  const k = 1100, n = 1000;
  const graph = importOnnx(
    onnxModel({
      inputs: [["x", [1, k]]],
      outputs: ["y"],
      initializers: [floats("B", [k, n], new Float32Array(k * n).fill(0.5))],
      nodes: [{ op: "Gemm", inputs: ["x", "B"], outputs: ["y"], attrs: { alpha: { f: 2 } } }],
    }),
    { file: "m.onnx" },
  );
  assert.ok(k * n > MAX_FOLDED_VALUES);
  const weight = graph.outputs[0].node.inputs[1];
  assert.deepEqual(weight.type.shape, [n, k]);
  assert.equal(weight.data![0], 1);
});
